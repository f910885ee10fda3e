package archive

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/callvault/callvault/archive/seal"
)

// ChunkSize is the plaintext size of every chunk of a blob except the last
// (which holds 0..ChunkSize-1 bytes) of a recording created now; its
// metadata records it. Two to four stored chunks (each an 8-byte key, the
// 17 bytes of chunkOverhead and a 16-byte leaf element, after bbolt's
// 16-byte page header) then fill 16 pages of 4 KiB apiece, where 64 KiB
// chunks took 33 pages for two (FORMAT.md, "Blobs"); in the chunk file a
// stored chunk fills 16 blocks of 4 KiB but for 47 bytes.
const ChunkSize = 64<<10 - 64

// legacyChunkSize is the chunk size of recordings whose metadata records
// none (created before it did).
const legacyChunkSize = 64 << 10

// createChunkSize is the chunk size Create gives new recordings; tests set
// it to make recordings of the legacy size.
var createChunkSize = ChunkSize

// minChunkSize is the smallest chunk size metadata may record.
const minChunkSize = 4 << 10

// Format versions of the sealed values (chunks, boxes, chain entries).
// minFormat is the oldest this build reads (raise only with a migration and
// a fixture); curFormat is what it writes. Numbers are never reused.
const (
	minFormat = seal.MinFormat
	curFormat = seal.CurFormat
)

const (
	keyLen        = 32
	gcmNonceLen   = 12
	gcmTagLen     = 16
	chunkOverhead = 1 + gcmTagLen // version byte + tag
	chunkBufCap   = legacyChunkSize + chunkOverhead
	boxOverhead   = 1 + gcmNonceLen + gcmTagLen
)

// HKDF-SHA256 info labels (salt empty, 32-byte output). Subkeys of the
// master key, then subkeys of a recording's data key.
const (
	infoWrap     = "callvault archive v1 data-key wrap"
	infoState    = "callvault archive v1 state"
	infoIndex    = "callvault archive v1 index"
	infoSeal     = "callvault archive v1 seal key"
	infoBlobOrig = "callvault archive v1 blob orig"
	infoBlobMap  = "callvault archive v1 blob map"
	infoMeta     = "callvault archive v1 meta"
)

// Associated-data labels. Each is followed by the format byte and the
// context the value is bound to (see FORMAT.md).
const (
	aadChunk     = "callvault chunk\x00"
	aadMaster    = "callvault master-key\x00"
	aadDataKey   = "callvault data-key\x00"
	aadSealKey   = "callvault seal-key\x00"
	aadMeta      = "callvault meta\x00"
	aadUser      = "callvault user\x00"
	aadNote      = "callvault note\x00"
	aadChunkNote = "callvault chunk-note\x00"
)

const chunkAADLen = len(aadChunk) + 1 + 16 + 1 + 8 + 1

var errAuth = errors.New("authentication failed")

// subkey derives a 32-byte key with HKDF-SHA256 (empty salt).
func subkey(secret []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, info, keyLen)
	if err != nil { // only for absurd output lengths
		panic("archive: hkdf: " + err.Error())
	}
	return k
}

// newAEAD returns AES-256-GCM for a 32-byte key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keyLen {
		return nil, fmt.Errorf("archive: key length %d: %w", len(key), ErrInvalid)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("archive: aes: %w", err)
	}
	return cipher.NewGCM(b)
}

func subAEAD(secret []byte, info string) (cipher.AEAD, error) {
	k := subkey(secret, info)
	defer clear(k)
	return newAEAD(k)
}

func randomKey() []byte {
	k := make([]byte, keyLen)
	_, _ = rand.Read(k)
	return k
}

// boxAAD is label ‖ format ‖ context.
func boxAAD(label string, context ...[]byte) []byte {
	b := make([]byte, 0, len(label)+1+64)
	b = append(b, label...)
	b = append(b, curFormat)
	for _, c := range context {
		b = append(b, c...)
	}
	return b
}

