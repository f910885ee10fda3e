package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
)

// delivery is one queued message for one webhook.
type delivery struct {
	ID        string    `json:"id"` // the webhook-id without "msg_"
	Hook      string    `json:"hook"`
	Recording string    `json:"recording"` // the recording whose finish made the call complete
	CallID    string    `json:"callId,omitempty"`
	First     time.Time `json:"first"` // start of its two days
	Due       time.Time `json:"due"`
	Tries     int       `json:"tries"`
}

// Retry schedule.
const (
	retryBase   = 30 * time.Second
	retryMax    = 6 * time.Hour
	retryWindow = 48 * time.Hour
	// scanWindow is how long before the scan's cursor the appliance may
	// have received a recording that finished after it (a call streamed
	// that long), and how much older than its finish the call's own time
	// kept by an import may be for the call to be announced.
	scanWindow  = 48 * time.Hour
	seenKept    = 7 * 24 * time.Hour
	maxBodyRead = 4 << 10
)

func queueKey(hook, id string) []byte { return []byte(hook + "/" + id) }

func (s *Service) pendingTx(tx *bolt.Tx) map[string]int {
	n := map[string]int{}
	tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
		if h, _, ok := strings.Cut(string(k), "/"); ok {
			n[h]++
		}
		return nil
	})
	return n
}

// renewTx gives hook's queued deliveries a fresh two days, due now.
func (s *Service) renewTx(tx *bolt.Tx, hook string, now time.Time) {
	b := tx.Bucket(bucketQueue)
	p := []byte(hook + "/")
	var ds []*delivery
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		d := new(delivery)
		if err := s.open(bucketQueue, k, v, d); err != nil {
			s.log.Error("webhook: unreadable delivery", "err", err)
			continue
		}
		ds = append(ds, d)
	}
	for _, d := range ds {
		d.First, d.Due, d.Tries = now, now, 0
		if err := s.putDeliveryTx(tx, d); err != nil {
			s.log.Error("webhook: renewing a delivery", "err", err)
		}
	}
}

func (s *Service) putDeliveryTx(tx *bolt.Tx, d *delivery) error {
	k := queueKey(d.Hook, d.ID)
	v, err := s.seal(bucketQueue, k, d)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketQueue).Put(k, v)
}

// Completed is told that rec finished. When no recording of its call is
// still recording, each matching enabled webhook gets a delivery queued,
// once per recording.
func (s *Service) Completed(ctx context.Context, rec *archive.Recording) error {
	if rec == nil || rec.State == archive.StateRecording {
		return nil
	}
	if oldImport(rec) {
		return nil // an old call imported: not a call that just ended
	}
	recs, err := s.callRecordings(ctx, rec)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.State == archive.StateRecording {
			return nil // the last segment to finish announces the call
		}
	}
	det := s.details(ctx, recs)
	now := s.opt.Now()
	queued := 0
	err = s.db.Update(func(tx *bolt.Tx) error {
		seen := tx.Bucket(bucketSeen)
		rk := []byte(rec.ID.String())
		if seen.Get(rk) != nil {
			return nil
		}
		if err := seen.Put(rk, be64(now.UnixNano())); err != nil {
			return err
		}
		return tx.Bucket(bucketHooks).ForEach(func(k, v []byte) error {
			var h stored
			if err := s.open(bucketHooks, k, v, &h); err != nil {
				return err
			}
			if !h.Enabled || !matches(&h.Webhook, recs, det) {
				return nil
			}
			sum := sha256.Sum256([]byte(h.ID + "/" + rec.ID.String()))
			queued++
			return s.putDeliveryTx(tx, &delivery{ID: hex.EncodeToString(sum[:12]), Hook: h.ID,
				Recording: rec.ID.String(), CallID: rec.CallGUID, First: now, Due: now})
		})
	})
	if err != nil {
		return fmt.Errorf("webhook: queue: %w", err)
	}
	if queued > 0 {
		s.log.Info("webhook deliveries queued", "recording", rec.ID.String(), "deliveries", queued)
		s.Kick()
	}
	return nil
}

