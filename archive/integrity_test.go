package archive

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// eraseRecording removes every trace of recording id from the file, as an
// attacker with bbolt and no key would: its metadata, data-key entry, chunk
// index entries and values, and every index entry naming it.
func eraseRecording(tx kv.Tx, id ID) error {
	for _, b := range [][]byte{bucketRecs, bucketDataKeys, bucketUnfinished, bucketUnsealed, bucketProtected} {
		if err := tx.Bucket(b).Delete(id[:]); err != nil {
			return err
		}
	}
	var seqs [][]byte
	c := tx.Bucket(bucketChunkIndex).Cursor()
	for k, v := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, v = c.Next() {
		seqs = append(seqs, bytes.Clone(v))
	}
	for _, s := range seqs {
		if err := tx.Bucket(bucketChunks).Delete(s); err != nil {
			return err
		}
	}
	if err := deletePrefix(tx.Bucket(bucketChunkIndex), id[:]); err != nil {
		return err
	}
	return deleteIndexSuffix(tx, id)
}

// lastEntryHash returns the hash of chain entry seq, which anyone can
// compute from the file.
func lastEntryHash(t *testing.T, tx kv.Tx, seq uint64) [32]byte {
	t.Helper()
	e, err := parseEntry(tx.Bucket(bucketChain).Get(seqKey(seq)))
	if err != nil {
		t.Fatal(err)
	}
	return e.hash()
}

// TestTamperCutNewest deletes the newest recording together with its seal
// entry with bbolt on the closed file and no key, and rewrites the chain
// head to name the entry before it in each way open to such an attacker.
func TestTamperCutNewest(t *testing.T) {
	cases := []struct {
		name string
		head func(t *testing.T, tx kv.Tx, old []byte) []byte
		want string
	}{
		{"unsigned head", func(t *testing.T, tx kv.Tx, _ []byte) []byte {
			h := lastEntryHash(t, tx, 6)
			return append(seqKey(6), h[:]...)
		}, "chain head record is not signed"},
		{"old signature", func(t *testing.T, tx kv.Tx, old []byte) []byte {
			h := lastEntryHash(t, tx, 6)
			return append(append(seqKey(6), h[:]...), old[40:]...)
		}, "signature does not verify"},
		{"head kept", func(_ *testing.T, _ kv.Tx, old []byte) []byte { return old },
			"chain head record names entry 7, but the chain ends at entry 6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, recs := chainFixture(t)
			newest := recs[5].ID
			a = withBolt(t, a, func(tx kv.Tx) error {
				if err := eraseRecording(tx, newest); err != nil {
					return err
				}
				if err := tx.Bucket(bucketChain).Delete(seqKey(7)); err != nil {
					return err
				}
				meta := tx.Bucket(bucketMeta)
				return meta.Put(metaChainHead, c.head(t, tx, bytes.Clone(meta.Get(metaChainHead))))
			})
			res, err := a.VerifyChain(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid || !hasProblem(res, c.want) {
				t.Fatalf("valid %v, problems %q, want %q", res.Valid, res.Problems, c.want)
			}
			// Open did not sign the rewritten head, and the chain
			// refuses to grow on it.
			r := record(t, a, NewRecording{}, data(100, 1), nil, Final{})
			if err := a.Seal(t.Context(), r.ID, nil); err == nil {
				t.Fatal("sealed on a rewritten chain head")
			}
		})
	}
}

