package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCompact: a file with deleted recordings shrinks; what is left opens
// with the same key, reads back and verifies; a file in use is refused.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, key := filepath.Join(dir, "archive.db"), filepath.Join(dir, "archive.key")
	var mu sync.Mutex
	var commits, ops int
	opt := Options{KeyFile: key, KDF: FastKDF(), CommitInterval: 5 * time.Millisecond, InitialMmapSize: 64 << 20,
		OnCommit: func(n int, _ int64, d time.Duration) {
			mu.Lock()
			commits++
			ops += n
			mu.Unlock()
		}}
	a, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	var keep []*Recording
	for i := range 12 {
		orig := data(300_000, uint64(i))
		r := record(t, a, NewRecording{FileName: "f.pcap", Received: time.Unix(int64(1000+i), 0)}, orig, data(100, 99), Final{})
		if err := a.Seal(ctx, r.ID, nil); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			keep = append(keep, r)
		} else if err := a.Delete(ctx, r.ID, "test", "compaction"); err != nil {
			t.Fatal(err)
		}
	}
	u, err := a.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Recordings != len(keep) || u.Unsealed != 0 || u.Unfinished != 0 || u.FileSize == 0 || u.FreePages == 0 {
		t.Fatalf("usage %+v", u)
	}
	if err := a.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if commits == 0 || ops < commits {
		t.Fatalf("OnCommit saw %d commits, %d ops", commits, ops)
	}
	mu.Unlock()

	// In use: refused, file untouched.
	if _, err := Compact(path, 200*time.Millisecond); !errors.Is(err, ErrInUse) {
		t.Fatalf("compact while open: %v, want ErrInUse", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := Compact(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.After >= res.Before || res.After == 0 {
		t.Fatalf("compact %d → %d bytes", res.Before, res.After)
	}
	a, err = Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	for i, r := range keep {
		got := readBlob(t, a, r.ID, BlobOriginal)
		if !bytes.Equal(got, data(300_000, uint64(i*4))) {
			t.Fatalf("recording %d differs after compaction", i)
		}
		v, err := a.Verify(ctx, r.ID, nil)
		if err != nil || !v.Valid {
			t.Fatalf("verify after compaction: %+v %v", v, err)
		}
	}
	if v, err := a.VerifyChain(ctx); err != nil || !v.Valid {
		t.Fatalf("chain after compaction: %+v %v", v, err)
	}
	if _, err := Compact(filepath.Join(dir, "missing.db"), time.Second); err == nil {
		t.Fatal("compact of a missing file succeeded")
	}
}

// TestByOriginal: the index finds a recording by its original's hash and
// forgets it on Delete.
func TestByOriginal(t *testing.T) {
	ctx := context.Background()
	a := OpenTest(t)
	orig := data(70_000, 7)
	sum := sha256.Sum256(orig)
	if ids, err := a.ByOriginal(ctx, sum); err != nil || len(ids) != 0 {
		t.Fatalf("before: %v %v", ids, err)
	}
	r := record(t, a, NewRecording{FileName: "x.pcap", Received: time.Now()}, orig, nil, Final{})
	record(t, a, NewRecording{FileName: "y.pcap", Received: time.Now()}, data(10, 8), nil, Final{})
	ids, err := a.ByOriginal(ctx, sum)
	if err != nil || len(ids) != 1 || ids[0] != r.ID {
		t.Fatalf("after: %v %v, want [%s]", ids, err, r.ID)
	}
	if err := a.Delete(ctx, r.ID, "test", ""); err != nil {
		t.Fatal(err)
	}
	if ids, err := a.ByOriginal(ctx, sum); err != nil || len(ids) != 0 {
		t.Fatalf("after delete: %v %v", ids, err)
	}
}
