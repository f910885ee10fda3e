package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/pgkv"
	"github.com/callvault/callvault/internal/servertest"
)

// testStoreEnv switches the archive's tests to PostgreSQL + S3: with
// CALLVAULT_TEST_STORE=postgres, OpenTest and OpenTestOptions open each
// archive with OpenStore on pgkv, in a database and an S3 bucket of its
// own on one PostgreSQL cluster and one S3 gateway that the test binary
// starts once.
const testStoreEnv = "CALLVAULT_TEST_STORE"

func testOnPostgres() bool { return os.Getenv(testStoreEnv) == "postgres" }

// skipOnPostgres skips a test that works on the bbolt file itself when
// the tests run on PostgreSQL + S3.
func skipOnPostgres(tb testing.TB, why string) {
	tb.Helper()
	if testOnPostgres() {
		tb.Skipf("%s=postgres: the test %s", testStoreEnv, why)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.stop()
	os.Exit(code)
}

// sharedServers are the servers every test of the binary shares, started
// by the first test that needs them and stopped by TestMain.
type sharedServers struct {
	once sync.Once
	tb   processTB
	pg   *servertest.Postgres
	s3   *servertest.S3
	skip string // why the servers did not start, for every later test
	fail bool   // a failure (CI=true, or a server that did not start)
}

var shared sharedServers

// processTB is the testing.TB the shared servers are started with: its
// cleanups run when the test binary ends, not when the first test does.
// Its Fatal and Skip stop the start (a panic that start recovers from);
// the test that asked then fails or skips with the message.
type processTB struct {
	testing.TB // nil: only the methods below are called
	mu         sync.Mutex
	cleanups   []func()
}

type stopStart struct {
	msg  string
	skip bool
}

func (p *processTB) Helper() {}
func (p *processTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}
func (p *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "archivetest-")
	if err != nil {
		panic(stopStart{msg: err.Error()})
	}
	p.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
func (p *processTB) Logf(format string, args ...any) {}
func (p *processTB) Fatal(args ...any)               { panic(stopStart{msg: fmt.Sprint(args...)}) }
func (p *processTB) Fatalf(format string, args ...any) {
	panic(stopStart{msg: fmt.Sprintf(format, args...)})
}
func (p *processTB) Skipf(format string, args ...any) {
	panic(stopStart{msg: fmt.Sprintf(format, args...), skip: true})
}

func (s *sharedServers) start(tb testing.TB) {
	tb.Helper()
	s.once.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				st, ok := r.(stopStart)
				if !ok {
					panic(r)
				}
				s.skip, s.fail = st.msg, !st.skip
			}
		}()
		s.pg = servertest.StartPostgres(&s.tb)
		s.s3 = servertest.StartS3(&s.tb)
	})
	switch {
	case s.fail:
		tb.Fatalf("PostgreSQL + S3: %s", s.skip)
	case s.skip != "":
		tb.Skip(s.skip)
	}
}

func (s *sharedServers) stop() {
	s.tb.mu.Lock()
	defer s.tb.mu.Unlock()
	for i := len(s.tb.cleanups) - 1; i >= 0; i-- {
		s.tb.cleanups[i]()
	}
	s.tb.cleanups = nil
}

// pgTarget is a database and an S3 bucket of the shared servers.
type pgTarget struct {
	url string
	s3  pgkv.S3Options
}

// newPostgresTarget creates a new database and a new S3 bucket on the
// shared servers.
func newPostgresTarget(tb testing.TB) pgTarget {
	tb.Helper()
	shared.start(tb)
	url := shared.pg.NewDatabase(tb)
	// The gateway's POSIX backend holds one bucket per directory of its
	// root: a new directory is a new, empty bucket.
	bucket := fmt.Sprintf("b%x", time.Now().UnixNano())
	for i := 0; ; i++ {
		err := os.Mkdir(filepath.Join(shared.s3.Dir, fmt.Sprintf("%s-%d", bucket, i)), 0o700)
		if err == nil {
			bucket = fmt.Sprintf("%s-%d", bucket, i)
			break
		}
		if !errors.Is(err, os.ErrExist) {
			tb.Fatal(err)
		}
	}
	return pgTarget{url: url, s3: pgkv.S3Options{Endpoint: shared.s3.Endpoint, Bucket: bucket, AccessKey: shared.s3.AccessKey, SecretKey: shared.s3.SecretKey}}
}