// boxSeal returns 0x01 ‖ random nonce ‖ AES-GCM(plain, aad).
func boxSeal(aead cipher.AEAD, aad, plain []byte) []byte {
	out := make([]byte, 1+gcmNonceLen, boxOverhead+len(plain))
	out[0] = curFormat
	_, _ = rand.Read(out[1:])
	return aead.Seal(out, out[1:1+gcmNonceLen], plain, aad)
}

// boxSealNonce is boxSeal with a given nonce, for test vectors only.
func boxSealNonce(aead cipher.AEAD, aad, plain, nonce []byte) []byte {
	out := append([]byte{curFormat}, nonce...)
	return aead.Seal(out, nonce, plain, aad)
}

// boxOpen authenticates and decrypts a box into a new slice.
func boxOpen(aead cipher.AEAD, aad, box []byte) ([]byte, error) {
	if len(box) < boxOverhead {
		return nil, errors.New("box too short")
	}
	if box[0] < minFormat || box[0] > curFormat {
		return nil, fmt.Errorf("box format %d unknown", box[0])
	}
	p, err := aead.Open(nil, box[1:1+gcmNonceLen], box[1+gcmNonceLen:], aad)
	if err != nil {
		return nil, errAuth
	}
	return p, nil
}

// keyedHash is HMAC-SHA256(key, label ‖ 0 ‖ data).
func keyedHash(key []byte, label string, data string) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(data))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// chunkCipher seals and opens the chunks of one blob. It keeps its nonce
// and associated data in place so that sealing allocates nothing; it is not
// safe for concurrent use.
type chunkCipher struct {
	aead  cipher.AEAD
	nonce [gcmNonceLen]byte
	aad   [chunkAADLen]byte
}

func newChunkCipher(dataKey []byte, id ID, kind BlobKind) (*chunkCipher, error) {
	var info string
	switch kind {
	case BlobOriginal:
		info = infoBlobOrig
	case BlobMap:
		info = infoBlobMap
	default:
		return nil, fmt.Errorf("archive: blob kind %d: %w", kind, ErrInvalid)
	}
	aead, err := subAEAD(dataKey, info)
	if err != nil {
		return nil, err
	}
	c := &chunkCipher{aead: aead}
	n := copy(c.aad[:], aadChunk)
	c.aad[n] = curFormat
	copy(c.aad[n+1:], id[:])
	c.aad[n+17] = byte(kind)
	return c, nil
}

// set writes the chunk index and last flag into the nonce (11-byte
// big-endian counter ‖ flag, STREAM construction) and into the AAD.
func (c *chunkCipher) set(index uint64, last bool) {
	var flag byte
	if last {
		flag = 1
	}
	binary.BigEndian.PutUint64(c.nonce[3:11], index)
	c.nonce[11] = flag
	binary.BigEndian.PutUint64(c.aad[chunkAADLen-9:chunkAADLen-1], index)
	c.aad[chunkAADLen-1] = flag
}

// seal encrypts buf[1:1+n] in place and returns the stored value
// buf[:1+n+16] (version byte ‖ ciphertext ‖ tag). cap(buf) must be at least
// n+chunkOverhead.
func (c *chunkCipher) seal(buf []byte, n int, index uint64, last bool) []byte {
	c.set(index, last)
	buf = buf[:1+n]
	buf[0] = curFormat
	out := c.aead.Seal(buf[1:1], c.nonce[:], buf[1:], c.aad[:])
	return buf[:1+len(out)]
}

// open authenticates and decrypts a stored chunk value in place and
// returns the plaintext (a subslice of val).
func (c *chunkCipher) open(val []byte, index uint64, last bool) ([]byte, error) {
	if len(val) < chunkOverhead || len(val) > chunkBufCap {
		return nil, fmt.Errorf("stored length %d out of range", len(val))
	}
	if val[0] < minFormat || val[0] > curFormat {
		return nil, fmt.Errorf("chunk format %d unknown", val[0])
	}
	c.set(index, last)
	p, err := c.aead.Open(val[1:1], c.nonce[:], val[1:], c.aad[:])
	if err != nil {
		return nil, errAuth
	}
	return p, nil
}
