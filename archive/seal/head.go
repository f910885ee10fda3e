package seal

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
)

const (
	// HeadSize is the stored chain head: u64 seq ‖ hash ‖ Ed25519
	// signature of HeadMessage.
	HeadSize = 8 + 32 + ed25519.SignatureSize
	// LegacyHeadSize is the unsigned head of schema 3 and before.
	LegacyHeadSize = 8 + 32
	headLabel      = "callvault chain head\x00"
)

// Errors of ParseHead.
var (
	ErrHeadUnsigned = errors.New("chain head record is not signed")
	ErrHeadSig      = errors.New("chain head record's signature does not verify (rewritten without the seal key)")
	ErrHeadFormat   = errors.New("chain head record malformed")
)

// HeadMessage is what the head's signature covers:
// label ‖ format ‖ u64 seq ‖ hash.
func HeadMessage(seq uint64, h [32]byte) []byte {
	b := make([]byte, 0, len(headLabel)+1+8+32)
	b = append(b, headLabel...)
	b = append(b, CurFormat)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, h[:]...)
}

// SignHead returns the stored head record naming entry seq with hash h.
func SignHead(priv ed25519.PrivateKey, seq uint64, h [32]byte) []byte {
	v := make([]byte, 0, HeadSize)
	v = binary.BigEndian.AppendUint64(v, seq)
	v = append(v, h[:]...)
	return append(v, ed25519.Sign(priv, HeadMessage(seq, h))...)
}

// ParseHead reads a stored head record and checks its signature. A legacy
// (unsigned) record is returned with ErrHeadUnsigned.
func ParseHead(pub ed25519.PublicKey, v []byte) (uint64, [32]byte, error) {
	switch len(v) {
	case HeadSize:
		seq, h := binary.BigEndian.Uint64(v), [32]byte(v[8:40])
		if !ed25519.Verify(pub, HeadMessage(seq, h), v[40:]) {
			return seq, h, ErrHeadSig
		}
		return seq, h, nil
	case LegacyHeadSize:
		return binary.BigEndian.Uint64(v), [32]byte(v[8:40]), ErrHeadUnsigned
	}
	return 0, [32]byte{}, ErrHeadFormat
}