// oldImport reports a recording callvault import stored whose call began
// more than scanWindow before the appliance finished storing it: an old
// call, not one that just ended. The mark is the appliance's
// (archive.Recording.Imported: the importer says so), and a phone's
// capture times alone never count: its clock may be anything (1970, days
// behind). An import that kept its call's own time (--keep-call-time:
// archive.SetRetentionBase) is such an import too, also when stored by a
// build that did not mark imports.
func oldImport(rec *archive.Recording) bool {
	if rec.Imported && !rec.StartTime.IsZero() && rec.Finished.Sub(rec.StartTime) > scanWindow {
		return true
	}
	base := rec.RetentionBase
	return !base.IsZero() && !base.Equal(rec.Received) && rec.Finished.Sub(base) > scanWindow
}

// callRecordings returns the recordings of rec's call that nobody binned
// (rec alone when it has no call id).
func (s *Service) callRecordings(ctx context.Context, rec *archive.Recording) ([]*archive.Recording, error) {
	if rec.CallGUID == "" {
		return []*archive.Recording{rec}, nil
	}
	recs, err := s.arc.ByCall(ctx, rec.CallGUID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		recs = []*archive.Recording{rec}
	}
	return recs, nil
}

func matches(h *Webhook, recs []*archive.Recording, det Details) bool {
	if len(h.Users) > 0 {
		ok := false
		for _, r := range recs {
			for _, u := range h.Users {
				if r.User != "" && strings.EqualFold(u, r.User) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if len(h.AnswerGroups) > 0 && det.AnswerGroupID != "" {
		for _, g := range h.AnswerGroups {
			if g == det.AnswerGroupID {
				return true
			}
		}
		return false
	}
	return true
}

// Scan queues what finished since the cursor and was not yet handled
// (what a crash between the archive's commit and the queue left), then
// moves the cursor to an hour ago.
func (s *Service) Scan(ctx context.Context) error {
	var cur int64
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyCursor); len(v) == 8 {
			cur = int64(bytesToU64(v))
		}
		return nil
	})
	since := time.Unix(0, cur)
	start := s.opt.Now()
	// By the appliance's clock: received at most scanWindow before the
	// cursor (an import that kept an older call time is left out, as
	// Completed leaves it out), finished after it.
	q := archive.Query{From: since.Add(-scanWindow), Limit: 1000,
		Match: func(r *archive.Recording) bool { return r.State != archive.StateRecording && !r.Finished.Before(since) }}
	for {
		recs, next, err := s.arc.ListReceived(ctx, q)
		if err != nil {
			return fmt.Errorf("webhook: scan: %w", err)
		}
		// Oldest first, so calls are announced in order.
		for i := len(recs) - 1; i >= 0; i-- {
			if err := s.Completed(ctx, recs[i]); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		c := start.Add(-time.Hour)
		if c.Before(since) {
			return nil
		}
		// Forget recordings handled long ago.
		seen := tx.Bucket(bucketSeen).Cursor()
		for k, v := seen.First(); k != nil; k, v = seen.Next() {
			if len(v) == 8 && start.Sub(time.Unix(0, int64(bytesToU64(v)))) > seenKept {
				if err := seen.Delete(); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketMeta).Put(keyCursor, be64(c.UnixNano()))
	})
}

func bytesToU64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// Run waits for SetBaseURL, scans for missed recordings, then delivers
// until ctx ends.
func (s *Service) Run(ctx context.Context) {
	select {
	case <-s.baseSet:
	case <-ctx.Done():
		return
	}
	if err := s.Scan(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("webhook scan failed", "err", err)
	}
	lastScan := s.opt.Now()
	t := time.NewTicker(s.opt.Poll)
	defer t.Stop()
	for {
		s.deliverDue(ctx)
		if now := s.opt.Now(); now.Sub(lastScan) >= time.Hour {
			lastScan = now
			if err := s.Scan(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("webhook scan failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			s.workers.Wait()
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// deliverDue starts, for each enabled webhook with due deliveries and
// none in flight, a worker that makes one attempt at each in order: a
// slow endpoint holds up only its own deliveries.
func (s *Service) deliverDue(ctx context.Context) {
	now := s.opt.Now()
	due := map[string][]*delivery{}
	err := s.db.View(func(tx *bolt.Tx) error {
		enabled := map[string]bool{}
		tx.Bucket(bucketHooks).ForEach(func(k, v []byte) error {
			var h stored
			if s.open(bucketHooks, k, v, &h) == nil {
				enabled[h.ID] = h.Enabled
			}
			return nil
		})
		return tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			d := new(delivery)
			if err := s.open(bucketQueue, k, v, d); err != nil {
				s.log.Error("webhook: unreadable delivery", "err", err)
				return nil
			}
			if enabled[d.Hook] && !d.Due.After(now) {
				due[d.Hook] = append(due[d.Hook], d)
			}
			return nil
		})
	})
	if err != nil {
		s.log.Error("webhook: reading the queue", "err", err)
		return
	}
	for hook, ds := range due {
		s.mu.Lock()
		if s.busy[hook] || len(s.busy) >= maxWorkers {
			s.mu.Unlock()
			continue
		}
		s.busy[hook] = true
		s.mu.Unlock()
		slices.SortFunc(ds, func(a, b *delivery) int { return a.Due.Compare(b.Due) })
		s.workers.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.busy, hook)
				s.mu.Unlock()
			}()
			for _, d := range ds {
				if ctx.Err() != nil {
					return
				}
				s.attempt(ctx, d)
			}
		})
	}
}

