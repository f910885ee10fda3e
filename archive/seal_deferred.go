package archive

import (
	"bytes"
	"context"
	"fmt"

	"github.com/callvault/callvault/archive/kv"
)

// Deferred seals: an upload is answered once its original, map and
// metadata are committed and sealed (SealDeferred, one chain entry); the
// export hashes, which take rendering every call's WAV, follow in a
// second chain entry (SealExports) written after the answer. Between the
// two the recording is listed in bucketExportsDue, in the same
// transaction as its seal, so a restart finds what is left to do
// (ExportsDue). See "Deferred export hashes" in FORMAT.md.

// SealDeferred seals a finished recording's original, map and metadata
// and records that its export hashes are due (ExportsDue); SealExports
// appends them. Errors and the sealing setting as for Seal.
func (a *Archive) SealDeferred(ctx context.Context, id ID) error {
	return a.seal(ctx, id, nil, true)
}

// SealExports appends the exports entry of a recording sealed by
// SealDeferred: the sha256 of each canonical WAV export, signed, naming
// the seal. A recording whose exports are not due (sealed with its
// exports, written already, or not sealed) is ErrState.
func (a *Archive) SealExports(ctx context.Context, id ID, exports [][32]byte) error {
	if len(exports) > maxExports {
		return fmt.Errorf("archive: seal exports %s: %d exports, at most %d: %w", id, len(exports), maxExports, ErrInvalid)
	}
	exports = append([][32]byte(nil), exports...)
	err := a.update(ctx, func(tx kv.Tx) error {
		m, dk, err := a.loadTx(tx, id)
		if err != nil {
			return err
		}
		defer clear(dk)
		if m.SealSeq == 0 || !m.ExportsDue || m.ExportsSeq != 0 {
			return fmt.Errorf("archive: exports of %s are not due: %w", id, ErrState)
		}
		e := &chainEntry{typ: entryExports, time: nsOf(a.now()), id: id, sealSeq: m.SealSeq, exports: exports}
		if err := a.appendEntry(tx, e); err != nil {
			return err
		}
		m.ExportsDue, m.ExportsSeq = false, e.seq
		if err := a.putMetaTx(tx, id, dk, m); err != nil {
			return err
		}
		return tx.Bucket(bucketExportsDue).Delete(id[:])
	})
	if err != nil {
		return fmt.Errorf("archive: seal exports %s: %w", id, err)
	}
	return nil
}

// ExportsDue returns the recordings sealed by SealDeferred whose exports
// entry is not written yet, in ID order.
func (a *Archive) ExportsDue(ctx context.Context) ([]ID, error) {
	return a.idsIn(ctx, bucketExportsDue)
}

// attachExportsTx attaches to s, the seal of the recording with metadata
// m, its exports entry when s is deferred and the entry is written. An
// entry that is missing or does not parse is left off (Verify reports
// it).
func (a *Archive) attachExportsTx(tx kv.Tx, s *Seal, m *metaRecord) {
	if !s.Deferred || m.ExportsSeq == 0 {
		return
	}
	if e, err := parseEntry(tx.Bucket(bucketChain).Get(seqKey(m.ExportsSeq))); err == nil && e.typ == entryExports {
		s.Attach(e.entry().ExportSeal())
	}
}

// laterEntries are the chain entries Verify reads for a deferred seal's
// exports entry: the entry and its two neighbours.
type laterEntries struct{ raw, prev, next []byte }

func readLaterTx(tx kv.Tx, m *metaRecord) laterEntries {
	if m.ExportsSeq == 0 {
		return laterEntries{}
	}
	c := tx.Bucket(bucketChain)
	return laterEntries{
		raw:  bytes.Clone(c.Get(seqKey(m.ExportsSeq))),
		prev: bytes.Clone(c.Get(seqKey(m.ExportsSeq - 1))),
		next: bytes.Clone(c.Get(seqKey(m.ExportsSeq + 1))),
	}
}

