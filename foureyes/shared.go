package foureyes

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Several daemons on one archive (archive.Archive.Shared). Every daemon
// keeps the whole 4-eyes state in memory, as on one daemon, and mirrors
// it through the archive's 4-eyes records (archive.SwapFourEyes), which
// the other daemons follow (archive.WatchFourEyes):
//
//   - a ward record per user who asked: the state, the supervisor, since,
//     who granted, and a revision; a daemon writes its change only over
//     the revision its state rests on, so of two daemons changing one
//     user at once the first commit wins and the other takes it;
//   - a lease per supervisor and daemon holding a page of theirs:
//     renewed at Join and every answered ping, deleted when the daemon's
//     last page of the supervisor is gone after the grace. Each renewal
//     writes a new sequence number, and another daemon counts the lease
//     valid for Options.Lease after it saw the last renewal, by its own
//     clock: the daemons' clocks need not agree. A lease no daemon saw
//     renewed for twice that is a dead daemon's, and the next daemon to
//     check deletes it.
//
// A supervisor counts as present while a page is connected here or
// another daemon's lease is valid. A daemon whose mirror holds grants of
// a supervisor with neither ends them as timed out, once: the daemon whose
// write of the ended record commits audits it. Audit entries are written
// by the daemon where the event happened; a daemon applying another's
// change cancels or starts the grant's context and writes nothing.
type shared struct {
	node  string        // names this daemon's leases
	wake  chan struct{} // something to write
	kick  chan struct{} // another daemon changed the records
	stop  context.CancelFunc
	ended chan struct{} // closed when the loop returned
	unw   func()

	close   sync.Once
	wmu     sync.Mutex    // one flush at a time
	rmu     sync.Mutex    // one reload at a time
	kicks   atomic.Uint64 // counts the changes reported (WatchFourEyes) and conflicts
	applied uint64        // kicks answered by the reloads so far (under rmu)

	dirty map[string]bool // ward keys to write (under f.mu)
	// writing holds the revision of each ward record this daemon is
	// committing (under f.mu): a reload meanwhile finds it stored before
	// the writer has taken it in, and must not take it for another
	// daemon's change (it would overwrite what changed here since).
	writing map[string]uint64
	leases  map[string]bool                 // supervisor keys whose lease to write (under f.mu)
	seq     uint64                          // the last sequence number written in a lease (under f.mu)
	others  map[string]map[string]seenLease // supervisor key → daemon → its lease (under f.mu)
	away    map[string]bool                 // supervisors whose leases lapsed at the last check (under f.mu)
}

// seenLease is another daemon's lease as this daemon last saw it.
type seenLease struct {
	r     record    // as stored
	valid time.Time // by this daemon's clock: when it saw r, plus Options.Lease
}

