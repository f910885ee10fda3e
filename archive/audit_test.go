package archive

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

func auditN(t *testing.T, a *Archive, n int) {
	t.Helper()
	for i := range n {
		ev := AuditEvent{Actor: fmt.Sprintf("user%d", i%3), Action: []string{"login", "play", "note.add"}[i%3],
			Target: fmt.Sprintf("target-%d", i), Remote: "192.0.2.7", OK: i%5 != 0, Detail: fmt.Sprintf("detail %d", i)}
		if err := a.Audit(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func mustVerifyAudit(t *testing.T, a *Archive) *VerifyResult {
	t.Helper()
	res, err := a.VerifyAudit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAuditRoundTrip(t *testing.T) {
	a := OpenTest(t)
	res := mustVerifyAudit(t, a)
	if !res.Valid || res.Entries != 0 {
		t.Fatalf("empty log: %+v", res)
	}
	if err := a.Audit(t.Context(), AuditEvent{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty action: %v", err)
	}
	auditN(t, a, 10)
	evs, cur, err := a.AuditLog(t.Context(), AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 10 || cur != "" {
		t.Fatalf("got %d events, cursor %q", len(evs), cur)
	}
	for i, ev := range evs {
		want := uint64(10 - i)
		if ev.Seq != want || ev.Time.IsZero() || ev.Hash == ([32]byte{}) {
			t.Fatalf("event %d: %+v", i, ev)
		}
		n := int(want - 1)
		if ev.Target != fmt.Sprintf("target-%d", n) || ev.OK != (n%5 != 0) || ev.Remote != "192.0.2.7" {
			t.Fatalf("event %d fields: %+v", i, ev)
		}
	}
	res = mustVerifyAudit(t, a)
	if !res.Valid || res.Entries != 10 || res.HeadSeq != 10 || res.Head != evs[0].Hash {
		t.Fatalf("verify: %+v", res)
	}
	// The log survives a reopen and keeps chaining.
	a = reopen(t, a)
	auditN(t, a, 2)
	if res := mustVerifyAudit(t, a); !res.Valid || res.Entries != 12 {
		t.Fatalf("after reopen: %+v", res)
	}
}

func TestAuditQuery(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	a := OpenTest(t)
	for i := range 30 {
		ev := AuditEvent{Time: base.Add(time.Duration(i) * time.Minute), Actor: fmt.Sprintf("User%d", i%3),
			Action: []string{"login", "play", "note.add", "note.delete", "settings.change"}[i%5], Target: fmt.Sprintf("t%02d", i),
			Detail: map[bool]string{true: "Ångström", false: ""}[i == 17]}
		if err := a.Audit(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		q    AuditQuery
		want int
	}{
		{"all", AuditQuery{Limit: 1000}, 30},
		{"actor case-insensitive", AuditQuery{Actor: "user1"}, 10},
		{"action exact", AuditQuery{Action: "play"}, 6},
		{"action prefix", AuditQuery{Action: "note"}, 12},
		{"action no partial word", AuditQuery{Action: "not"}, 0},
		{"text", AuditQuery{Text: "ÅNGSTRÖM"}, 1},
		{"text target", AuditQuery{Text: "t2"}, 10},
		{"from", AuditQuery{From: base.Add(20 * time.Minute)}, 10},
		{"to", AuditQuery{To: base.Add(5 * time.Minute)}, 5},
		{"from to", AuditQuery{From: base.Add(5 * time.Minute), To: base.Add(7 * time.Minute)}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, _, err := a.AuditLog(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tc.want {
				t.Fatalf("got %d, want %d", len(evs), tc.want)
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Seq >= evs[i-1].Seq {
					t.Fatal("not newest first")
				}
			}
		})
	}
	// Paging walks every event exactly once.
	var seen []uint64
	pageThrough(t, 10, func(cursor string) (string, error) {
		evs, next, err := a.AuditLog(t.Context(), AuditQuery{Limit: 7, Cursor: cursor})
		for _, ev := range evs {
			seen = append(seen, ev.Seq)
		}
		return next, err
	})
	if len(seen) != 30 || seen[0] != 30 || seen[29] != 1 {
		t.Fatalf("paging saw %v", seen)
	}
	for _, bad := range []string{"x", "AQ", "AgAAAAAAAAAB", "AQAAAAAAAAAA"} {
		if _, _, err := a.AuditLog(t.Context(), AuditQuery{Cursor: bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

func TestAuditFieldsCut(t *testing.T) {
	a := OpenTest(t)
	long := strings.Repeat("ä", maxAuditDetail)
	if err := a.Audit(t.Context(), AuditEvent{Action: "login", Actor: "bad\xffutf8", Detail: long}); err != nil {
		t.Fatal(err)
	}
	evs, _, err := a.AuditLog(t.Context(), AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if len(ev.Detail) > maxAuditDetail || !strings.HasSuffix(ev.Detail, "…") || !strings.Contains(ev.Actor, "\uFFFD") {
		t.Fatalf("fields not cut/repaired: actor %q, detail %d bytes", ev.Actor, len(ev.Detail))
	}
}

// TestAuditEncrypted checks that actors, targets and details are not in the
// file in the clear.
func TestAuditEncrypted(t *testing.T) {
	a := OpenTest(t)
	if err := a.Audit(t.Context(), AuditEvent{Action: "login", Actor: "zebra-login-771", Target: "secret-target-882", Remote: "198.51.100.99"}); err != nil {
		t.Fatal(err)
	}
	checkNotInClear(t, a, "zebra-login-771", "secret-target-882", "198.51.100.99", `"login"`)
}

func TestAuditTamper(t *testing.T) {
	tests := []struct {
		name string
		edit func(tx kv.Tx) error
		want string
	}{
		{"flip bit in body", func(tx kv.Tx) error {
			b := tx.Bucket(bucketAudit)
			v := bytes.Clone(b.Get(seqKey(3)))
			v[len(v)-5] ^= 1
			return b.Put(seqKey(3), v)
		}, "entry 3: does not authenticate"},
		{"change time", func(tx kv.Tx) error {
			b := tx.Bucket(bucketAudit)
			v := bytes.Clone(b.Get(seqKey(2)))
			v[12] ^= 1
			return b.Put(seqKey(2), v)
		}, "entry 2: does not authenticate"},
		{"remove middle entry", func(tx kv.Tx) error {
			return tx.Bucket(bucketAudit).Delete(seqKey(3))
		}, "entries 3..3 missing"},
		{"remove last entry", func(tx kv.Tx) error {
			return tx.Bucket(bucketAudit).Delete(seqKey(5))
		}, "entries after 4 missing"},
		{"remove last entry and rewrite head", func(tx kv.Tx) error {
			b := tx.Bucket(bucketAudit)
			h := sha256Sum(b.Get(seqKey(4)))
			if err := b.Delete(seqKey(5)); err != nil {
				return err
			}
			v := bytes.Clone(tx.Bucket(bucketMeta).Get(metaAuditHead))
			copy(v[:8], seqKey(4))
			copy(v[8:40], h[:])
			return tx.Bucket(bucketMeta).Put(metaAuditHead, v)
		}, "head record is missing or does not authenticate"},
		{"remove head record", func(tx kv.Tx) error {
			return tx.Bucket(bucketMeta).Delete(metaAuditHead)
		}, "head record is missing"},
		{"swap two entries", func(tx kv.Tx) error {
			b := tx.Bucket(bucketAudit)
			v2, v3 := bytes.Clone(b.Get(seqKey(2))), bytes.Clone(b.Get(seqKey(3)))
			if err := b.Put(seqKey(2), v3); err != nil {
				return err
			}
			return b.Put(seqKey(3), v2)
		}, "entry 2: malformed"},
		{"replace entry by a copy of another with renumbered header", func(tx kv.Tx) error {
			b := tx.Bucket(bucketAudit)
			v := bytes.Clone(b.Get(seqKey(2)))
			copy(v[1:9], seqKey(3))
			copy(v[17:49], func() []byte { h := sha256Sum(b.Get(seqKey(2))); return h[:] }())
			return b.Put(seqKey(3), v)
		}, "entry 3: does not authenticate"},
		{"insert entry with odd key", func(tx kv.Tx) error {
			return tx.Bucket(bucketAudit).Put([]byte("zzz"), []byte("x"))
		}, "malformed key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := OpenTest(t)
			auditN(t, a, 5)
			if res := mustVerifyAudit(t, a); !res.Valid {
				t.Fatalf("before: %v", res.Problems)
			}
			a = withBolt(t, a, tc.edit)
			res := mustVerifyAudit(t, a)
			if res.Valid || !hasProblem(res, tc.want) {
				t.Fatalf("want problem %q, got valid=%v %q", tc.want, res.Valid, res.Problems)
			}
		})
	}
}

// TestAuditAppendAfterTamperedHead refuses to extend a log whose head does
// not authenticate, rather than chaining onto forged state.
func TestAuditAppendAfterTamperedHead(t *testing.T) {
	a := OpenTest(t)
	auditN(t, a, 2)
	a = withBolt(t, a, func(tx kv.Tx) error {
		v := bytes.Clone(tx.Bucket(bucketMeta).Get(metaAuditHead))
		v[70] ^= 1
		return tx.Bucket(bucketMeta).Put(metaAuditHead, v)
	})
	if err := a.Audit(t.Context(), AuditEvent{Action: "login"}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("append after forged head: %v", err)
	}
}

func FuzzParseAuditEntry(f *testing.F) {
	e := &auditEntry{seq: 1, time: 5, box: make([]byte, boxOverhead+3)}
	e.box[0] = curFormat
	f.Add(e.marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseAuditEntry(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.marshal(), b) {
			t.Fatal("not canonical")
		}
	})
}

func BenchmarkAudit(b *testing.B) {
	a := OpenTest(b)
	for b.Loop() {
		if err := a.Audit(b.Context(), AuditEvent{Actor: "alice", Action: "play", Target: "0123456789abcdef0123456789abcdef", OK: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func FuzzParseAuditCursor(f *testing.F) {
	f.Add(encodeAuditCursor(1))
	f.Add(encodeAuditCursor(1 << 60))
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		seq, err := parseAuditCursor(s)
		if err != nil {
			return
		}
		if seq == 0 || encodeAuditCursor(seq) != s {
			t.Fatalf("cursor %q → %d is not canonical", s, seq)
		}
	})
}

// BenchmarkVerifyAudit walks a log of 10,000 entries (written by 32
// goroutines, so they group-commit).
func BenchmarkVerifyAudit(b *testing.B) {
	a := OpenTest(b)
	const n, workers = 10000, 32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := a.Audit(b.Context(), AuditEvent{Actor: "alice", Action: "play", Target: fmt.Sprint(i), OK: true}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ResetTimer()
	for b.Loop() {
		res, err := a.VerifyAudit(b.Context())
		if err != nil || !res.Valid || res.Entries != n {
			b.Fatal(err, res)
		}
	}
	b.ReportMetric(float64(n), "entries")
}

// TestAuditSourceWithoutPort: every door's source is stored as the
// address alone, whatever form the door passes.
func TestAuditSourceWithoutPort(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	for _, remote := range []string{"192.0.2.1:5060", "[2001:db8::1]:443", "192.0.2.7", "pipe"} {
		if err := a.Audit(ctx, AuditEvent{Actor: "alice", Action: "play", Remote: remote, OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	evs, _, err := a.AuditLog(ctx, AuditQuery{Action: "play", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range evs {
		got[e.Remote] = true
	}
	for _, want := range []string{"192.0.2.1", "2001:db8::1", "192.0.2.7", "pipe"} {
		if !got[want] {
			t.Errorf("source %q not stored; got %v", want, got)
		}
	}
}
