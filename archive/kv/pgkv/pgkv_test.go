package pgkv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/kvtest"
	"github.com/callvault/callvault/internal/servertest"
	"github.com/callvault/callvault/internal/testclock"
	"github.com/jackc/pgx/v5"
)

// newS3 starts a gateway and creates a bucket on it.
func newS3(t testing.TB) *S3Options {
	gw := servertest.StartS3(t)
	o := &S3Options{Endpoint: gw.Endpoint, Bucket: "callvault", AccessKey: gw.AccessKey, SecretKey: gw.SecretKey}
	store, err := newObjectStore(*o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := store.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &o.Bucket}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return o
}

func open(t testing.TB, url string, opt Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, url, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// contract runs the kv contract with a fresh database for each subtest;
// the second instance is another Store (its own pool) on that database.
func contract(t *testing.T, opt Options) {
	pg := servertest.StartPostgres(t)
	kvtest.Run(t, func(t *testing.T) (kv.Store, func() kv.Store) {
		url := pg.NewDatabase(t)
		first := open(t, url, opt)
		var mu sync.Mutex
		return first, func() kv.Store {
			mu.Lock()
			defer mu.Unlock()
			s := open(t, url, opt)
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// TestContract runs the kv contract on PostgreSQL.
func TestContract(t *testing.T) { contract(t, Options{}) }

// TestContractS3 runs the kv contract with the values of every bucket it
// uses held as objects in S3.
func TestContractS3(t *testing.T) {
	var blob [][]byte
	for _, n := range []string{"order", "m", "a", "z", "top", "seq", "c", "w", "d", "o", "r", "oc", "s", "n", "big", "e", "empty"} {
		blob = append(blob, []byte(n))
	}
	contract(t, Options{BlobBuckets: blob, S3: newS3(t)})
}

// objects lists the object names in the store's bucket.
func objects(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	p := s3.NewListObjectsV2Paginator(s.objects.c, &s3.ListObjectsV2Input{Bucket: &s.objects.bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			names = append(names, *o.Key)
		}
	}
	slices.Sort(names)
	return names
}

// refs lists the object names the rows reference.
func refs(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT value FROM kv_rows WHERE kind = 2 ORDER BY value`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, string(n))
	}
	return names
}

func mustUpdate(t *testing.T, s *Store, fn func(kv.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// released lists the object names waiting in kv_released.
func released(t *testing.T, s *Store) []string {
	t.Helper()
	rows, _ := s.pool.Query(context.Background(), `SELECT name FROM kv_released ORDER BY name`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		out = append(out, string(n))
	}
	return out
}

// TestObjects: a value of a blob bucket is an object the row references;
// overwrite, delete and bucket delete release their objects in the same
// commit, and Sweep removes them after the grace period; a rollback
// removes the objects it wrote; the other buckets stay in PostgreSQL.
func TestObjects(t *testing.T) {
	pg := servertest.StartPostgres(t)
	clock := testclock.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) // before any object's stamp
	s := open(t, pg.NewDatabase(t), Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: newS3(t), Now: clock.Now})
	defer s.Close()
	ctx := context.Background()
	chunk := bytes.Repeat([]byte("sealed chunk "), 5000)

	mustUpdate(t, s, func(tx kv.Tx) error {
		b, _ := tx.CreateBucket([]byte("chunks"))
		other, _ := tx.CreateBucket([]byte("recs"))
		other.Put([]byte("r"), []byte("in postgres"))
		n, _ := b.CreateBucketIfNotExists([]byte("nested"))
		n.Put([]byte("x"), []byte("nested object"))
		for i := range 3 {
			if err := b.Put(fmt.Appendf(nil, "%d", i), append(chunk, byte(i))); err != nil {
				return err
			}
		}
		if !bytes.Equal(b.Get([]byte("1")), append(chunk, 1)) {
			t.Fatal("own write of an object not read back")
		}
		return nil
	})
	if o, r := objects(t, s), refs(t, s); len(o) != 4 || !slices.Equal(o, r) {
		t.Fatalf("objects %q, references %q: want 4, the same", o, r)
	}
	if err := s.View(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("chunks"))
		for i := range 3 {
			if !bytes.Equal(b.Get(fmt.Appendf(nil, "%d", i)), append(chunk, byte(i))) {
				t.Fatalf("chunk %d changed", i)
			}
		}
		if string(b.Bucket([]byte("nested")).Get([]byte("x"))) != "nested object" {
			t.Fatal("nested object lost")
		}
		var walked int
		b.ForEach(func(k, v []byte) error {
			if v != nil && !bytes.HasPrefix(v, chunk) {
				t.Fatalf("cursor value of %q is not the object", k)
			}
			walked++
			return nil
		})
		if walked != 4 {
			t.Fatalf("walked %d", walked)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := objects(t, s)

	// A rolled back transaction leaves no object behind.
	s.Update(func(tx kv.Tx) error {
		tx.Bucket([]byte("chunks")).Put([]byte("9"), []byte("rolled back"))
		return errors.New("no")
	})
	if got := objects(t, s); !slices.Equal(got, before) {
		t.Fatalf("after rollback objects %q, want %q", got, before)
	}

	// Overwrite and delete release their objects in the commit; a read
	// transaction begun before still reads them.
	var oldRefs []string
	err := s.View(func(old kv.Tx) error {
		mustUpdate(t, s, func(tx kv.Tx) error {
			b := tx.Bucket([]byte("chunks"))
			if err := b.Put([]byte("0"), []byte("new")); err != nil {
				return err
			}
			return b.Delete([]byte("1"))
		})
		oldRefs = released(t, s)
		if len(oldRefs) != 2 {
			t.Fatalf("released %q, want the two replaced objects", oldRefs)
		}
		if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("Sweep within the grace period removed %d, %v", n, err)
		}
		b := old.Bucket([]byte("chunks"))
		if !bytes.Equal(b.Get([]byte("0")), append(chunk, 0)) || !bytes.Equal(b.Get([]byte("1")), append(chunk, 1)) {
			t.Fatal("an older snapshot lost its objects")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 2 {
		t.Fatalf("Sweep after the grace period removed %d, %v; want 2", n, err)
	}
	if o, r := objects(t, s), refs(t, s); len(o) != 3 || !slices.Equal(o, r) || len(released(t, s)) != 0 {
		t.Fatalf("after overwrite, delete and Sweep: objects %q, references %q", o, r)
	}
	mustUpdate(t, s, func(tx kv.Tx) error { return tx.DeleteBucket([]byte("chunks")) })
	if len(released(t, s)) != 3 || len(refs(t, s)) != 0 {
		t.Fatalf("bucket delete released %q", released(t, s))
	}
	clock.Add(2 * time.Hour)
	if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 3 {
		t.Fatalf("Sweep removed %d, %v; want the deleted bucket's 3", n, err)
	}
	if o := objects(t, s); len(o) != 0 {
		t.Fatalf("after bucket delete and Sweep objects %q", o)
	}
	if err := s.View(func(tx kv.Tx) error {
		if string(tx.Bucket([]byte("recs")).Get([]byte("r"))) != "in postgres" {
			t.Fatal("other bucket lost")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestConditionalPut: the gateway refuses to overwrite an object when the
// PUT says If-None-Match: *, so an object, once written, is never
// replaced.
func TestConditionalPut(t *testing.T) {
	o, err := newObjectStore(*newS3(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.putNew(ctx, "kv/once", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := o.putNew(ctx, "kv/once", []byte("second")); !errors.Is(err, ErrObjectExists) {
		t.Fatalf("second conditional PUT: %v, want ErrObjectExists", err)
	}
	if v, err := o.get(ctx, "kv/once"); err != nil || string(v) != "first" {
		t.Fatalf("object = %q, %v; want the first value", v, err)
	}
}

// TestSweep: an object whose row never committed (the process died in
// between) is removed by Sweep once older than the grace period; an
// object a row references, or a young one, stays.
func TestSweep(t *testing.T) {
	pg := servertest.StartPostgres(t)
	// The gateway stamps objects with its own clock; the test's clock
	// starts at the orphan's stamp.
	clock := testclock.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) // set again from the gateway's stamps below
	s := open(t, pg.NewDatabase(t), Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: newS3(t), Now: func() time.Time { return clock.Now() }})
	defer s.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		b, _ := tx.CreateBucket([]byte("chunks"))
		return b.Put([]byte("kept"), []byte("committed"))
	})
	// A write that dies after its object PUT: the object, no row.
	orphan, err := s.objects.put(context.Background(), []byte("orphan"))
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.objects.c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &s.objects.bucket, Key: &orphan})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's clock runs two hours behind the store's: by its stamp
	// the object is old, yet this store has only now seen it unreferenced
	// (it could be a running transaction's), so it stays.
	clock = testclock.New(head.LastModified.Add(2 * time.Hour))
	if n, err := s.Sweep(context.Background(), time.Hour); err != nil || n != 0 {
		t.Fatalf("Sweep of an object first seen now removed %d, %v", n, err)
	}
	clock.Add(30 * time.Minute)
	if n, err := s.Sweep(context.Background(), time.Hour); err != nil || n != 0 {
		t.Fatalf("Sweep within the grace period removed %d, %v", n, err)
	}
	clock.Add(2 * time.Hour)
	if n, err := s.Sweep(context.Background(), time.Hour); err != nil || n != 1 {
		t.Fatalf("Sweep removed %d, %v; want the orphan", n, err)
	}
	got := objects(t, s)
	if slices.Contains(got, orphan) || !slices.Equal(got, refs(t, s)) || len(got) != 1 {
		t.Fatalf("after Sweep objects %q, references %q", got, refs(t, s))
	}
	if err := s.View(func(tx kv.Tx) error {
		if string(tx.Bucket([]byte("chunks")).Get([]byte("kept"))) != "committed" {
			t.Fatal("Sweep removed a referenced object")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSchema: stores opening an empty database at once agree on one
// schema; a database of another schema version is refused.
func TestSchema(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := Open(context.Background(), url, Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, url, Options{})
	if _, err := s.pool.Exec(context.Background(), `UPDATE kv_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), url, Options{}); err == nil {
		t.Fatal("a database of schema version 99 was opened")
	}
}

// BenchmarkKV measures PostgreSQL through the seam, with the chunk
// bucket's values in S3 (Versity gateway, POSIX backend), side by side
// with boltkv's BenchmarkKV. Both servers are local and commit durably.
func BenchmarkKV(b *testing.B) {
	pg := servertest.StartPostgres(b)
	s := open(b, pg.NewDatabase(b), Options{BlobBuckets: [][]byte{[]byte(kvtest.ChunkBucket)}, S3: newS3(b)})
	defer s.Close()
	kvtest.Bench(b, s)
}

// TestUploadFailure: when an object cannot be written (here the gateway
// refuses the signature), Update fails and commits nothing, so no row
// ever references a missing object.
func TestUploadFailure(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	good := newS3(t)
	bad := *good
	bad.SecretKey = "wrong"
	// Open asks the bucket about versioning, which the wrong key would
	// fail; the key goes wrong after Open.
	s := open(t, url, Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: good})
	defer s.Close()
	var err error
	if s.objects, err = newObjectStore(bad); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("chunks"))
		if err != nil {
			return err
		}
		return b.SetSequence(7)
	})
	err = s.Update(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("chunks"))
		if _, err := b.NextSequence(); err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("chunk"))
	})
	if err == nil {
		t.Fatal("Update committed although its object was refused")
	}
	if err := s.View(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("chunks"))
		if b.KeyN() != 0 || b.Sequence() != 7 {
			t.Fatalf("a failed upload's transaction left %d keys, sequence %d", b.KeyN(), b.Sequence())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// roundTrips counts the statements and batches the store sends: each is
// one round trip to the server.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestRoundTrips: a write transaction of many Puts, Deletes and
// sequences costs a fixed number of round trips (BEGIN with the lock, the
// bucket, its nested names, the writes with COMMIT); Gets of keys the
// transaction has read or written cost none; a read transaction costs
// BEGIN, the bucket, one per Get or batch of 256 rows, and ROLLBACK.
func TestRoundTrips(t *testing.T) {
	pg := servertest.StartPostgres(t)
	rt := &roundTrips{}
	s := open(t, pg.NewDatabase(t), Options{tracer: rt})
	defer s.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	})
	count := func(what string, max int64, fn func(kv.Tx) error, update bool) {
		t.Helper()
		rt.n.Store(0)
		var err error
		if update {
			err = s.Update(fn)
		} else {
			err = s.View(fn)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := rt.n.Load(); n > max {
			t.Errorf("%s: %d round trips, want at most %d", what, n, max)
		}
	}
	count("500 puts, deletes and sequences", 4, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("b"))
		for i := range 500 {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(fmt.Appendf(nil, "%04d", seq), []byte("v")); err != nil {
				return err
			}
			if i%5 == 0 {
				b.Delete(fmt.Appendf(nil, "%04d", seq))
			}
			if b.Get(fmt.Appendf(nil, "%04d", seq)) == nil && i%5 != 0 {
				t.Fatal("own write not read back")
			}
		}
		return nil
	}, true)
	count("25 gets, each twice", 3+25, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("b"))
		for range 2 {
			for seq := 2; seq < 27; seq++ { // 20 keys kept, 5 deleted
				v := b.Get(fmt.Appendf(nil, "%04d", seq))
				if (v == nil) != ((seq-1)%5 == 0) {
					t.Fatalf("key %d: %q", seq, v)
				}
			}
		}
		if b.Sequence() != 500 {
			t.Fatalf("sequence %d", b.Sequence())
		}
		return nil
	}, false)
	count("a walk of 400 keys", 3+2, func(tx kv.Tx) error {
		n := 0
		tx.Bucket([]byte("b")).ForEach(func(k, v []byte) error { n++; return nil })
		if n != 400 {
			t.Fatalf("walked %d keys, want 400", n)
		}
		return nil
	}, false)
}

