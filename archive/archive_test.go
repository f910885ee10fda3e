package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// data returns n deterministic pseudo-random bytes (xorshift), different
// per seed.
func data(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// writeAll writes p in pieces of step bytes (step <= 0: one call).
func writeAll(t testing.TB, write func([]byte) (int, error), p []byte, step int) {
	t.Helper()
	if step <= 0 {
		step = max(len(p), 1)
	}
	for len(p) > 0 {
		n := min(step, len(p))
		if m, err := write(p[:n]); err != nil || m != n {
			t.Fatalf("write: %d, %v", m, err)
		}
		p = p[n:]
	}
}

// record creates, writes and finishes a recording.
func record(t testing.TB, a *Archive, nr NewRecording, orig, mp []byte, f Final) *Recording {
	t.Helper()
	ctx := context.Background()
	w, err := a.Create(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w.WriteOriginal, orig, 7001)
	writeAll(t, w.WriteMap, mp, 4096)
	if f.State == "" {
		f.State = StateComplete
	}
	r, err := w.Finish(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pageThrough calls page with "" and then with each cursor it returns until
// it returns none; more than maxPages pages or an error ends the test.
func pageThrough(t *testing.T, maxPages int, page func(cursor string) (next string, err error)) {
	t.Helper()
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > maxPages {
			t.Fatal("paging does not end")
		}
		next, err := page(cursor)
		if err != nil {
			t.Fatal(err)
		}
		if next == "" {
			return
		}
		cursor = next
	}
}

// checkNotInClear closes a and checks that none of secrets stands in its
// file in the clear.
func checkNotInClear(t *testing.T, a *Archive, secrets ...string) {
	t.Helper()
	path := a.Path()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the file holds %q in the clear", s)
		}
	}
}

func readBlob(t testing.TB, a *Archive, id ID, kind BlobKind) []byte {
	t.Helper()
	b, err := a.OpenBlob(context.Background(), id, kind)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != b.Size() {
		t.Fatalf("read %d bytes, Size %d", len(got), b.Size())
	}
	return got
}

func TestRoundTripSizes(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	sizes := []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 123, 4 * ChunkSize}
	for i, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			orig, mp := data(n, uint64(i)), data(n/10, uint64(i)+100)
			r := record(t, a, NewRecording{FileName: "f.pcap"}, orig, mp, Final{})
			if r.OrigSize != int64(n) || r.MapSize != int64(len(mp)) {
				t.Fatalf("sizes %d %d", r.OrigSize, r.MapSize)
			}
			if r.OrigSHA256 != sha256.Sum256(orig) || r.MapSHA256 != sha256.Sum256(mp) {
				t.Fatal("hash mismatch")
			}
			if got := readBlob(t, a, r.ID, BlobOriginal); !bytes.Equal(got, orig) {
				t.Fatal("original differs")
			}
			if got := readBlob(t, a, r.ID, BlobMap); !bytes.Equal(got, mp) {
				t.Fatal("map differs")
			}
			g, err := a.Get(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if g.OrigSize != r.OrigSize || g.State != StateComplete || g.FileName != "f.pcap" {
				t.Fatalf("Get = %+v", g)
			}
			res, err := a.Verify(ctx, r.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "not sealed") {
				t.Fatalf("unsealed verify: %v", res.Problems)
			}
			if err := a.Seal(ctx, r.ID, nil); err != nil {
				t.Fatal(err)
			}
			res, err = a.Verify(ctx, r.ID, nil)
			if err != nil || !res.Valid {
				t.Fatalf("verify: %v %v", err, res.Problems)
			}
			if want := n/ChunkSize + 1 + len(mp)/ChunkSize + 1; res.Chunks != want {
				t.Fatalf("verified %d chunks, want %d", res.Chunks, want)
			}
		})
	}
}

