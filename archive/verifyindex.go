package archive

import (
	"bytes"
	"context"
	"fmt"

	"github.com/callvault/callvault/archive/kv"
)

// The indexes (time, call, original, who and search, the unfinished,
// unsealed, legal-hold and recycle-bin lists) carry no signature: they are
// recomputed from each recording's metadata, which the seal covers, and
// compared both ways. A recording missing from the time index vanishes
// from every list although it is still stored; an entry naming no
// recording is a leftover or an insertion.

// indexFacts is what the reverse walk needs of one recording.
type indexFacts struct {
	tk, rk, bin                       [timeKeyLen]byte
	binned, recording, unsealed, hold bool
	exportsDue                        bool
	call, orig                        []byte
}

type indexCheck struct {
	res        *VerifyResult
	recs       map[ID]*indexFacts
	unreadable map[ID]bool
	who        bool // the who index is complete (metaWhoIndex)
	search     bool // and holds the search entries (metaSearchIndex)
	shown      map[string]int
}

// maxIndexProblems bounds the problems reported per index and kind.
const maxIndexProblems = 20

func newIndexCheck(res *VerifyResult) *indexCheck {
	return &indexCheck{res: res, recs: map[ID]*indexFacts{}, unreadable: map[ID]bool{}, shown: map[string]int{}}
}

func (ix *indexCheck) ready(tx kv.Tx) { ix.who, ix.search = whoReady(tx), searchReady(tx) }

// problem reports at most maxIndexProblems problems per kind, then counts.
func (ix *indexCheck) problem(kind, format string, args ...any) {
	ix.shown[kind]++
	if ix.shown[kind] <= maxIndexProblems {
		ix.res.problem(format, args...)
	}
}

func (ix *indexCheck) finish() {
	for kind, n := range ix.shown {
		if n > maxIndexProblems {
			ix.res.problem("%s: %d more problems of this kind not shown", kind, n-maxIndexProblems)
		}
	}
}

var indexNames = map[string]string{
	string(bucketByTime):      "time index",
	string(bucketByCall):      "call index",
	string(bucketByOrig):      "original index",
	string(bucketByWho):       "who and search index",
	string(bucketUnfinished):  "unfinished list",
	string(bucketWhoPending):  "who index queue",
	string(bucketUnsealed):    "unsealed list",
	string(bucketExportsDue):  "export-hashes-due list",
	string(bucketProtected):   "legal-hold list",
	string(bucketBin):         "recycle bin",
	string(bucketByRetention): "retention index",
	string(bucketDataKeys):    "data-key table",
	string(bucketChunkIndex):  "chunk index",
	string(bucketNotes):       "notes",
}

// checkIndexesTx checks that recording id, with metadata m, is in every
// index it belongs to, and records what the reverse walk needs.
func (a *Archive) checkIndexesTx(tx kv.Tx, ix *indexCheck, id ID, m *metaRecord) {
	f := &indexFacts{
		tk:        timeKey(m.indexNS(), id),
		rk:        timeKey(m.retentionNS(), id),
		binned:    m.Binned != 0,
		recording: m.State == StateRecording,
		hold:      m.Protected,
	}
	f.unsealed = !f.recording && m.SealSeq == 0
	f.exportsDue = m.ExportsDue
	if f.binned {
		f.bin = timeKey(m.Binned, id)
	}
	if m.CallGUID != "" && !f.binned {
		f.call = a.callKey(m.CallGUID, id)
	}
	if len(m.OrigSHA256) > 0 {
		f.orig = a.origKey(m.OrigSHA256, id)
	}
	ix.recs[id] = f

	want := func(bucket, key []byte, in bool, why string) {
		if (tx.Bucket(bucket).Get(key) != nil) == in {
			return
		}
		name := indexNames[string(bucket)]
		if in {
			ix.problem(name+" missing", "recording %s: missing from the %s%s", id, name, why)
		} else {
			ix.problem(name+" stray", "recording %s: in the %s although its metadata says otherwise", id, name)
		}
	}
	want(bucketUnfinished, id[:], f.recording, "")
	want(bucketUnsealed, id[:], f.unsealed, "")
	want(bucketExportsDue, id[:], f.exportsDue, " (its export hashes would never be sealed)")
	want(bucketProtected, id[:], f.hold, " (its legal hold is not enforced)")
	if f.binned {
		want(bucketBin, f.bin[:], true, " (it is binned)")
		want(bucketByTime, f.tk[:], false, "")
		want(bucketByRetention, f.rk[:], false, "")
	} else {
		want(bucketByTime, f.tk[:], true, " (it does not appear in lists)")
		want(bucketByRetention, f.rk[:], true, " (retention does not reach it)")
	}
	if f.call != nil {
		want(bucketByCall, f.call, true, "")
	}
	if f.orig != nil {
		want(bucketByOrig, f.orig, true, "")
	}
	if !ix.who || f.binned || whoPending(tx, f.tk[:]) {
		return // a pending recording's keys come from the indexer
	}
	cdrs := a.cdrsTx(tx, m)
	keys := a.whoKeys(m, id, cdrs)
	if !ix.search {
		skip := map[string]bool{}
		for _, k := range a.searchKeys(m, id, cdrs) {
			skip[string(k)] = true
		}
		keys = deleteFunc(keys, func(k []byte) bool { return skip[string(k)] })
	}
	b := tx.Bucket(bucketByWho)
	missing := 0
	for _, k := range keys {
		if b.Get(k) == nil {
			missing++
		}
	}
	if missing > 0 {
		ix.problem("who missing", "recording %s: %d of its %d who and search index entries missing (users may not see it)", id, missing, len(keys))
	}
}