// record is a stored 4-eyes record (JSON, sealed by the archive).
type record struct {
	Kind string `json:"k"` // "ward" or "lease"
	// Ward.
	Login      string    `json:"login"`
	Rev        uint64    `json:"rev,omitempty"`
	Name       string    `json:"name,omitempty"`
	Supervisor string    `json:"sup,omitempty"`
	SupName    string    `json:"supName,omitempty"`
	State      string    `json:"state,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	GrantedBy  string    `json:"by,omitempty"`
	GrantIP    string    `json:"ip,omitempty"`
	Grant      string    `json:"grant,omitempty"`
	// Lease (Login is the supervisor). Until is the writer's clock's
	// idea of the lease's end, for people reading the records; the
	// daemons go by Seq, which each renewal changes.
	Node  string    `json:"node,omitempty"`
	Until time.Time `json:"until,omitzero"`
	Seq   uint64    `json:"seq,omitempty"`
}

func wardName(login string) string        { return "ward\x00" + feKey(login) }
func leaseName(login, node string) string { return "lease\x00" + feKey(login) + "\x00" + node }

// startShared loads the stored state and starts following it.
func (f *Access) startShared() {
	ctx, cancel := context.WithCancel(context.Background())
	sh := &shared{
		node: rand.Text(), wake: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		stop: cancel, ended: make(chan struct{}),
		dirty: map[string]bool{}, writing: map[string]uint64{}, leases: map[string]bool{}, others: map[string]map[string]seenLease{},
	}
	f.sh = sh
	sh.kicks.Store(1) // the first load
	sh.unw = f.arc.WatchFourEyes(sh.changed)
	f.reload(ctx)
	go f.follow(ctx)
}

// changed notes that the stored state changed.
func (sh *shared) changed() {
	sh.kicks.Add(1)
	signal(sh.kick)
}

// fresh brings the state up to date with what other daemons committed
// before the call, and writes this daemon's changes: an answer given
// after fresh rests on every change committed before it.
func (f *Access) fresh(ctx context.Context) {
	if f == nil || f.sh == nil {
		return
	}
	f.flush(ctx)
	if err := f.arc.CatchUp(ctx); err != nil {
		f.log.Warn("foureyes: reading the state other daemons share", "err", err)
	}
	f.reload(ctx)
}

// freshNow is fresh where no request waits (a timer).
func (f *Access) freshNow() {
	if f.sh == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.fresh(ctx)
}

// publish writes this daemon's changes before an answer is given, so
// that a request to another daemon that follows sees them.
func (f *Access) publish(ctx context.Context) {
	if f != nil && f.sh != nil {
		f.flush(context.WithoutCancel(ctx))
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// closeShared stops following and ends this daemon's part: its pages
// close and the grants' contexts here are cancelled, but the grants are
// not ended for the other daemons (a supervisor's page that reconnects
// to one of them keeps them); they end there when this daemon's leases
// lapse, as when it dies. Waiting changes are written first.
func (f *Access) closeShared() { f.sh.close.Do(f.closeSharedOnce) }

func (f *Access) closeSharedOnce() {
	f.sh.unw()
	f.sh.stop()
	<-f.sh.ended
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f.flush(ctx)
	cancel()
	f.mu.Lock()
	close(f.done)
	for _, p := range f.sups {
		p.closeLocked()
	}
	for _, w := range f.wards {
		if w.cancel != nil {
			w.cancel()
		}
	}
	f.notifyLocked()
	f.closed = true
	f.mu.Unlock()
	f.audits.Wait()
}

// dirtyLocked notes that w's state is to be written. f.mu is held.
func (f *Access) dirtyLocked(w *ward) {
	if f.sh == nil {
		return
	}
	f.sh.dirty[feKey(w.login)] = true
	signal(f.sh.wake)
}

// leaseLocked notes that supervisor login's lease is to be renewed or
// dropped. f.mu is held.
func (f *Access) leaseLocked(login string) {
	if f.sh == nil {
		return
	}
	f.sh.leases[feKey(login)] = true
	signal(f.sh.wake)
}

// elsewhereLocked reports whether another daemon holds a valid lease of
// supervisor login. f.mu is held.
func (f *Access) elsewhereLocked(login string) bool {
	if f.sh == nil {
		return false
	}
	now := f.opts.Now()
	for _, l := range f.sh.others[feKey(login)] {
		if l.valid.After(now) {
			return true
		}
	}
	return false
}

// follow writes this daemon's changes, applies the others' and ends the
// grants whose supervisor is present nowhere, until ctx ends.
func (f *Access) follow(ctx context.Context) {
	defer close(f.sh.ended)
	t := time.NewTicker(f.opts.Ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.sh.wake:
			f.flush(ctx)
		case <-f.sh.kick:
			f.reload(ctx)
		case <-t.C:
			f.flush(ctx) // leases whose renewal failed
			f.lapse(ctx)
			f.dropStale(ctx)
		}
	}
}

// reload applies the stored records, unless no change was reported
// since the last reload.
func (f *Access) reload(ctx context.Context) {
	f.sh.rmu.Lock()
	defer f.sh.rmu.Unlock()
	gen := f.sh.kicks.Load()
	if f.sh.applied >= gen {
		return
	}
	raws, err := f.arc.FourEyesRecords(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("foureyes: reading the state other daemons share", "err", err)
		}
		return
	}
	others := map[string]map[string]seenLease{}
	f.mu.Lock()
	now := f.opts.Now()
	for _, raw := range raws {
		var r record
		if json.Unmarshal(raw, &r) != nil || r.Login == "" || len(r.Login) > maxLogin {
			continue
		}
		switch r.Kind {
		case "lease":
			if r.Node == f.sh.node {
				continue
			}
			// A lease seen for the first time counts as renewed now:
			// whether its daemon still lives shows within Lease.
			k := feKey(r.Login)
			l, ok := f.sh.others[k][r.Node]
			if !ok || !sameLease(l.r, r) {
				l = seenLease{r: r, valid: now.Add(f.opts.Lease)}
			}
			if others[k] == nil {
				others[k] = map[string]seenLease{}
			}
			others[k][r.Node] = l
		case "ward":
			f.applyLocked(r)
		}
	}
	f.sh.others = others
	f.notifyLocked() // presence may have changed
	f.mu.Unlock()
	f.sh.applied = gen
}

// dropStale deletes the leases this daemon has not seen renewed for
// twice Options.Lease (their daemons died), unless they were renewed
// meanwhile.
func (f *Access) dropStale(ctx context.Context) {
	var stale []record
	f.mu.Lock()
	expired := f.opts.Now().Add(-f.opts.Lease)
	for _, byNode := range f.sh.others {
		for _, l := range byNode {
			if l.valid.Before(expired) {
				stale = append(stale, l.r)
			}
		}
	}
	f.mu.Unlock()
	for _, r := range stale {
		_, _ = f.arc.SwapFourEyes(ctx, leaseName(r.Login, r.Node), func(old []byte) ([]byte, bool) {
			var o record
			return nil, json.Unmarshal(old, &o) == nil && sameLease(o, r)
		})
	}
}

// sameLease reports whether a and b are one renewal of a lease.
func sameLease(a, b record) bool {
	return a.Node == b.Node && a.Seq == b.Seq && a.Until.Equal(b.Until)
}

// applyLocked takes another daemon's newer ward record: the grant's
// context starts or is cancelled here to match. f.mu is held.
func (f *Access) applyLocked(r record) {
	k := feKey(r.Login)
	w := f.wards[k]
	if w == nil {
		w = &ward{login: r.Login, state: None}
		f.wards[k] = w
	}
	if r.Rev <= w.rev || f.sh.writing[k] == r.Rev {
		return
	}
	if w.state == Granted && (r.State != Granted || r.Grant != w.grant) {
		w.cancel()
		w.ctx, w.cancel = nil, nil
	}
	if r.State == Granted && w.ctx == nil {
		w.ctx, w.cancel = context.WithCancel(context.Background())
	}
	w.login, w.name, w.supervisor, w.supName = r.Login, r.Name, r.Supervisor, r.SupName
	w.state, w.reason, w.since = r.State, r.Reason, r.Since
	w.grantedBy, w.grantIP, w.grant, w.rev = r.GrantedBy, r.GrantIP, r.Grant, r.Rev
	delete(f.sh.dirty, k) // the first commit wins
}

// wardRecordLocked is w's state as stored. f.mu is held.
func wardRecordLocked(w *ward) record {
	return record{Kind: "ward", Login: w.login, Name: w.name, Supervisor: w.supervisor, SupName: w.supName,
		State: w.state, Reason: w.reason, Since: w.since, GrantedBy: w.grantedBy, GrantIP: w.grantIP, Grant: w.grant}
}

// flush writes the changed wards and leases.
func (f *Access) flush(ctx context.Context) {
	f.sh.wmu.Lock()
	defer f.sh.wmu.Unlock()
	f.mu.Lock()
	type wardWrite struct {
		w    *ward
		r    record
		base uint64
	}
	var wards []wardWrite
	for k := range f.sh.dirty {
		if w := f.wards[k]; w != nil {
			wards = append(wards, wardWrite{w, wardRecordLocked(w), w.rev})
		}
	}
	clear(f.sh.dirty)
	var leases []record // Until zero: delete
	for k := range f.sh.leases {
		r := record{Kind: "lease", Login: k, Node: f.sh.node}
		if p := f.sups[k]; p != nil && len(p.streams) > 0 {
			f.sh.seq++
			r.Until, r.Seq = f.opts.Now().Add(f.opts.Lease), f.sh.seq
		} else if p != nil && p.grace != nil {
			continue // the grace decides; the lease stands meanwhile
		}
		leases = append(leases, r)
	}
	clear(f.sh.leases)
	f.mu.Unlock()

	// Renewed leases first and dropped ones last, so that another daemon
	// never sees a grant without the lease it rests on, nor a lease gone
	// before the grants that ended with it.
	writeLease := func(r record) {
		var err error
		if r.Until.IsZero() {
			_, err = f.arc.SwapFourEyes(ctx, leaseName(r.Login, r.Node), func([]byte) ([]byte, bool) { return nil, true })
		} else {
			b, _ := json.Marshal(r)
			_, err = f.arc.SwapFourEyes(ctx, leaseName(r.Login, r.Node), func([]byte) ([]byte, bool) { return b, true })
		}
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("foureyes: writing a supervisor's presence", "err", err)
			}
			f.mu.Lock()
			f.sh.leases[r.Login] = true // again at the next tick
			f.mu.Unlock()
		}
	}
	for _, r := range leases {
		if !r.Until.IsZero() {
			writeLease(r)
		}
	}
	for _, ww := range wards {
		base := ww.base
		ok, err := f.swapWard(ctx, ww.r, base)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				f.log.Warn("foureyes: writing the state other daemons share", "err", err)
			}
			f.mu.Lock()
			delete(f.sh.writing, feKey(ww.w.login))
			f.sh.dirty[feKey(ww.w.login)] = true // again at the next tick
			f.mu.Unlock()
		case !ok:
			f.mu.Lock()
			delete(f.sh.writing, feKey(ww.w.login))
			f.mu.Unlock()
			f.sh.changed() // another daemon's change came first: take it
		default:
			f.mu.Lock()
			delete(f.sh.writing, feKey(ww.w.login))
			if ww.w.rev == base {
				ww.w.rev = base + 1
			}
			f.mu.Unlock()
		}
	}
	for _, r := range leases {
		if r.Until.IsZero() {
			writeLease(r)
		}
	}
}

// lapse ends the grants of supervisors present nowhere: no page here and
// no other daemon's valid lease (the daemon holding the page died or
// lost the store). The one daemon whose write commits audits it.
func (f *Access) lapse(ctx context.Context) {
	type lapsed struct {
		w    *ward
		r    record
		base uint64
	}
	var todo []lapsed
	f.mu.Lock()
	// Pages show a supervisor connected while a lease is valid: a lease
	// that lapsed is a change.
	away := map[string]bool{}
	for k := range f.sh.others {
		away[k] = !f.elsewhereLocked(k)
	}
	if !maps.Equal(away, f.sh.away) {
		f.sh.away = away
		f.notifyLocked()
	}
	for _, w := range f.wards {
		if w.state != Granted {
			continue
		}
		if p := f.sups[feKey(w.supervisor)]; p != nil && (len(p.streams) > 0 || p.grace != nil) {
			continue
		}
		if f.elsewhereLocked(w.supervisor) {
			continue
		}
		r := wardRecordLocked(w)
		r.State, r.Reason, r.Since, r.Grant = Ended, ReasonTimeout, f.opts.Now(), ""
		todo = append(todo, lapsed{w, r, w.rev})
	}
	f.mu.Unlock()
	if len(todo) > 0 {
		// A renewal the change feed has not brought here yet keeps them:
		// read the feed first.
		if err := f.arc.CatchUp(ctx); err == nil {
			f.reload(ctx)
		}
		f.mu.Lock()
		todo = slices.DeleteFunc(todo, func(l lapsed) bool { return f.elsewhereLocked(l.w.supervisor) })
		f.mu.Unlock()
	}
	for _, l := range todo {
		r, base := l.r, l.base
		ok, err := f.swapWard(ctx, r, base)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				f.log.Warn("foureyes: ending a grant whose supervisor is gone", "err", err)
			}
			f.mu.Lock()
			delete(f.sh.writing, feKey(l.w.login))
			f.mu.Unlock()
			f.sh.changed()
			continue
		}
		f.mu.Lock()
		delete(f.sh.writing, feKey(l.w.login))
		var ended []revocation
		if l.w.rev == base && l.w.state == Granted {
			ended = f.toAuditLocked(f.endLocked(l.w, ReasonTimeout))
			l.w.since = r.Since
			l.w.rev = base + 1
			delete(f.sh.dirty, feKey(l.w.login))
		}
		f.mu.Unlock()
		f.auditEnded(ended)
	}
}

// swapWard stores r as the ward's next revision after base, unless the
// stored record is not at base (another daemon's change came first).
func (f *Access) swapWard(ctx context.Context, r record, base uint64) (bool, error) {
	r.Rev = base + 1
	f.mu.Lock()
	f.sh.writing[feKey(r.Login)] = r.Rev // the caller deletes it once it has taken the outcome in
	f.mu.Unlock()
	// Not cut short by Close: whether the write committed decides the
	// audit entry of a lapse.
	return f.arc.SwapFourEyes(context.WithoutCancel(ctx), wardName(r.Login), func(old []byte) ([]byte, bool) {
		var o record
		if old != nil && json.Unmarshal(old, &o) != nil || o.Rev != base {
			return nil, false
		}
		b, err := json.Marshal(r)
		return b, err == nil
	})
}