// TestReadAtBoundaries reads every window around every chunk boundary.
func TestReadAtBoundaries(t *testing.T) {
	a := OpenTest(t)
	orig := data(3*ChunkSize+100, 7)
	r := record(t, a, NewRecording{}, orig, nil, Final{})
	b, err := a.OpenBlob(t.Context(), r.ID, BlobOriginal)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for c := int64(0); c <= 4; c++ {
		for d := int64(-2); d <= 2; d++ {
			offs = append(offs, c*ChunkSize+d)
		}
	}
	offs = append(offs, int64(len(orig))-1, int64(len(orig)), int64(len(orig))+1)
	for _, off := range offs {
		for _, n := range []int{0, 1, 2, 100, ChunkSize, ChunkSize + 1, 2*ChunkSize + 5} {
			p := make([]byte, n)
			got, err := b.ReadAt(p, off)
			if off < 0 {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ReadAt(%d) negative: %v", off, err)
				}
				continue
			}
			want := 0
			if off < int64(len(orig)) {
				want = min(n, len(orig)-int(off))
			}
			if got != want {
				t.Fatalf("ReadAt(len %d, off %d) = %d, want %d", n, off, got, want)
			}
			if want < n && err != io.EOF {
				t.Fatalf("ReadAt(len %d, off %d) short without EOF: %v", n, off, err)
			}
			if want == n && err != nil {
				t.Fatalf("ReadAt(len %d, off %d): %v", n, off, err)
			}
			if got > 0 && !bytes.Equal(p[:got], orig[off:off+int64(got)]) {
				t.Fatalf("ReadAt(len %d, off %d): wrong bytes", n, off)
			}
		}
	}
	// Seek + Read.
	for _, off := range []int64{0, ChunkSize - 1, ChunkSize, 2*ChunkSize + 7} {
		if _, err := b.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(rest, orig[off:]) {
			t.Fatalf("seek %d: %v", off, err)
		}
	}
	if pos, err := b.Seek(-10, io.SeekEnd); err != nil || pos != int64(len(orig))-10 {
		t.Fatalf("SeekEnd: %d %v", pos, err)
	}
	if _, err := b.Seek(-1, io.SeekStart); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative seek: %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	a := OpenTestOptions(t, Options{CommitBytes: 256 << 10})
	ctx := t.Context()
	const n = 16
	var wg sync.WaitGroup
	ids := make([]ID, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			orig := data(i*ChunkSize/3+i*977, uint64(i))
			mp := data(i*100, uint64(i)+1000)
			w, err := a.Create(ctx, NewRecording{FileName: fmt.Sprint(i), CallGUID: "call"})
			if err != nil {
				errs <- err
				return
			}
			for p := orig; len(p) > 0; {
				k := min(len(p), 1000+i*37)
				if _, err := w.WriteOriginal(p[:k]); err != nil {
					errs <- err
					return
				}
				p = p[k:]
				if len(p)%7 == 0 {
					if err := w.Sync(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			if _, err := w.WriteMap(mp); err != nil {
				errs <- err
				return
			}
			r, err := w.Finish(ctx, Final{State: StateComplete, StartTime: time.Unix(int64(1000+i), 0)})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = r.ID
			// Read back concurrently with other writers.
			b, err := a.OpenBlob(ctx, r.ID, BlobOriginal)
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(b)
			if err != nil || !bytes.Equal(got, orig) {
				errs <- fmt.Errorf("writer %d: read back differs: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	recs, err := a.ByCall(ctx, "call")
	if err != nil || len(recs) != n {
		t.Fatalf("ByCall: %d, %v", len(recs), err)
	}
	for i := 1; i < n; i++ {
		if recs[i].StartTime.Before(recs[i-1].StartTime) {
			t.Fatal("ByCall not ordered by start time")
		}
	}
	if s := a.Stats(); s.Commits == 0 || s.Chunks == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWrongKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	key := filepath.Join(dir, "key")
	a, err := Open(path, Options{KeyFile: key, KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	r := record(t, a, NewRecording{User: "u"}, data(1000, 1), nil, Final{})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("second Close:", err)
	}

	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, formatKeyFile(randomKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{KeyFile: other, KDF: FastKDF()}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other key file: %v", err)
	}
	if _, err := Open(path, Options{Passphrase: []byte("x"), KDF: FastKDF()}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("passphrase on key-file archive: %v", err)
	}
	if _, err := Open(path, Options{KeyFile: filepath.Join(dir, "missing"), KDF: FastKDF()}); err == nil || errors.Is(err, ErrWrongKey) {
		t.Fatalf("missing key file on existing archive must not create one: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("key file created for an existing archive")
	}
	a, err = Open(path, Options{KeyFile: key, KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := readBlob(t, a, r.ID, BlobOriginal); !bytes.Equal(got, data(1000, 1)) {
		t.Fatal("reopened read differs")
	}
}

func TestPassphrase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	pass := []byte("correct horse battery staple")
	a, err := Open(path, Options{Passphrase: pass, KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	pub := a.PublicKey()
	r := record(t, a, NewRecording{}, data(10, 1), nil, Final{})
	a.Close()
	if _, err := Open(path, Options{Passphrase: []byte("wrong"), KDF: FastKDF()}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Open(path, Options{KeyFile: filepath.Join(dir, "k"), KDF: FastKDF()}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("key file on passphrase archive: %v", err)
	}
	// The stored KDF parameters win over Options.KDF.
	a, err = Open(path, Options{Passphrase: pass, KDF: KDFParams{Time: 2, MemoryKiB: 128, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !bytes.Equal(a.PublicKey(), pub) {
		t.Fatal("seal key changed")
	}
	if _, err := a.Get(t.Context(), r.ID); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaVersion(t *testing.T) {
	a := OpenTest(t)
	path := a.Path()
	a.Close()
	db := openBolt(t, path)
	if err := db.Update(func(tx kv.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchema, seqKey(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestClosed(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, a, NewRecording{}, data(100, 1), nil, Final{})
	b, err := a.OpenBlob(ctx, r.ID, BlobOriginal)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := w.WriteOriginal(make([]byte, ChunkSize)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := a.Create(ctx, NewRecording{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}
	if _, err := a.Get(ctx, r.ID); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	if _, err := b.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("blob read after close: %v", err)
	}
}

func TestWriterErrors(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	if _, err := a.Get(ctx, NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := a.OpenBlob(ctx, NewID(), BlobMap); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blob missing: %v", err)
	}
	if _, err := a.OpenBlob(ctx, NewID(), 9); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
	if _, err := a.Create(ctx, NewRecording{FileName: strings.Repeat("x", maxNameLen+1)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long name: %v", err)
	}
	w, err := a.Create(ctx, NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, Final{State: StateRecording}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("finish as recording: %v", err)
	}
	if err := a.Seal(ctx, w.ID(), nil); !errors.Is(err, ErrState) {
		t.Fatalf("seal unfinished: %v", err)
	}
	if _, err := w.Finish(ctx, Final{State: StateInterrupted}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("x")); !errors.Is(err, ErrState) {
		t.Fatalf("write after finish: %v", err)
	}
	if _, err := a.Resume(ctx, w.ID()); !errors.Is(err, ErrState) {
		t.Fatalf("resume finished: %v", err)
	}
	if err := a.Seal(ctx, w.ID(), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Seal(ctx, w.ID(), nil); !errors.Is(err, ErrState) {
		t.Fatalf("seal twice: %v", err)
	}
}

// TestGroupCommitRetry: a failing operation in a group does not take the
// others with it.
func TestGroupCommitRetry(t *testing.T) {
	a := OpenTestOptions(t, Options{CommitInterval: time.Hour})
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w.WriteOriginal, data(2*ChunkSize, 3), 0) // queued, not committed (interval 1h)
	bad := make(chan error, 1)
	go func() { bad <- a.Seal(ctx, NewID(), nil) }() // fails inside the group
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-bad; !errors.Is(err, ErrNotFound) {
		t.Fatalf("seal of missing id: %v", err)
	}
	r, err := w.Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, a, r.ID, BlobOriginal); !bytes.Equal(got, data(2*ChunkSize, 3)) {
		t.Fatal("data lost")
	}
}

func TestNoSecretsInStrings(t *testing.T) {
	var buf bytes.Buffer
	a := OpenTestOptions(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "alice", Role: RoleUser}, "s3cret-password"); err != nil {
		t.Fatal(err)
	}
	_, err := a.Authenticate(ctx, netip.IPv6Loopback(), "alice", "wrong-s3cret")
	w, _ := a.Create(ctx, NewRecording{})
	b := record(t, a, NewRecording{}, data(5, 1), nil, Final{})
	blob, _ := a.OpenBlob(ctx, b.ID, BlobOriginal)
	keyFile, _ := os.ReadFile(filepath.Join(filepath.Dir(a.Path()), "archive.key"))
	key, _ := parseKeyFile(keyFile)
	a.log.Info("test", "archive", a)
	s := fmt.Sprintf("%v %+v %#v %v %+v %v %v", a, a, a, w, w, blob, err) + buf.String()
	for _, secret := range [][]byte{[]byte(a.keys.sealPriv), a.keys.index, key, []byte("s3cret")} {
		if bytes.Contains([]byte(s), secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) || strings.Contains(s, fmt.Sprint(secret)) {
			t.Fatalf("secret leaked into %q", s)
		}
	}
}

func TestOptionsRedacted(t *testing.T) {
	o := Options{KeyFile: "/k", Passphrase: []byte("hunter2-passphrase")}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("open", "options", o)
	s := fmt.Sprintf("%v %+v %#v %s", o, o, o, o) + buf.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, fmt.Sprint([]byte("hunter2"))) {
		t.Fatalf("passphrase printed: %s", s)
	}
	if err := (Options{}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatal("no key source accepted")
	}
	if err := (Options{KeyFile: "k", KDF: KDFParams{Time: 1, MemoryKiB: 1 << 30, Threads: 1}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatal("absurd KDF accepted")
	}
}
