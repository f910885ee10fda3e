package mail

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/callvault/callvault/internal/smtptest"
)

// TestRunWaitsForBackoff: Run, after a 4xx, tries again when the back-off
// has passed and not before, without a Kick. The bubble's clock is the
// Deliverer's clock and its timer's; the server runs outside the bubble
// (in the clear, as the bubble's clock is far from the certificate's
// validity).
func TestRunWaitsForBackoff(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{NoTLS: true, Username: testUser, Password: testPassword})
	s := newSMTP(t, testConfig(t, srv, SecurityNone, testPassword))
	srv.RefuseRcpt(451)
	synctest.Test(t, func(t *testing.T) {
		q := newMemQueue()
		id := q.add(Message{To: "kari@example.net", Body: "link"}, time.Now(), time.Time{})
		d := NewDeliverer(q, s, time.Now, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()
		if it := q.get(id); it.p.Attempts != 1 || it.state != "pending" {
			t.Fatalf("after the first try: %+v", it)
		}
		srv.RefuseRcpt(0)
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if it := q.get(id); it.p.Attempts != 1 || it.state != "pending" || len(srv.Messages()) != 0 {
			t.Fatalf("tried before the back-off passed: %+v", it)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if it := q.get(id); it.state != "sent" || len(srv.Messages()) != 1 {
			t.Fatalf("after the back-off: %+v", it)
		}
		// Nothing due: Run waits a minute at most (from the send at
		// 30 s to 90 s), then looks again.
		q.add(Message{To: "ola@example.net", Body: "link"}, time.Now(), time.Time{})
		time.Sleep(58 * time.Second)
		synctest.Wait()
		if len(srv.Messages()) != 1 {
			t.Fatal("sent before the minute passed without a Kick")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if len(srv.Messages()) != 2 {
			t.Fatal("a mail queued without a Kick waited more than a minute")
		}
	})
}
