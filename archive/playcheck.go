package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/callvault/callvault/archive/kv"
)

// SealStatus says what CheckPlayback found a recording's seal to be.
type SealStatus string

const (
	// SealValid: the recording's chain entry is signed by the appliance
	// key and signs the hashes its metadata holds.
	SealValid SealStatus = "sealed"
	// SealPending: the recording is finished but not sealed yet — sealing
	// is turned off (Settings.Sealing) or has not caught up. Only the
	// archive key can write metadata that says so, so it cannot be
	// forged by removing a chain entry.
	SealPending SealStatus = "unsealed"
	// SealRecording: the recording is still being recorded; it is sealed
	// when it is finished.
	SealRecording SealStatus = "recording"
)

// SealError reports a recording whose seal does not hold at playback:
// its chain entry is missing, malformed, belongs to another recording,
// carries a bad signature, or signs hashes other than the ones stored in
// its metadata. It wraps ErrCorrupt.
type SealError struct {
	ID     ID
	Seq    uint64 // the chain entry the metadata names (0 if unknown)
	Reason string
}

func (e *SealError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("archive: recording %s: seal check failed: %s", e.ID, e.Reason)
	}
	return fmt.Sprintf("archive: recording %s: seal %d check failed: %s", e.ID, e.Seq, e.Reason)
}

func (e *SealError) Unwrap() error { return ErrCorrupt }

// CheckPlayback is the check made before a recording's audio, original
// or download leaves the appliance. In one short read transaction it
// decrypts the recording's metadata (authenticated by its data key),
// reads the chain entry the metadata names, verifies its Ed25519
// signature with the appliance key, and compares the hashes it signs —
// of the original, of the placement map and of the core metadata — with
// the stored ones. It reads no audio: each chunk is authenticated by its
// AEAD as it is read, and the chunk AEAD binds the chunk to the
// recording, so a stored chunk that differs from what was sealed fails
// there. The full recomputation of every hash is Verify.
//
// A finished recording that is not sealed yet is SealPending, one still
// being written SealRecording; both are nil errors (the caller decides
// what to serve). A broken seal is a *SealError (ErrCorrupt); a missing
// recording ErrNotFound; unreadable metadata ErrCorrupt.
func (a *Archive) CheckPlayback(ctx context.Context, id ID) (SealStatus, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var (
		status SealStatus
		check  error
	)
	err := a.view(func(tx kv.Tx) error {
		m, dk, err := a.loadTx(tx, id)
		if err != nil {
			return err
		}
		clear(dk)
		switch {
		case m.State == StateRecording:
			status = SealRecording
			return nil
		case m.SealSeq == 0:
			status = SealPending
			return nil
		}
		status, check = SealValid, a.checkSealTx(tx, id, m)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("archive: check playback %s: %w", id, err)
	}
	if check != nil {
		return "", check
	}
	return status, nil
}

// checkSealTx checks the chain entry m.SealSeq of recording id against m.
func (a *Archive) checkSealTx(tx kv.Tx, id ID, m *metaRecord) error {
	fail := func(reason string) error { return &SealError{ID: id, Seq: m.SealSeq, Reason: reason} }
	raw := tx.Bucket(bucketChain).Get(seqKey(m.SealSeq))
	if raw == nil {
		return fail("its chain entry is missing")
	}
	e, err := parseEntry(raw)
	switch {
	case err != nil || e.typ != entrySeal:
		return fail("its chain entry is malformed")
	case e.seq != m.SealSeq || e.id != id:
		return fail("its chain entry belongs to another recording")
	case !ed25519.Verify(a.keys.sealPub, e.message(), e.sig):
		return fail("the signature does not verify with the appliance key")
	case !bytes.Equal(e.orig[:], m.OrigSHA256):
		return fail("the sealed hash of the original differs from the stored one")
	case !bytes.Equal(e.mp[:], m.MapSHA256):
		return fail("the sealed hash of the placement map differs from the stored one")
	case e.meta != m.recording(id, nil).MetaSHA256():
		return fail("the sealed metadata hash differs from the stored metadata")
	}
	return nil
}
