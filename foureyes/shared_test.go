package foureyes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/archive/kv/pgkv"
	"github.com/callvault/callvault/internal/servertest"
	"github.com/callvault/callvault/internal/testclock"
)

// twoDaemons opens two archives on one new PostgreSQL database and S3
// bucket (as two daemons do), both on clk. The test skips loudly
// without the servers, and fails under CI=true.
func twoDaemons(t *testing.T, clk *testclock.Clock) (a, b *archive.Archive) {
	t.Helper()
	pg := servertest.StartPostgres(t)
	s3 := servertest.StartS3(t)
	url := pg.NewDatabase(t)
	bucket := fmt.Sprintf("fe%x", time.Now().UnixNano())
	if err := os.Mkdir(filepath.Join(s3.Dir, bucket), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opt := archive.Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: archive.FastKDF(), CommitInterval: 10 * time.Millisecond, Now: clk.Now}
	open := func(name string) *archive.Archive {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := pgkv.Open(ctx, url, pgkv.Options{BlobBuckets: archive.BlobBuckets(), ShredBuckets: archive.ShredBuckets(), MaxConns: 4,
			S3: &pgkv.S3Options{Endpoint: s3.Endpoint, Bucket: bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}})
		if err != nil {
			t.Fatal(err)
		}
		arc, err := archive.OpenStore(s, filepath.Join(dir, name, "archive.db"), opt)
		if err != nil {
			s.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { arc.Close() })
		return arc
	}
	a = open("a")
	b = open("b")
	if !a.Shared() || !b.Shared() {
		t.Fatal("an archive on PostgreSQL does not say it is shared")
	}
	return a, b
}

// waitFor waits until cond holds, woken by every change of f's state
// and, for what changes none (a lease), every few milliseconds.
func waitFor(t *testing.T, f *Access, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		_, changed := f.Supervision("")
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("never: %s", what)
		}
	}
}