// maxWorkers bounds the webhooks delivered to at once.
const maxWorkers = 8

// outcome of one attempt.
type outcome struct {
	code       int
	err        error
	retryAfter time.Duration
}

func (o outcome) ok() bool { return o.err == nil && o.code >= 200 && o.code < 300 }

func (s *Service) attempt(ctx context.Context, queued *delivery) {
	// The queue is read again here: the pass that queued this worker may
	// have read it before another worker for the hook recorded an attempt
	// at the same delivery (delivered, dropped or put off), and posting
	// that stale copy would deliver twice.
	now := s.opt.Now()
	var h *stored
	var d *delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if h, err = s.hookTx(tx, queued.Hook); err != nil {
			return err
		}
		k := queueKey(queued.Hook, queued.ID)
		if v := tx.Bucket(bucketQueue).Get(k); v != nil {
			d = new(delivery)
			return s.open(bucketQueue, k, v, d)
		}
		return nil
	})
	if err != nil || d == nil || !h.Enabled || d.Due.After(now) {
		return
	}
	body, err := s.body(ctx, d, now)
	var o outcome
	if err != nil {
		o.err = err
	} else {
		o = s.post(ctx, h, d, body, now)
	}
	if ctx.Err() != nil && o.code == 0 {
		return // cut short by the shutdown: it does not count
	}
	a := &Attempt{Time: now, Delivery: "msg_" + d.ID, CallID: d.CallID, Code: o.code}
	if o.err != nil {
		a.Error = o.err.Error()
	}
	disable := ""
	switch {
	case o.ok():
		a.Status = "delivered"
	case errors.Is(o.err, errGone):
		a.Status = "dropped"
	case o.code == http.StatusGone:
		a.Status, a.Error = "dropped", "410 Gone"
		disable = "the endpoint answered 410 Gone"
	default:
		if a.Error == "" {
			a.Error = fmt.Sprintf("answer %d", o.code)
		}
		d.Tries++
		wait := backoff(d.Tries)
		if o.retryAfter > wait {
			wait = min(o.retryAfter, retryMax)
		}
		next := now.Add(wait)
		if next.Sub(d.First) > retryWindow {
			a.Status = "dropped"
			disable = fmt.Sprintf("no delivery succeeded for two days (%d attempts); last: %s", d.Tries, a.Error)
		} else {
			a.Status, a.Next = "failed", next
			d.Due = next
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketHooks).Get([]byte(d.Hook)) == nil {
			return nil // deleted meanwhile
		}
		if err := s.addAttemptTx(tx, d.Hook, a); err != nil {
			return err
		}
		if a.Status == "failed" {
			return s.putDeliveryTx(tx, d)
		}
		if err := tx.Bucket(bucketQueue).Delete(queueKey(d.Hook, d.ID)); err != nil {
			return err
		}
		if disable != "" {
			h, err := s.hookTx(tx, d.Hook)
			if err != nil {
				return err
			}
			h.Enabled, h.DisabledReason, h.DisabledAt = false, disable, now
			return s.putHookTx(tx, h)
		}
		return nil
	})
	if err != nil {
		s.log.Error("webhook: recording an attempt", "err", err)
	}
	log := s.log.With("webhook", d.Hook, "delivery", "msg_"+d.ID, "status", a.Status, "code", a.Code)
	switch {
	case disable != "":
		log.Warn("webhook disabled", "reason", disable)
	case a.Status == "delivered":
		log.Info("webhook delivered")
	default:
		log.Info("webhook attempt failed", "err", a.Error, "next", a.Next)
	}
}