// TestChainHeadMigration opens a file whose head is unsigned, as schema 3
// wrote it: Open signs it once and records that in the audit log. The same
// unsigned head in a schema 4 file is a rewrite and stays unsigned.
func TestChainHeadMigration(t *testing.T) {
	legacy := func(schema uint64) func(tx kv.Tx) error {
		return func(tx kv.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if err := meta.Put(metaSchema, binary.BigEndian.AppendUint64(nil, schema)); err != nil {
				return err
			}
			return meta.Put(metaChainHead, bytes.Clone(meta.Get(metaChainHead)[:legacyHeadSize]))
		}
	}
	t.Run("schema 3", func(t *testing.T) {
		a, _ := chainFixture(t)
		a = withBolt(t, a, legacy(3))
		if res, err := a.VerifyChain(t.Context()); err != nil || !res.Valid {
			t.Fatalf("after migration: %v %q", err, res.Problems)
		}
		var head []byte
		_ = a.view(func(tx kv.Tx) error { head = bytes.Clone(tx.Bucket(bucketMeta).Get(metaChainHead)); return nil })
		if len(head) != chainHeadSize || a.storedSchema() != schemaVersion {
			t.Fatalf("head of %d bytes, schema %d", len(head), a.storedSchema())
		}
		ev, _, err := a.AuditLog(t.Context(), AuditQuery{})
		if err != nil || len(ev) != 1 || ev[0].Action != "chain.head.sign" || !strings.Contains(ev[0].Detail, "entry 7") {
			t.Fatalf("audit: %v %+v", err, ev)
		}
		// Sealing goes on from the signed head.
		r := record(t, a, NewRecording{}, data(100, 1), nil, Final{})
		if err := a.Seal(t.Context(), r.ID, nil); err != nil {
			t.Fatal(err)
		}
		if res, err := a.VerifyChain(t.Context()); err != nil || !res.Valid {
			t.Fatalf("after sealing: %v %q", err, res.Problems)
		}
	})
	t.Run("schema 3, head behind", func(t *testing.T) {
		a, _ := chainFixture(t)
		a = withBolt(t, a, func(tx kv.Tx) error {
			if err := legacy(3)(tx); err != nil {
				return err
			}
			h := lastEntryHash(t, tx, 6)
			return tx.Bucket(bucketMeta).Put(metaChainHead, append(seqKey(6), h[:]...))
		})
		res, err := a.VerifyChain(t.Context())
		if err != nil || res.Valid || !hasProblem(res, "not signed") || !hasProblem(res, "names entry 6, but the chain ends at entry 7") {
			t.Fatalf("%v %q", err, res.Problems)
		}
	})
	t.Run("schema 4", func(t *testing.T) {
		a, _ := chainFixture(t)
		a = withBolt(t, a, legacy(schemaVersion))
		res, err := a.VerifyChain(t.Context())
		if err != nil || res.Valid || !hasProblem(res, "chain head record is not signed") {
			t.Fatalf("%v %q", err, res.Problems)
		}
	})
}

