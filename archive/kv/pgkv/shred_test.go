package pgkv

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/servertest"
	"github.com/callvault/callvault/internal/testchild"
	"github.com/callvault/callvault/internal/testclock"
)

var shredOpts = Options{BlobBuckets: [][]byte{[]byte("chunks"), []byte("keys")}, ShredBuckets: [][]byte{[]byte("keys")}}

// TestShredBuckets: an object of a shred bucket that a delete, an
// overwrite or a bucket's deletion releases is gone from S3 when Update
// returns, before any Sweep; one of another blob bucket waits for Sweep.
func TestShredBuckets(t *testing.T) {
	pg := servertest.StartPostgres(t)
	opt := shredOpts
	opt.S3 = newS3(t)
	s := open(t, pg.NewDatabase(t), opt)
	defer s.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		k, _ := tx.CreateBucket([]byte("keys"))
		c, _ := tx.CreateBucket([]byte("chunks"))
		n, _ := k.CreateBucketIfNotExists([]byte("nested"))
		for _, b := range []kv.Bucket{k, c, n} {
			b.Put([]byte("a"), []byte("value a"))
			b.Put([]byte("b"), []byte("value b"))
		}
		return nil
	})
	all := objects(t, s)
	if len(all) != 6 {
		t.Fatalf("objects %q", all)
	}
	mustUpdate(t, s, func(tx kv.Tx) error {
		k, c := tx.Bucket([]byte("keys")), tx.Bucket([]byte("chunks"))
		k.Delete([]byte("a"))
		k.Put([]byte("b"), []byte("value b2")) // overwrite: the old object is released
		c.Delete([]byte("a"))
		return k.DeleteBucket([]byte("nested"))
	})
	// keys/a, keys/b's first object and both of keys/nested are gone;
	// chunks/a's object waits in kv_released for Sweep.
	left, rel := objects(t, s), released(t, s)
	if len(left) != 3 || len(rel) != 1 {
		t.Fatalf("after the shredding commit: objects %q, released %q", left, rel)
	}
	if !slices.Contains(left, rel[0]) {
		t.Fatalf("released %q is not the chunk's object among %q", rel, left)
	}
	var got []byte
	s.View(func(tx kv.Tx) error { got = tx.Bucket([]byte("keys")).Get([]byte("b")); return nil })
	if string(got) != "value b2" {
		t.Fatalf("keys/b = %q", got)
	}

	// A read transaction whose snapshot predates a shredding commit reads
	// the shredded value as absent, not as an error; a chunk released by
	// the same commit is still there for it.
	err := s.View(func(tx kv.Tx) error {
		mustUpdate(t, s, func(tx kv.Tx) error {
			tx.Bucket([]byte("chunks")).Delete([]byte("b"))
			return tx.Bucket([]byte("keys")).Delete([]byte("b"))
		})
		if v := tx.Bucket([]byte("keys")).Get([]byte("b")); v != nil {
			t.Errorf("shredded keys/b reads %q in an older snapshot", v)
		}
		if v := tx.Bucket([]byte("chunks")).Get([]byte("b")); string(v) != "value b" {
			t.Errorf("released chunks/b reads %q in an older snapshot", v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a snapshot older than the shredding: %v", err)
	}
}

// TestShredOptions: a shred bucket must be a blob bucket.
func TestShredOptions(t *testing.T) {
	_, err := Open(t.Context(), "postgres://127.0.0.1:1/x", Options{ShredBuckets: [][]byte{[]byte("keys")}})
	if err == nil {
		t.Fatal("a shred bucket that is not a blob bucket was accepted")
	}
}

const shredChildEnv = "PGKV_SHRED_KILLED"

// shredEpoch is the time on the clocks of TestShredKilled and its child.
var shredEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// TestShredKilledChild is the child process of TestShredKilled: it
// deletes keys/a, and once the commit is done, before the object is
// removed, reports and waits to be killed.
func TestShredKilledChild(t *testing.T) {
	env := os.Getenv(shredChildEnv)
	if env == "" {
		t.Skip("child process of TestShredKilled")
	}
	var c killedChild
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		t.Fatal(err)
	}
	opt := shredOpts
	opt.S3 = &S3Options{Endpoint: c.Endpoint, Bucket: c.Bucket, AccessKey: c.AccessKey, SecretKey: c.SecretKey}
	opt.Now = testclock.New(shredEpoch).Now
	opt.afterCommit = func() {
		os.Stdout.WriteString("committed\n")
		for {
			time.Sleep(time.Hour) // killed here
		}
	}
	s := open(t, c.URL, opt)
	s.Update(func(tx kv.Tx) error { return tx.Bucket([]byte("keys")).Delete([]byte("a")) })
}

// TestShredKilled: a daemon killed with SIGKILL between the commit that
// deleted a shred bucket's value and the object's removal leaves the
// object listed in kv_released, and Sweep removes it.
func TestShredKilled(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	opt := shredOpts
	opt.S3 = newS3(t)
	clock := testclock.New(shredEpoch)
	opt.Now = clock.Now
	s := open(t, url, opt)
	defer s.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		k, _ := tx.CreateBucket([]byte("keys"))
		return k.Put([]byte("a"), []byte("the key"))
	})
	obj := refs(t, s)
	if len(obj) != 1 {
		t.Fatalf("references %q", obj)
	}
	cmd := startChild(t, "TestShredKilledChild", shredChildEnv, url, opt.S3, "committed")
	cmd.Process.Kill() // SIGKILL, after COMMIT, before the removal
	cmd.Wait()

	if r, o := released(t, s), objects(t, s); !slices.Equal(r, obj) || !slices.Equal(o, obj) {
		t.Fatalf("after the kill: released %q, objects %q; want %q in both", r, o, obj)
	}
	if n := len(refs(t, s)); n != 0 {
		t.Fatalf("%d references after the committed delete", n)
	}
	clock.Add(2 * time.Hour)
	if n, err := s.Sweep(t.Context(), time.Hour); err != nil || n != 1 {
		t.Fatalf("Sweep removed %d, %v; want the shredded object", n, err)
	}
	if o, r := objects(t, s), released(t, s); len(o) != 0 || len(r) != 0 {
		t.Fatalf("after Sweep: objects %q, released %q", o, r)
	}
}

