package mail

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/smtptest"
)

// memQueue is a Queue in memory, as the store keeps it.
type memQueue struct {
	mu    sync.Mutex
	items map[uint64]*queued
	seq   uint64
}

type queued struct {
	p      Pending
	next   time.Time
	state  string // pending, sent, failed, dropped
	reason string
	sentAt time.Time
}

func newMemQueue() *memQueue { return &memQueue{items: map[uint64]*queued{}} }

func (q *memQueue) add(m Message, queued_, expires time.Time) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.items[q.seq] = &queued{p: Pending{ID: q.seq, Msg: m, Queued: queued_, Expires: expires}, next: queued_, state: "pending"}
	return q.seq
}

func (q *memQueue) get(id uint64) queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.items[id]
}

func (q *memQueue) Due(_ context.Context, now time.Time, max int) ([]Pending, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Pending
	for _, it := range q.items {
		if it.state == "pending" && !it.next.After(now) {
			out = append(out, it.p)
		}
	}
	slices.SortFunc(out, func(a, b Pending) int { return int(a.ID) - int(b.ID) })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

func (q *memQueue) set(id uint64, f func(*queued)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	f(q.items[id])
	return nil
}

func (q *memQueue) Sent(_ context.Context, id uint64, at time.Time) error {
	return q.set(id, func(it *queued) { it.state, it.sentAt = "sent", at })
}

func (q *memQueue) Retry(_ context.Context, id uint64, next time.Time, reason string) error {
	return q.set(id, func(it *queued) { it.p.Attempts++; it.next, it.reason = next, reason })
}

func (q *memQueue) Failed(_ context.Context, id uint64, reason string) error {
	return q.set(id, func(it *queued) { it.state, it.reason = "failed", reason })
}

func (q *memQueue) Dropped(_ context.Context, id uint64, reason string) error {
	return q.set(id, func(it *queued) { it.state, it.reason = "dropped", reason })
}

// clock is the one time source of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)} }

type fixture struct {
	srv   *smtptest.Server
	q     *memQueue
	clk   *clock
	d     *Deliverer
	log   *bytes.Buffer
	logMu *sync.Mutex
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newFixture(t *testing.T) *fixture {
	srv := smtptest.Start(t, smtptest.Options{Username: testUser, Password: testPassword})
	f := &fixture{srv: srv, q: newMemQueue(), clk: newClock(), log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	log := slog.New(slog.NewTextHandler(syncWriter{f.logMu, f.log}, nil))
	f.d = NewDeliverer(f.q, newSMTP(t, testConfig(t, srv, SecurityStartTLS, testPassword)), f.clk.now, log)
	return f
}

func (f *fixture) logs() string { f.logMu.Lock(); defer f.logMu.Unlock(); return f.log.String() }

func (f *fixture) once(t *testing.T, wantSent int) {
	t.Helper()
	n, err := f.d.Once(waitCtx(t))
	if err != nil || n != wantSent {
		t.Fatalf("Once: sent %d, %v; want %d", n, err, wantSent)
	}
}

var codeMail = Message{To: "kari@example.net", ToName: "Kari", Subject: "Your one-time code",
	Body: "Your one-time code is 482913. The code is valid for 10 minutes.", Secret: "482913"}

// TestDeliverRetryThenSent: a 4xx reply and then a server that is down
// defer the mail with growing back-off; once the server is up and the
// clock has passed the back-off, it is delivered.
func TestDeliverRetryThenSent(t *testing.T) {
	f := newFixture(t)
	start := f.clk.now()
	id := f.q.add(Message{To: "kari@example.net", Subject: "Recordings", Body: "https://archive.example.com/p/abc"}, start, time.Time{})

	f.srv.RefuseRcpt(451)
	f.once(t, 0)
	it := f.q.get(id)
	if it.state != "pending" || it.p.Attempts != 1 || !it.next.Equal(start.Add(30*time.Second)) || !strings.Contains(it.reason, "451") {
		t.Fatalf("after 451: %+v", it)
	}
	f.srv.RefuseRcpt(0)
	f.srv.Stop()
	f.clk.add(10 * time.Second)
	f.once(t, 0) // not due yet: nothing tried
	if f.q.get(id).p.Attempts != 1 {
		t.Fatal("retried before the back-off passed")
	}
	f.clk.add(20 * time.Second)
	f.once(t, 0) // due, server down
	it = f.q.get(id)
	if it.state != "pending" || it.p.Attempts != 2 || !it.next.Equal(f.clk.now().Add(time.Minute)) {
		t.Fatalf("after server down: %+v", it)
	}
	if err := f.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	f.once(t, 0) // up again, but the back-off has not passed
	if len(f.srv.Messages()) != 0 {
		t.Fatal("sent before the back-off passed")
	}
	f.clk.add(time.Minute)
	f.once(t, 1)
	if it := f.q.get(id); it.state != "sent" || !it.sentAt.Equal(f.clk.now()) {
		t.Fatalf("after server up: %+v", it)
	}
	m, err := f.srv.WaitMessage(waitCtx(t), "kari@example.net")
	if err != nil || strings.TrimSpace(m.Body) != "https://archive.example.com/p/abc" {
		t.Fatalf("delivered %q, %v", m.Body, err)
	}
	f.once(t, 0) // sent once only
	if n := len(f.srv.Messages()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

// TestDeliverFailed: a 5xx reply fails the mail at once.
func TestDeliverFailed(t *testing.T) {
	f := newFixture(t)
	id := f.q.add(Message{To: "gone@example.net", Body: "x"}, f.clk.now(), time.Time{})
	f.srv.RefuseRcpt(550)
	f.once(t, 0)
	if it := f.q.get(id); it.state != "failed" || !strings.Contains(it.reason, "550") {
		t.Fatalf("after 550: %+v", it)
	}
	f.srv.RefuseRcpt(0)
	f.clk.add(time.Hour)
	f.once(t, 0)
	if len(f.srv.Messages()) != 0 {
		t.Fatal("a failed mail was sent later")
	}
	bad := f.q.add(Message{To: "not an address", Body: "x"}, f.clk.now(), time.Time{})
	f.once(t, 0)
	if it := f.q.get(bad); it.state != "failed" {
		t.Fatalf("bad address: %+v", it)
	}
}

// TestDeliverGiveUp: temporary failures are retried for three days, then
// the mail fails.
func TestDeliverGiveUp(t *testing.T) {
	f := newFixture(t)
	id := f.q.add(Message{To: "kari@example.net", Body: "x"}, f.clk.now(), time.Time{})
	f.srv.RefuseRcpt(421)
	tries := 0
	for f.q.get(id).state == "pending" && tries < 200 {
		f.clk.t = f.q.get(id).next // the mutex is not needed: Once is not running
		f.once(t, 0)
		tries++
	}
	it := f.q.get(id)
	if it.state != "failed" || !strings.Contains(it.reason, "three days") {
		t.Fatalf("after %d tries: %+v", tries, it)
	}
	if elapsed := f.clk.now().Sub(it.p.Queued); elapsed < GiveUp || elapsed > GiveUp+time.Hour {
		t.Fatalf("gave up after %v", elapsed)
	}
	t.Logf("%d tries over %v", tries, f.clk.now().Sub(it.p.Queued))
}

// TestDeliverExpired: a code mail still queued when its code expires is
// dropped and never sent, even once the server is back; one whose next
// try would come after its expiry is dropped at once.
func TestDeliverExpired(t *testing.T) {
	f := newFixture(t)
	id := f.q.add(codeMail, f.clk.now(), f.clk.now().Add(10*time.Minute))
	f.clk.add(10 * time.Minute)
	f.once(t, 0)
	if it := f.q.get(id); it.state != "dropped" || it.p.Attempts != 0 {
		t.Fatalf("after expiry: %+v", it)
	}
	if len(f.srv.Messages()) != 0 {
		t.Fatal("an expired code mail was sent")
	}

	f.srv.Stop()
	id = f.q.add(codeMail, f.clk.now(), f.clk.now().Add(10*time.Minute))
	var tries []time.Duration
	for f.q.get(id).state == "pending" && len(tries) < 10 {
		f.clk.t = f.q.get(id).next
		tries = append(tries, f.clk.now().Sub(f.q.get(id).p.Queued))
		f.once(t, 0)
	}
	// Tries at 0, 30 s, 1m30s, 3m30s and 7m30s; the next would be at 15m30s.
	want := []time.Duration{0, 30 * time.Second, 90 * time.Second, 210 * time.Second, 450 * time.Second}
	if it := f.q.get(id); it.state != "dropped" || !slices.Equal(tries, want) || !strings.Contains(it.reason, "connect") {
		t.Fatalf("tries at %v: %+v", tries, it)
	}
	if err := f.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	f.clk.add(time.Hour)
	f.once(t, 0)
	if len(f.srv.Messages()) != 0 {
		t.Fatal("a dropped code mail was sent")
	}
}

// TestDeliverLogs: the log names the recipient and the id, never the
// subject, the body or the code.
func TestDeliverLogs(t *testing.T) {
	f := newFixture(t)
	f.q.add(codeMail, f.clk.now(), f.clk.now().Add(10*time.Minute))
	f.srv.RefuseRcpt(451)
	f.once(t, 0)
	f.srv.RefuseRcpt(0)
	f.clk.add(time.Minute)
	f.once(t, 1)
	f.q.add(codeMail, f.clk.now(), f.clk.now())
	f.once(t, 0)
	f.srv.RefuseRcpt(550)
	f.q.add(codeMail, f.clk.now(), time.Time{})
	f.once(t, 0)
	logs := f.logs()
	for _, w := range []string{"mail deferred", "mail sent", "mail dropped", "mail failed", "kari@example.net", "id=1"} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
	for _, secret := range []string{"482913", codeMail.Subject, "valid for", testPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q:\n%s", secret, logs)
		}
	}
}

// TestRun: a running Deliverer sends a mail queued after it started as
// soon as it is kicked, and stops when its context ends.
func TestRun(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.d.Run(ctx); close(done) }()
	f.q.add(Message{To: "first@example.net", Body: "one"}, f.clk.now(), time.Time{})
	f.d.Kick()
	if _, err := f.srv.WaitMessage(waitCtx(t), "first@example.net"); err != nil {
		t.Fatal(err)
	}
	f.q.add(Message{To: "second@example.net", Body: "two"}, f.clk.now(), time.Time{})
	f.d.Kick()
	if _, err := f.srv.WaitMessage(waitCtx(t), "second@example.net"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
	case <-waitCtx(t).Done():
		t.Fatal("Run did not return")
	}
}