// indexFixture holds recordings in every state an index depends on:
// sealed, unsealed, protected, binned, still recording.
func indexFixture(t *testing.T) (*Archive, map[string]ID) {
	t.Helper()
	a := OpenTest(t)
	ctx := t.Context()
	ids := map[string]ID{}
	for i, name := range []string{"sealed", "protected", "binned", "unsealed"} {
		r := record(t, a, NewRecording{CallGUID: "call-" + name, FileName: name + ".pcap", User: "alice"}, data(70000+i, uint64(i)), data(100, 3), Final{})
		ids[name] = r.ID
		if name != "unsealed" {
			if err := a.Seal(ctx, r.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.SetProtected(ctx, ids["protected"], true); err != nil {
		t.Fatal(err)
	}
	if err := a.Bin(ctx, ids["binned"], "admin"); err != nil {
		t.Fatal(err)
	}
	w, err := a.Create(ctx, NewRecording{FileName: "live.pcap", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteOriginal(data(10, 9)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ids["recording"] = w.ID()
	return a, ids
}

// keysOf returns the keys of bucket that end with (or start with) id.
func keysOf(tx kv.Tx, bucket []byte, id ID) [][]byte {
	var out [][]byte
	_ = tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
		if bytes.HasSuffix(k, id[:]) || bytes.HasPrefix(k, id[:]) {
			out = append(out, bytes.Clone(k))
		}
		return nil
	})
	return out
}

// TestTamperIndexes edits one index entry at a time with bbolt on the
// closed file and checks that VerifyChain names the damage.
func TestTamperIndexes(t *testing.T) {
	del := func(bucket []byte, name string) func(kv.Tx, map[string]ID) error {
		return func(tx kv.Tx, ids map[string]ID) error {
			ks := keysOf(tx, bucket, ids[name])
			if len(ks) == 0 {
				return fmt.Errorf("no %s entry for %s: the fixture lacks what the case needs", bucket, name)
			}
			return tx.Bucket(bucket).Delete(ks[0])
		}
	}
	put := func(bucket []byte, key func(map[string]ID) []byte) func(kv.Tx, map[string]ID) error {
		return func(tx kv.Tx, ids map[string]ID) error { return tx.Bucket(bucket).Put(key(ids), []byte{}) }
	}
	ghost := ID{0xde, 0xad}
	cases := []struct {
		name   string
		tamper func(kv.Tx, map[string]ID) error
		want   string
	}{
		{"time index key deleted", del(bucketByTime, "sealed"), "missing from the time index (it does not appear in lists)"},
		{"call index key deleted", del(bucketByCall, "sealed"), "missing from the call index"},
		{"original index key deleted", del(bucketByOrig, "unsealed"), "missing from the original index"},
		{"who key deleted", func(tx kv.Tx, ids map[string]ID) error {
			var tk [timeKeyLen]byte
			copy(tk[:], keysOf(tx, bucketByTime, ids["sealed"])[0])
			var victim []byte
			_ = tx.Bucket(bucketByWho).ForEach(func(k, _ []byte) error {
				if victim == nil && bytes.HasSuffix(k, tk[:]) {
					victim = bytes.Clone(k)
				}
				return nil
			})
			return tx.Bucket(bucketByWho).Delete(victim)
		}, "who and search index entries missing"},
		{"legal hold dropped", del(bucketProtected, "protected"), "missing from the legal-hold list"},
		{"recycle bin entry dropped", del(bucketBin, "binned"), "missing from the recycle bin"},
		{"unfinished entry dropped", del(bucketUnfinished, "recording"), "missing from the unfinished list"},
		{"unsealed entry dropped", del(bucketUnsealed, "unsealed"), "missing from the unsealed list"},
		{"sealed marked unsealed", put(bucketUnsealed, func(ids map[string]ID) []byte { id := ids["sealed"]; return id[:] }),
			"in the unsealed list although its metadata says otherwise"},
		{"binned put back in the time index", put(bucketByTime, func(ids map[string]ID) []byte {
			k := timeKey(1, ids["binned"])
			return k[:]
		}), "time index: entry for recording " + "%binned%" + " that its metadata does not give"},
		{"time index entry for no recording", put(bucketByTime, func(map[string]ID) []byte { k := timeKey(5, ghost); return k[:] }),
			"time index: entry for recording " + ghost.String() + ", which is not stored"},
		{"who entry for no recording", put(bucketByWho, func(map[string]ID) []byte {
			k := timeKey(5, ghost)
			return append(make([]byte, whoHashLen), k[:]...)
		}), "who and search index: entry for recording " + ghost.String() + ", which is not stored"},
		{"chunk for no recording", put(bucketChunkIndex, func(map[string]ID) []byte { k := chunkKey(ghost, BlobOriginal, 0); return k[:] }),
			"chunk index: entry for recording " + ghost.String() + ", which is not stored"},
		{"retention index key deleted", del(bucketByRetention, "sealed"), "missing from the retention index (retention does not reach it)"},
		{"retention index entry with an older time", put(bucketByRetention, func(ids map[string]ID) []byte {
			k := timeKey(1, ids["sealed"])
			return k[:]
		}), "retention index: entry for recording " + "%sealed%" + " that its metadata does not give"},
		{"malformed key", put(bucketProtected, func(map[string]ID) []byte { return []byte("x") }), "legal-hold list: entry under a key of 1 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ids := indexFixture(t)
			if res, err := a.VerifyChain(t.Context()); err != nil || !res.Valid {
				t.Fatalf("fixture: %v %q", err, res.Problems)
			}
			a = withBolt(t, a, func(tx kv.Tx) error { return c.tamper(tx, ids) })
			res, err := a.VerifyChain(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := strings.NewReplacer("%binned%", ids["binned"].String(), "%sealed%", ids["sealed"].String()).Replace(c.want)
			if res.Valid || !hasProblem(res, want) {
				t.Fatalf("valid %v, problems %q, want %q", res.Valid, res.Problems, want)
			}
		})
	}
}

// TestExpireForgedRetentionEntry: an entry inserted into the retention
// index with an old time, by someone holding the file but no key, makes
// Expire delete nothing: it checks each entry against the recording's
// metadata first. VerifyChain reports the entry.
func TestExpireForgedRetentionEntry(t *testing.T) {
	a, ids := indexFixture(t)
	ctx := t.Context()
	s, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.RetentionDays = 30
	if err := a.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	a = withBolt(t, a, func(tx kv.Tx) error {
		k := timeKey(time.Date(2002, 7, 26, 0, 0, 0, 0, time.UTC).UnixNano(), ids["sealed"])
		return tx.Bucket(bucketByRetention).Put(k[:], []byte{})
	})
	res, err := a.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed() != 0 {
		t.Fatalf("expire removed %d recordings on a forged index entry: %+v", res.Removed(), res)
	}
	if _, err := a.Get(ctx, ids["sealed"]); err != nil {
		t.Fatalf("the recording named by the forged entry: %v", err)
	}
	v, err := a.VerifyChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Valid || !hasProblem(v, "retention index: entry for recording "+ids["sealed"].String()) {
		t.Fatalf("valid %v, problems %q", v.Valid, v.Problems)
	}
}

// BenchmarkIntegrity100k is the cost of the checks this file tests on an
// archive of 100k synthetic recordings: the page walk Open does before
// bbolt's own, and VerifyChain with its index check.
func BenchmarkIntegrity100k(b *testing.B) {
	a := OpenTestOptions(b, Options{InitialMmapSize: 1 << 30})
	bulkRecordings(b, a, 100_000)
	ctx := b.Context()
	b.Run("VerifyChain", func(b *testing.B) {
		for b.Loop() {
			// The synthetic recordings lack some index entries (and
			// VerifyChain says so); the cost is the same.
			if _, err := a.VerifyChain(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("preflight", func(b *testing.B) {
		path := a.Path()
		a.Close()
		for b.Loop() {
			if err := preflight(path, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestTamperOldSignedHead replays an earlier signed head, as bbolt's free
// pages may still hold one: the newest recording, its seal entry and the
// head are put back to how they were one seal earlier. Only the chain
// witness in the data-key file tells.
func TestTamperOldSignedHead(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	var recs []*Recording
	var oldHead []byte
	for i := range 4 {
		if i == 3 {
			_ = a.view(func(tx kv.Tx) error { oldHead = bytes.Clone(tx.Bucket(bucketMeta).Get(metaChainHead)); return nil })
		}
		recs = append(recs, sealed(t, a, data(1000, uint64(i)), nil))
	}
	a = withBolt(t, a, func(tx kv.Tx) error {
		if err := eraseRecording(tx, recs[3].ID); err != nil {
			return err
		}
		if err := tx.Bucket(bucketChain).Delete(seqKey(4)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaChainHead, oldHead)
	})
	res, err := a.VerifyChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid || !hasProblem(res, "witnessed chain entry 4, but the chain ends at entry 3") || len(res.Problems) != 1 {
		t.Fatalf("problems %q", res.Problems)
	}
}

// TestTamperWitnessRemoved zeroes the witness in the data-key file: Open
// does not write a new one over a chain with entries, and VerifyChain
// reports it missing.
func TestTamperWitnessRemoved(t *testing.T) {
	skipOnPostgres(t, "tests the chain witness of the data-key file, which only bbolt keeps")
	a, _ := chainFixture(t)
	path := a.Path()
	a.Close()
	f, err := os.OpenFile(SlotFile(path), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, witnessLen), witnessOff); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b := reopen(t, a)
	res, err := b.VerifyChain(t.Context())
	if err != nil || res.Valid || !hasProblem(res, "holds no chain witness") {
		t.Fatalf("%v %q", err, res.Problems)
	}
}

// TestWitnessFollowsHead: the witness names the head after each seal and
// after a reopen, and a backup's data-key file witnesses the backup's own
// head.
func TestWitnessFollowsHead(t *testing.T) {
	skipOnPostgres(t, "tests the chain witness of the data-key file, which only bbolt keeps")
	a := OpenTest(t)
	ctx := t.Context()
	for i := range 3 {
		sealed(t, a, data(100, uint64(i)), nil)
		if w, _, err := a.slots.readWitness(); err != nil || w != uint64(i+1) {
			t.Fatalf("after seal %d: witness %d, %v", i+1, w, err)
		}
	}
	var buf bytes.Buffer
	if _, err := a.WriteBackup(&buf); err != nil {
		t.Fatal(err)
	}
	sealed(t, a, data(100, 9), nil) // the live head moves past the backup's
	restored := filepath.Join(t.TempDir(), "restored.db")
	if _, err := ExtractBackup(&buf, restored); err != nil {
		t.Fatal(err)
	}
	b, err := Open(restored, Options{KeyFile: filepath.Join(filepath.Dir(a.Path()), "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if res, err := b.VerifyChain(ctx); err != nil || !res.Valid || res.HeadSeq != 3 {
		t.Fatalf("restored: %v %+v", err, res)
	}
	if res, err := a.VerifyChain(ctx); err != nil || !res.Valid {
		t.Fatalf("live: %v %q", err, res.Problems)
	}
}