func deleteFunc(s [][]byte, del func([]byte) bool) [][]byte {
	out := s[:0]
	for _, k := range s {
		if !del(k) {
			out = append(out, k)
		}
	}
	return out
}

// checkIndexEntries walks every index and checks that each entry names a
// stored recording whose metadata puts it there.
func (a *Archive) checkIndexEntries(ctx context.Context, ix *indexCheck) error {
	type check func(k []byte) (id ID, ok, stale bool)
	idKey := func(flag func(*indexFacts) bool) check {
		return func(k []byte) (ID, bool, bool) {
			if len(k) != len(ID{}) {
				return ID{}, false, false
			}
			id := ID(k)
			f := ix.recs[id]
			return id, true, f != nil && !flag(f)
		}
	}
	suffix := func(n int, stale func(f *indexFacts, k []byte) bool) check {
		return func(k []byte) (ID, bool, bool) {
			if len(k) != n {
				return ID{}, false, false
			}
			id := ID(k[n-16:])
			f := ix.recs[id]
			return id, true, f != nil && stale(f, k)
		}
	}
	prefix := func(n int) check {
		return func(k []byte) (ID, bool, bool) {
			if len(k) != n {
				return ID{}, false, false
			}
			return ID(k[:16]), true, false
		}
	}
	checks := []struct {
		bucket []byte
		fn     check
	}{
		{bucketByTime, suffix(timeKeyLen, func(f *indexFacts, k []byte) bool { return f.binned || !bytes.Equal(f.tk[:], k) })},
		{bucketByRetention, suffix(timeKeyLen, func(f *indexFacts, k []byte) bool { return f.binned || !bytes.Equal(f.rk[:], k) })},
		{bucketBin, suffix(timeKeyLen, func(f *indexFacts, k []byte) bool { return !f.binned || !bytes.Equal(f.bin[:], k) })},
		{bucketByCall, suffix(callKeyLen, func(f *indexFacts, k []byte) bool { return !bytes.Equal(f.call, k) })},
		{bucketByOrig, suffix(callKeyLen, func(f *indexFacts, k []byte) bool { return !bytes.Equal(f.orig, k) })},
		{bucketByWho, suffix(whoKeyLen, func(f *indexFacts, k []byte) bool {
			return f.binned || !bytes.Equal(f.tk[:], k[whoHashLen:])
		})},
		{bucketWhoPending, suffix(timeKeyLen, func(f *indexFacts, k []byte) bool { return f.binned || !bytes.Equal(f.tk[:], k) })},
		{bucketUnfinished, idKey(func(f *indexFacts) bool { return f.recording })},
		{bucketUnsealed, idKey(func(f *indexFacts) bool { return f.unsealed })},
		{bucketExportsDue, idKey(func(f *indexFacts) bool { return f.exportsDue })},
		{bucketProtected, idKey(func(f *indexFacts) bool { return f.hold })},
		{bucketDataKeys, idKey(func(*indexFacts) bool { return true })},
		{bucketChunkIndex, prefix(chunkKeyLen)},
		{bucketNotes, prefix(16 + 8)},
	}
	for _, c := range checks {
		name := indexNames[string(c.bucket)]
		var after []byte
		var lastGone ID
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := 0
			err := a.view(func(tx kv.Tx) error {
				after, n = ascBatch(tx, c.bucket, after, 4096, func(k, _ []byte) bool {
					id, ok, stale := c.fn(k)
					switch {
					case !ok:
						ix.problem(name+" malformed", "%s: entry under a key of %d bytes", name, len(k))
					case ix.unreadable[id]:
					case ix.recs[id] == nil:
						if id != lastGone { // chunks and notes come in runs
							ix.problem(name+" dangling", "%s: entry for recording %s, which is not stored", name, id)
							lastGone = id
						}
					case stale:
						ix.problem(name+" stale", "%s: entry for recording %s that its metadata does not give (a stale or inserted entry)", name, id)
					}
					return true
				})
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if n < 4096 {
				break
			}
		}
	}
	ix.finish()
	return nil
}