// open opens a pgkv store on the target with the archive's blob buckets
// in S3. The caller owns the store.
func (p pgTarget) open(tb testing.TB) *pgkv.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s3 := p.s3
	s, err := pgkv.Open(ctx, p.url, pgkv.Options{BlobBuckets: BlobBuckets(), ShredBuckets: ShredBuckets(), S3: &s3, MaxConns: 4})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// openArchive opens the archive on a new store on the target, its local
// files at path.
func (p pgTarget) openArchive(tb testing.TB, path string, opt Options) (*Archive, error) {
	tb.Helper()
	s := p.open(tb)
	a, err := OpenStore(s, path, opt)
	if err != nil {
		s.Close()
	}
	return a, err
}

// openTestArchive opens the archive the tests' helpers open: on bbolt at
// path, or on PostgreSQL + S3 under CALLVAULT_TEST_STORE=postgres (path
// then names only the local files).
func openTestArchive(tb testing.TB, path string, opt Options) (*Archive, error) {
	tb.Helper()
	if !testOnPostgres() {
		return Open(path, opt)
	}
	target := newPostgresTarget(tb)
	testTargets.Store(path, target)
	return target.openArchive(tb, path, opt)
}

// testTargets maps the path of each archive openTestArchive opened on
// PostgreSQL + S3 to its database and bucket.
var testTargets sync.Map // string → pgTarget

// reopenTestArchive opens again an archive that openTestArchive opened
// and the test closed: the bbolt file at path, or the same database and
// bucket.
func reopenTestArchive(tb testing.TB, path string, opt Options) (*Archive, error) {
	tb.Helper()
	t, ok := testTargets.Load(path)
	if !ok {
		return Open(path, opt)
	}
	return t.(pgTarget).openArchive(tb, path, opt)
}

// storeOnPostgres opens a new archive with storeOptions on a new
// database and bucket; dir holds its local files and key at path's side.
func storeOnPostgres(t *testing.T) (dir, path string, target pgTarget, a *Archive) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "archive.db")
	target = newPostgresTarget(t)
	a, err := target.openArchive(t, path, storeOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	return dir, path, target, a
}