// TestUnversionedBucket: Open accepts the gateway's plain bucket, and
// the answers it gives are ones versioningDecision accepts.
func TestUnversionedBucket(t *testing.T) {
	o := newS3(t)
	store, err := newObjectStore(*o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, verr := store.c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &o.Bucket})
	_, lerr := store.c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &o.Bucket})
	if v != nil {
		t.Logf("GetBucketVersioning: status %q, err %v", v.Status, verr)
	} else {
		t.Logf("GetBucketVersioning: err %v", verr)
	}
	t.Logf("GetObjectLockConfiguration: err %v", lerr)
	if err := store.checkUnversioned(ctx); err != nil {
		t.Fatalf("the gateway's plain bucket is refused: %v", err)
	}
}

// TestVersioningDecision: a bucket with versioning Enabled or Suspended,
// or with Object Lock, is refused; a server without versioning or
// without Object Lock (NotImplemented, no configuration) is accepted;
// other errors are not guessed at.
func TestVersioningDecision(t *testing.T) {
	code := func(c string) error { return &smithy.GenericAPIError{Code: c} }
	noLock := code("ObjectLockConfigurationNotFoundError")
	cases := []struct {
		status       types.BucketVersioningStatus
		verr         error
		lock         types.ObjectLockEnabled
		lerr         error
		refused, ver bool
	}{
		{"", nil, "", noLock, false, false},
		{"", code("NotImplemented"), "", code("NotImplemented"), false, false},
		{types.BucketVersioningStatusEnabled, nil, "", noLock, true, true},
		{types.BucketVersioningStatusSuspended, nil, "", noLock, true, true},
		{"", nil, types.ObjectLockEnabledEnabled, nil, true, true},
		{"", code("AccessDenied"), "", noLock, true, false},
		{"", nil, "", code("AccessDenied"), true, false},
	}
	for i, c := range cases {
		err := versioningDecision("b", c.status, c.verr, c.lock, c.lerr)
		if (err != nil) != c.refused || errors.Is(err, ErrVersionedBucket) != c.ver {
			t.Errorf("case %d (%+v): %v", i, c, err)
		}
	}
}

// startChild runs the test named child of this binary as a child process,
// with the database at url and the bucket o in its environment variable
// env, and returns once the child printed the line ready (or ended).
func startChild(t *testing.T, child, env, url string, o *S3Options, ready string) *exec.Cmd {
	t.Helper()
	v, _ := json.Marshal(killedChild{URL: url, Endpoint: o.Endpoint, Bucket: o.Bucket, AccessKey: o.AccessKey, SecretKey: o.SecretKey})
	cmd := testchild.Command(child, env+"="+string(v))
	for sc := testchild.Start(t, cmd); sc.Scan() && sc.Text() != ready; {
	}
	return cmd
}