// TestWriterLockDiesWithItsHolder: a daemon killed inside a write
// transaction (here its connection cut, as the server sees a kill -9)
// releases the writer lock, and the next writer goes on; until then the
// next writer waits for the lock.
func TestWriterLockDiesWithItsHolder(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	s := open(t, url, Options{})
	defer s.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("before"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, fmt.Sprintf(`BEGIN; SELECT pg_advisory_xact_lock(%d)`, writerLock)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Update(func(tx kv.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("k"), []byte("after")) })
	}()
	// Wait until the writer waits on the advisory lock.
	for {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Update ended (%v) while another writer held the lock", err)
		case <-ctx.Done():
			t.Fatal("the writer never waited on the lock")
		case <-time.After(10 * time.Millisecond):
		}
	}
	holder.PgConn().Conn().Close() // the holder dies without COMMIT or ROLLBACK
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the writer still waits after the holder died")
	}
	if err := s.View(func(tx kv.Tx) error {
		if string(tx.Bucket([]byte("b")).Get([]byte("k"))) != "after" {
			t.Fatal("the next writer's commit is missing")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

const killedChildEnv = "PGKV_KILLED_WRITER"

// killedChild is what TestKilledWriter hands its child process.
type killedChild struct {
	URL                                    string
	Endpoint, Bucket, AccessKey, SecretKey string
}

// TestKilledWriterChild is the child process of TestKilledWriter: inside
// a write transaction it puts three chunks, reports, and waits to be
// killed before it commits.
func TestKilledWriterChild(t *testing.T) {
	env := os.Getenv(killedChildEnv)
	if env == "" {
		t.Skip("child process of TestKilledWriter")
	}
	var c killedChild
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		t.Fatal(err)
	}
	o := &S3Options{Endpoint: c.Endpoint, Bucket: c.Bucket, AccessKey: c.AccessKey, SecretKey: c.SecretKey}
	s := open(t, c.URL, Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: o})
	s.Update(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("chunks"))
		for i := range 3 {
			b.Put(fmt.Appendf(nil, "%d", i), bytes.Repeat([]byte{byte(i)}, 64<<10))
		}
		fmt.Println("put")
		for {
			time.Sleep(time.Hour) // killed here, before COMMIT
		}
	})
}