// verifyLater checks the exports entry of the deferred seal s (recording
// metadata m) and attaches it to s. It reports whether the export hashes
// are there to compare: false when they are pending (res.ExportsPending)
// or the entry failed a check (a problem).
func (a *Archive) verifyLater(res *VerifyResult, s *Seal, m *metaRecord, l laterEntries) bool {
	seq := m.ExportsSeq
	switch {
	case seq == 0 && m.ExportsDue:
		res.ExportsPending = true
		return false
	case seq == 0:
		res.problem("seal %d: its export hashes follow in an exports entry, but none is recorded or due", s.Seq)
		return false
	case l.raw == nil:
		res.problem("exports entry %d: chain entry missing", seq)
		return false
	}
	e, err := parseEntry(l.raw)
	if err != nil || e.typ != entryExports {
		res.problem("exports entry %d: malformed chain entry", seq)
		return false
	}
	n := len(res.Problems)
	if e.seq != seq {
		res.problem("exports entry %d: stored as entry %d", seq, e.seq)
	}
	if p, err := parseEntry(l.prev); err != nil || p.seq != seq-1 || p.hash() != e.prev {
		res.problem("exports entry %d: does not link to chain entry %d", seq, seq-1)
	}
	if l.next != nil {
		if nx, err := parseEntry(l.next); err != nil || nx.seq != seq+1 || nx.prev != e.hash() {
			res.problem("exports entry %d: chain entry %d does not link to it", seq, seq+1)
		}
	}
	s.Attach(e.entry().ExportSeal())
	if err := s.VerifyLater(a.keys.sealPub); err != nil {
		res.problem("%v", err)
	}
	return len(res.Problems) == n
}

// laterCheck is what VerifyChain tracks of deferred seals and their
// exports entries.
type laterCheck struct {
	deferred  map[uint64]bool   // seal seq → the seal is deferred
	exportsOf map[uint64]uint64 // seal seq → its exports entry
	entryOf   map[uint64]uint64 // exports entry → the seal it names
}

func newLaterCheck() *laterCheck {
	return &laterCheck{deferred: map[uint64]bool{}, exportsOf: map[uint64]uint64{}, entryOf: map[uint64]uint64{}}
}

func (l *laterCheck) seal(e *chainEntry) {
	if e.deferred {
		l.deferred[e.seq] = true
	}
}

// exports checks an exports entry against the seals walked before it
// (sealIDs: seal seq → recording).
func (l *laterCheck) exports(res *VerifyResult, e *chainEntry, sealIDs map[uint64]ID) {
	switch {
	case sealIDs[e.sealSeq] != e.id:
		res.problem("chain entry %d: exports entry names seal %d, which does not seal recording %s", e.seq, e.sealSeq, e.id)
	case !l.deferred[e.sealSeq]:
		res.problem("chain entry %d: exports entry for seal %d, which holds its exports itself", e.seq, e.sealSeq)
	case l.exportsOf[e.sealSeq] != 0:
		res.problem("chain entry %d: seal %d already has exports entry %d", e.seq, e.sealSeq, l.exportsOf[e.sealSeq])
	default:
		l.exportsOf[e.sealSeq] = e.seq
	}
	l.entryOf[e.seq] = e.sealSeq
}

// recording checks a sealed recording's metadata m against the exports
// entries: a deferred seal has its entry where m says, or is due.
func (l *laterCheck) recording(res *VerifyResult, id ID, m *metaRecord) {
	if m == nil || m.SealSeq == 0 {
		return
	}
	x := l.exportsOf[m.SealSeq]
	switch {
	case !l.deferred[m.SealSeq]:
		if m.ExportsDue || m.ExportsSeq != 0 {
			res.problem("recording %s: metadata names an exports entry, but its seal %d holds its exports", id, m.SealSeq)
		}
	case m.ExportsSeq != x:
		res.problem("recording %s: metadata names exports entry %d, the chain has %d for seal %d", id, m.ExportsSeq, x, m.SealSeq)
	case x == 0 && !m.ExportsDue:
		res.problem("recording %s: seal %d has no exports entry and none is due", id, m.SealSeq)
	case x != 0 && m.ExportsDue:
		res.problem("recording %s: exports entry %d written, but still listed as due", id, x)
	}
}

// salvageExports sets the export-hash state of the metadata m of a
// salvaged recording: resealed (reseal set), a deferred seal's exports
// are due again; an exports entry beyond the kept chain (kept entries) is
// lost, so they are due again. It reports whether m changed.
func salvageExports(m *metaRecord, reseal *chainEntry, kept uint64) bool {
	switch {
	case reseal != nil:
		m.ExportsSeq, m.ExportsDue = 0, reseal.deferred
		return true
	case m.ExportsSeq > kept:
		m.ExportsSeq, m.ExportsDue = 0, true
		return true
	}
	return false
}