// TestOpenStorePostgres runs the round of TestOpenStore on PostgreSQL
// with the chunks in S3, checks that every chunk is an object in S3,
// and opens the archive again on a second store on the same
// database: the records, the chain, the list and the chunks are all there.
func TestOpenStorePostgres(t *testing.T) {
	dir, path, target, a := storeOnPostgres(t)
	kept := storeRound(t, a)
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if u, _ := a.Usage(t.Context()); u.FileSize != 0 || u.PageSize != 0 {
		t.Fatalf("usage of PostgreSQL has file figures: %+v", u)
	}
	if _, err := a.WriteBackup(io.Discard); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("backup of PostgreSQL: %v", err)
	}
	// Every chunk is an object in the gateway's directory of the bucket,
	// once the objects the round released are swept.
	sw, ok := a.store.(sweeper)
	if !ok {
		t.Fatal("the PostgreSQL store does not sweep")
	}
	if _, err := sw.Sweep(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	var chunks int
	err := a.store.View(func(tx kv.Tx) error {
		// The chunks, and the data keys (ShredBuckets).
		chunks = tx.Bucket(bucketChunks).KeyN() + tx.Bucket(bucketDataKeys).KeyN()
		return nil
	})
	var objects int
	walkErr := filepath.WalkDir(filepath.Join(shared.s3.Dir, target.s3.Bucket), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			objects++
		}
		return err
	})
	if err != nil || walkErr != nil || chunks == 0 || objects != chunks {
		t.Fatalf("%d chunks, %d objects in S3: %v %v", chunks, objects, err, walkErr)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// Open again: the same database, a new pool, the same local files.
	b, err := target.openArchive(t, path, storeOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := readBlob(t, b, kept.ID, BlobOriginal); len(got) != 3*ChunkSize/2 {
		t.Fatalf("after reopening, the original reads back %d bytes", len(got))
	}
	if res, err := b.VerifyChain(t.Context()); err != nil || !res.Valid || res.Entries != 4 {
		t.Fatalf("chain after reopening: %v %+v", err, res)
	}
	recs, _, err := b.List(t.Context(), Query{})
	if err != nil || len(recs) != 2 || (recs[0].ID != kept.ID && recs[1].ID != kept.ID) {
		t.Fatalf("list after reopening: %d recordings, %v", len(recs), err)
	}
}

// TestNoPlaintextInPostgres is TestNoPlaintextInFile on PostgreSQL + S3:
// a dump of the database (bytea in hex) and every object in the bucket
// hold neither the personal data written nor the key.
func TestNoPlaintextInPostgres(t *testing.T) {
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Skipf("SKIPPING: no pg_dump: %v", err)
	}
	const marker = "ZEBRA-PLAINTEXT-MARKER-7261"
	dir, _, target, a := storeOnPostgres(t)
	defer a.Close()
	ctx := t.Context()
	rep := []byte(strings.Repeat(marker, 5000))
	info := fmt.Appendf(nil, `{"calls":[{"from":{"name":%q,"number":"%s-123"}}]}`, marker, marker)
	var ids []ID
	for range 2 {
		r := record(t, a, NewRecording{FileName: marker + ".pcap", CallGUID: marker, User: marker + "-user"},
			rep, rep[:1000], Final{State: StateComplete, Info: info, GzipSHA256: []byte(marker)})
		if err := a.Seal(ctx, r.ID, [][32]byte{{1}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if err := a.Delete(ctx, ids[0], marker+"-admin", "because "+marker); err != nil {
		t.Fatal(err)
	}
	u := User{Login: marker + "-login", Name: marker + " Name", Email: marker + "@example.com", Role: RoleUser, Extensions: []string{marker + "-ext"}}
	if err := a.PutUser(ctx, u, marker+"-password"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ByCall(ctx, marker); err != nil || len(got) != 1 {
		t.Fatalf("ByCall: %d %v", len(got), err)
	}
	keyText, err := os.ReadFile(filepath.Join(dir, "archive.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseKeyFile(keyText)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := exec.Command(pgDump, "--no-owner", target.url).Output()
	if err != nil || !bytes.Contains(dump, []byte("kv_rows")) {
		t.Fatalf("pg_dump: %v (%d bytes)", err, len(dump))
	}
	stored := map[string][]byte{"database dump": dump}
	filepath.WalkDir(filepath.Join(shared.s3.Dir, target.s3.Bucket), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			stored["object "+filepath.Base(p)] = b
		}
		return nil
	})
	if len(stored) < 2 {
		t.Fatal("no objects in S3")
	}
	var needles [][]byte
	for _, n := range [][]byte{[]byte(marker[:12]), []byte(marker[len(marker)-12:]), key} {
		needles = append(needles, n, fmt.Appendf(nil, "%x", n))
	}
	if !bytes.Contains(dump, fmt.Appendf(nil, "%x", bucketRecs)) {
		t.Fatal("the dump does not show bytea as the needles look for it")
	}
	for name, b := range stored {
		for _, needle := range needles {
			if bytes.Contains(b, needle) {
				t.Errorf("%s contains %q", name, needle)
			}
		}
	}
}