// TestKilledWriter: a daemon killed with SIGKILL between its object PUTs
// and its commit leaves no row, releases the writer lock, and leaves
// objects that Sweep finds and removes.
func TestKilledWriter(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	o := newS3(t)
	clock := testclock.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) // set again from the gateway's stamps below
	s := open(t, url, Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: o, Now: func() time.Time { return clock.Now() }})
	defer s.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		_, err := tx.CreateBucket([]byte("chunks"))
		return err
	})
	cmd := startChild(t, "TestKilledWriterChild", killedChildEnv, url, o, "put")
	// Wait until the three uploads have landed, then kill.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(objects(t, s)) < 3 {
		select {
		case <-ctx.Done():
			t.Fatal("the child's objects never appeared")
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()

	// The writer lock is free again, and no row of the child's is there.
	mustUpdate(t, s, func(tx kv.Tx) error {
		if n := tx.Bucket([]byte("chunks")).KeyN(); n != 0 {
			t.Fatalf("%d rows of an uncommitted transaction", n)
		}
		return tx.Bucket([]byte("chunks")).Put([]byte("after"), []byte("committed"))
	})
	orphans := objects(t, s)
	if len(orphans) != 4 {
		t.Fatalf("objects %q, want the child's three and one committed", orphans)
	}
	var newest time.Time
	for _, name := range orphans {
		head, err := s.objects.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.objects.bucket, Key: &name})
		if err != nil {
			t.Fatal(err)
		}
		if head.LastModified.After(newest) {
			newest = *head.LastModified
		}
	}
	clock = testclock.New(newest.Add(2 * time.Hour))
	if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("the first Sweep to see the orphans removed %d, %v", n, err)
	}
	clock.Add(2 * time.Hour)
	if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 3 {
		t.Fatalf("Sweep removed %d, %v; want the killed writer's three objects", n, err)
	}
	if got, want := objects(t, s), refs(t, s); len(got) != 1 || !slices.Equal(got, want) {
		t.Fatalf("after Sweep objects %q, references %q", got, want)
	}
}