// backoff is the wait after the n-th failed try: 30 s doubling up to 6 h,
// ±20 %.
func backoff(n int) time.Duration {
	w := retryMax
	if n < 20 {
		w = min(retryBase<<(n-1), retryMax)
	}
	j := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(w) * j)
}

// Sign returns the webhook-signature value for id, timestamp and body
// under secret (Standard Webhooks, v1).
func Sign(secret, id string, ts int64, body []byte) string {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := decodeB64(rest); err == nil {
			key = k
		}
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func (s *Service) post(ctx context.Context, h *stored, d *delivery, body []byte, now time.Time) outcome {
	if err := s.CheckURL(h.URL); err != nil {
		return outcome{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.Config.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: errors.New("bad endpoint URL")}
	}
	id := "msg_" + d.ID
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callvault-webhooks")
	req.Header.Set("Authorization", "Bearer "+h.Secret)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(h.Secret, id, ts, body))
	resp, err := s.hc.Do(req)
	if err != nil {
		return outcome{err: cleanErr(err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyRead))
	o := outcome{code: resp.StatusCode}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			o.retryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			o.retryAfter = t.Sub(now)
		}
	}
	return o
}

// cleanErr shortens a client error to what an admin needs, without the URL.
func cleanErr(err error) error {
	var ae *addrError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		return errors.New("timed out")
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return errors.New(inner.Error())
		}
	}
	return err
}

// errGone: the call's recordings no longer exist.
var errGone = errors.New("the call's recordings are gone")

func (s *Service) body(ctx context.Context, d *delivery, now time.Time) ([]byte, error) {
	var recs []*archive.Recording
	if d.CallID != "" {
		all, err := s.arc.ByCall(ctx, d.CallID)
		if err != nil {
			return nil, err
		}
		recs = all
	}
	if len(recs) == 0 {
		id, err := archive.ParseID(d.Recording)
		if err != nil {
			return nil, errGone
		}
		r, err := s.arc.Get(ctx, id)
		if errors.Is(err, archive.ErrNotFound) {
			return nil, errGone
		}
		if err != nil {
			return nil, err
		}
		if !r.Binned.IsZero() {
			return nil, errGone
		}
		recs = []*archive.Recording{r}
	}
	p := s.payload(ctx, recs, s.details(ctx, recs), now)
	return json.Marshal(p)
}