// TestFourEyesAcrossDaemons: two daemons on one archive. A user asks on
// B, the request shows on the supervisor's page on A; the grant given on
// A lets the user read on B and binds B's requests; the page leaving A
// ends the grant on B (B's request context is cancelled); and when A dies
// with the page open, the grant ends on B once A's lease lapses by B's
// clock. Each event is audited once.
func TestFourEyesAcrossDaemons(t *testing.T) {
	clk := testclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	arcA, arcB := twoDaemons(t, clk)
	ctx := t.Context()
	alice, sam := supervised(t, arcA)
	rec := &archive.Recording{User: "alice"}
	opts := Options{Ping: 20 * time.Millisecond, Silence: time.Hour, Grace: 10 * time.Millisecond, Lease: 10 * time.Second, Now: clk.Now}
	feA := New(arcA, opts, nil)
	feB := New(arcB, opts, nil)
	defer feB.Close()

	// bind binds a request of alice's on B.
	bind := func() (context.Context, func()) {
		t.Helper()
		_, r, release, ok := feB.Bind(httptest.NewRecorder(), httptest.NewRequest("GET", "/audio", nil), &alice)
		if !ok {
			t.Fatal("B binds no request of alice's while she holds a grant")
		}
		return r.Context(), release
	}
	ask := func(what string) {
		t.Helper()
		if _, err := feB.Request(ctx, &alice, "127.0.0.2"); err != nil {
			t.Fatalf("%s: request on B: %v", what, err)
		}
		waitFor(t, feA, what+": the request on the supervisor's page on A", func() bool {
			v, _ := feA.Supervision("sam")
			return len(v.Pending) == 1 && v.Pending[0].Login == "alice"
		})
		if err := feA.Grant(ctx, &sam, "alice", "127.0.0.1"); err != nil {
			t.Fatalf("%s: grant on A: %v", what, err)
		}
		waitFor(t, feB, what+": B follows A's grant", func() bool { return feB.MayRead(&alice, rec) })
		if v, _ := feB.Supervision("sam"); !v.Connected || len(v.Grants) != 1 {
			t.Fatalf("%s: B shows the supervision %+v", what, v)
		}
	}

	if feB.MayRead(&alice, rec) {
		t.Fatal("alice may read before asking")
	}
	page, err := feA.Join("sam", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, feB, "B sees the supervisor's page on A", func() bool {
		v, _ := feB.Supervision("sam")
		return v.Connected
	})
	ask("first grant")
	bound, release := bind()

	// The page on A closes: after the grace the grant ends on B too.
	feA.Leave(page)
	waitFor(t, feB, "the grant ends on B when the page on A closes", func() bool { return !feB.MayRead(&alice, rec) })
	select {
	case <-bound.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a request bound on B outlived the grant")
	}
	release()
	if st, _ := feB.Status(&alice); st.State != Ended || st.Reason != ReasonClosed {
		t.Fatalf("alice's state on B: %+v", st)
	}

	// The supervisor has a page on each daemon: the one on A closes and
	// the grant stays (the lease of B's page), until B's closes too.
	pageA, err := feA.Join("sam", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pageB, err := feB.Join("sam", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	ask("handover grant")
	waitFor(t, feA, "A sees the page on B", func() bool { return elsewhere(feA, "sam") })
	feA.Leave(pageA)
	waitFor(t, feA, "the grace on A is over", func() bool { return !feA.GraceRuns("sam") })
	if !feA.Allowed(&alice) || !feB.Allowed(&alice) {
		t.Fatal("the grant ended while the supervisor's page on B was connected")
	}
	waitFor(t, feB, "B sees the page on A gone", func() bool { return !elsewhere(feB, "sam") })
	feB.Leave(pageB)
	waitFor(t, feB, "the grant ends on B when the page on B closes", func() bool { return !feB.Allowed(&alice) })
	waitFor(t, feA, "A follows", func() bool { return !feA.Allowed(&alice) })
	if st, _ := feA.Status(&alice); st.State != Ended || st.Reason != ReasonClosed {
		t.Fatalf("alice's state on A: %+v", st)
	}

	// A dies with the page open: B keeps the grant while A's lease is
	// valid, and ends it when the lease lapses by B's clock.
	if _, err := feA.Join("sam", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, feB, "B sees the page on A again", func() bool {
		v, _ := feB.Supervision("sam")
		return v.Connected
	})
	ask("second grant")
	bound, release = bind()
	defer release()
	feA.Close()
	arcA.Close()
	clk.Add(opts.Lease - time.Second)
	feB.lapse(ctx) // what B's loop does every ping
	if !feB.MayRead(&alice, rec) || bound.Err() != nil {
		t.Fatal("the grant ended on B while A's lease was valid")
	}
	clk.Add(2 * time.Second)
	waitFor(t, feB, "the grant ends on B when A's lease lapses", func() bool { return !feB.MayRead(&alice, rec) })
	<-bound.Done()
	if st, _ := feB.Status(&alice); st.State != Ended || st.Reason != ReasonTimeout {
		t.Fatalf("alice's state on B: %+v", st)
	}
	if v, _ := feB.Supervision("sam"); v.Connected || len(v.Grants) != 0 {
		t.Fatalf("B shows the supervision %+v after A's lease lapsed", v)
	}

	// One audit entry per event, whichever daemon wrote it (Close waits
	// for the entries being written).
	feB.Close()
	evs, _, err := arcB.AuditLog(ctx, archive.AuditQuery{Action: "foureyes", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		key := e.Action
		if e.Action == "foureyes.revoke" {
			key += " " + e.Detail
		}
		count[key]++
	}
	want := map[string]int{"foureyes.request": 3, "foureyes.grant": 3, "foureyes.revoke reason=closed": 2, "foureyes.revoke reason=timeout": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("audit entries %v, want %v", count, want)
	}
}

// TestFourEyesLeaseAcrossClocks: the daemons' clocks disagree by an hour
// either way. B sees the supervisor's page on A, follows A's grant, and
// when A dies with the page open ends the grant once A's lease lapses by
// B's clock, a lease after B last saw it renewed; after twice that B
// deletes the dead daemon's lease.
func TestFourEyesLeaseAcrossClocks(t *testing.T) {
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(fmt.Sprint("A's clock ", skew), func(t *testing.T) {
			start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			clkB := testclock.New(start)
			clkA := testclock.New(start.Add(skew))
			arcA, arcB := twoDaemons(t, clkB)
			ctx := t.Context()
			alice, sam := supervised(t, arcA)
			rec := &archive.Recording{User: "alice"}
			opts := Options{Ping: 20 * time.Millisecond, Silence: time.Hour, Grace: 10 * time.Millisecond, Lease: 10 * time.Second}
			optsA, optsB := opts, opts
			optsA.Now, optsB.Now = clkA.Now, clkB.Now
			feA := New(arcA, optsA, nil)
			feB := New(arcB, optsB, nil)
			defer feB.Close()

			if _, err := feA.Join("sam", "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, feB, "B sees the supervisor's page on A", func() bool {
				v, _ := feB.Supervision("sam")
				return v.Connected
			})
			if _, err := feB.Request(ctx, &alice, "127.0.0.2"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, feA, "the request on the supervisor's page on A", func() bool {
				v, _ := feA.Supervision("sam")
				return len(v.Pending) == 1
			})
			if err := feA.Grant(ctx, &sam, "alice", "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, feB, "B follows A's grant", func() bool { return feB.MayRead(&alice, rec) })

			feA.Close()
			arcA.Close()
			clkB.Add(opts.Lease - time.Second)
			feB.lapse(ctx)
			feB.dropStale(ctx)
			if !feB.MayRead(&alice, rec) {
				t.Fatal("the grant ended on B while A's lease was valid by B's clock")
			}
			clkB.Add(2 * time.Second)
			waitFor(t, feB, "the grant ends on B a lease after A's last renewal", func() bool { return !feB.MayRead(&alice, rec) })
			if st, _ := feB.Status(&alice); st.State != Ended || st.Reason != ReasonTimeout {
				t.Fatalf("alice's state on B: %+v", st)
			}
			if leases(t, arcB) != 1 {
				t.Fatal("A's lease was deleted within twice the lease")
			}
			clkB.Add(opts.Lease)
			feB.dropStale(ctx)
			if n := leases(t, arcB); n != 0 {
				t.Fatalf("%d leases stored after twice the lease without a renewal", n)
			}
		})
	}
}

// leases counts the stored 4-eyes leases.
func leases(t *testing.T, arc *archive.Archive) int {
	t.Helper()
	raws, err := arc.FourEyesRecords(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, raw := range raws {
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == "lease" {
			n++
		}
	}
	return n
}

// TestFourEyesOneDaemonWritesNothing: on bbolt (one process) the 4-eyes
// state stays in memory: a request, a grant and its end write no 4-eyes
// record.
func TestFourEyesOneDaemonWritesNothing(t *testing.T) {
	arc := archivetest.OpenTest(t)
	ctx := t.Context()
	alice, sam := supervised(t, arc)
	if arc.Shared() {
		t.Fatal("a bbolt archive says it is shared")
	}
	fe := New(arc, Options{}, nil)
	defer fe.Close()
	page, err := fe.Join("sam", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fe.Request(ctx, &alice, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := fe.Grant(ctx, &sam, "alice", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	fe.Beat("sam", page.ID())
	if err := fe.End(ctx, &sam, "alice", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if rs, err := arc.FourEyesRecords(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("4-eyes records on bbolt: %d %v", len(rs), err)
	}
}

// elsewhere reports whether f counts a page of login's on another daemon.
func elsewhere(f *Access, login string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.elsewhereLocked(login)
}

// supervised stores alice, a user under 4-eyes access, and sam, her
// supervisor.
func supervised(t *testing.T, arc *archive.Archive) (alice, sam archive.User) {
	t.Helper()
	alice = archive.User{Login: "alice", Role: archive.RoleUser, Supervisor: "sam"}
	sam = archive.User{Login: "sam", Role: archive.RoleSupervisor}
	for _, u := range []archive.User{alice, sam} {
		if err := arc.PutUser(t.Context(), u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	return alice, sam
}
