package foureyes

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/callvault/callvault/archive"
)

// Options tune 4-eyes access; zero values take the defaults.
type Options struct {
	// Grace is how long a supervisor may be without a connected page
	// before every grant they made ends (default 2 s, so that reloading
	// the page does not end them).
	Grace time.Duration
	// Ping is how often a supervisor's page is pinged over its event
	// stream; the page answers each ping (default 2 s).
	Ping time.Duration
	// Silence is how long a supervisor's page may leave the pings
	// unanswered before it counts as gone: a connection that died
	// without closing is noticed this way (default 6 s).
	Silence time.Duration
	// MaxStreams bounds the event streams one login holds open
	// (default 8).
	MaxStreams int
	// MaxPending bounds the requests waiting for one supervisor
	// (default 200).
	MaxPending int
	// Now is the clock for the times pages show ("since") and the
	// supervisor cache (default: the archive's clock). Grace, Ping and
	// Silence run on timers.
	Now func() time.Time
	// Lease is, on an archive that several daemons share, how long a
	// supervisor's presence counts on another daemon after it saw the
	// daemon holding the page renew it (every answered ping), by its own
	// Now: the daemons' clocks need not agree (default 4 pings).
	Lease time.Duration
}

func (o *Options) defaults(arc *archive.Archive) {
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
	if o.Ping <= 0 {
		o.Ping = 2 * time.Second
	}
	if o.Silence <= 0 {
		o.Silence = 3 * o.Ping
	}
	if o.Lease <= 0 {
		o.Lease = 4 * o.Ping
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 8
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 200
	}
	if o.Now == nil {
		o.Now = time.Now
		if arc != nil {
			o.Now = arc.Now
		}
	}
}

// States of a user under 4-eyes access (Status.State), as their pages
// and the API show them.
const (
	None    = "none"    // no request
	Pending = "pending" // asked, waiting for the supervisor
	Granted = "granted" // may read while the supervisor stays connected
	Refused = "refused" // the supervisor said no
	Ended   = "ended"   // a grant ended (Reason says why)
)

// Why a grant ended (Status.Reason, and the detail of foureyes.revoke in
// the audit log).
const (
	ReasonClosed     = "closed"     // the supervisor's last page closed
	ReasonLogout     = "logout"     // the supervisor logged out
	ReasonTimeout    = "timeout"    // the supervisor's page stopped answering
	ReasonEnded      = "ended"      // the supervisor ended it
	ReasonAudit      = "audit"      // the grant could not be written to the audit log
	ReasonReassigned = "reassigned" // the user asked a new supervisor
	ReasonShutdown   = "shutdown"   // the appliance stopped
)

// Errors of Request, Grant, Refuse, End, Join and WardStream.
var (
	ErrNotSubject = errors.New("foureyes: no supervisor to ask")
	ErrNoRequest  = errors.New("foureyes: no such request or grant")
	ErrAbsent     = errors.New("foureyes: the supervisor's page is not connected")
	ErrTooMany    = errors.New("foureyes: too many requests or streams")
)

// Access holds 4-eyes access: a user whose account names a supervisor
// reads no recording until that supervisor grants it, and a grant lasts
// only while one of the supervisor's pages stays connected (an event
// stream whose pings are answered). When the last page closes (after
// Grace), stops answering (after Silence) or the supervisor logs out,
// every grant they made ends at once: its context is cancelled, which
// stops audio in flight. Grants are runtime state, never stored. Each
// request, grant, refusal and revocation is written to the audit log.
//
// One Access serves the web UI, the API and WebDAV; a nil *Access
// grants nothing and restricts nothing (archive.MayRead alone decides).
type Access struct {
	arc  *archive.Archive
	log  *slog.Logger
	opts Options

	mu      sync.Mutex
	wards   map[string]*ward     // by lower-case user login
	sups    map[string]*presence // by lower-case supervisor login
	changed chan struct{}        // closed and replaced on every change
	closed  bool
	done    chan struct{}  // closed by Close: every event stream ends
	audits  sync.WaitGroup // revocations being written to the audit log

	sh *shared // on an archive several daemons share (shared.go); nil otherwise

	supMu     sync.Mutex
	supNames  map[string]bool // lower-case logins some user names as supervisor
	supExpiry time.Time
}

// ward is a user under 4-eyes access who asked, or holds a stream open.
type ward struct {
	login, name        string
	supervisor         string // the supervisor asked (login)
	supName            string
	state, reason      string
	since              time.Time
	ctx                context.Context // while granted; cancelled when the grant ends
	cancel             context.CancelFunc
	streams            int
	grantedBy, grantIP string // who granted, from where (for the revocation's audit entry)
	grant              string // names the grant (shared.go)
	rev                uint64 // the stored record's revision this state rests on (shared.go)
}

// presence is a supervisor's connected pages.
type presence struct {
	login   string
	streams map[string]*Page
	grace   *time.Timer // runs while no page is connected
	remote  string      // the last page's address, for the audit log
}

// closeLocked closes every page's stream of the supervisor and stops the
// grace timer. f.mu is held.
func (p *presence) closeLocked() {
	for _, s := range p.streams {
		s.silence.Stop()
		s.cancel()
	}
	clear(p.streams)
	if p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
}

// Page is one connected supervisor page (Join).
type Page struct {
	id      string
	login   string
	ctx     context.Context // ends when the stream counts as gone
	cancel  context.CancelFunc
	silence *time.Timer
}

// ID names the page's stream; the page sends it with each heartbeat (Beat).
func (s *Page) ID() string { return s.id }

// Gone is closed when the page counts as gone: it stopped answering the
// pings, or the supervisor logged out.
func (s *Page) Gone() <-chan struct{} { return s.ctx.Done() }

// New returns the 4-eyes state over arc (for users and the audit log).
func New(arc *archive.Archive, opts Options, log *slog.Logger) *Access {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.defaults(arc)
	f := &Access{
		arc: arc, log: log, opts: opts,
		wards: map[string]*ward{}, sups: map[string]*presence{}, changed: make(chan struct{}), done: make(chan struct{}),
	}
	if arc != nil && arc.Shared() {
		f.startShared()
	}
	return f
}

// Close ends every grant (audited with reason "shutdown") and every event
// stream: the appliance is stopping. Later calls find nobody present.
func (f *Access) Close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	if f.sh != nil {
		f.mu.Unlock()
		f.closeShared()
		return
	}
	close(f.done)
	for _, p := range f.sups {
		p.closeLocked()
	}
	var ended []revocation
	for _, w := range f.wards {
		ended = append(ended, f.endLocked(w, ReasonShutdown)...)
	}
	f.notifyLocked()
	ended = f.toAuditLocked(ended)
	f.closed = true
	f.mu.Unlock()
	f.auditEnded(ended)
	f.audits.Wait()
}

// maxLogin bounds the login a supervisor names in an answer.
const maxLogin = 128

func feKey(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

// Done is closed by Close: every event stream ends.
func (f *Access) Done() <-chan struct{} { return f.done }

// Ping is how often a supervisor's page is pinged (Options.Ping).
func (f *Access) Ping() time.Duration { return f.opts.Ping }

// SetGrace changes the grace for pages that close from now on.
func (f *Access) SetGrace(d time.Duration) {
	f.mu.Lock()
	f.opts.Grace = d
	f.mu.Unlock()
}

// GraceRuns reports whether supervisor login has no page connected and
// the grace before their grants end is running.
func (f *Access) GraceRuns(login string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.sups[feKey(login)]
	return p != nil && p.grace != nil
}

// Subject reports whether u is under 4-eyes access: an account that names
// a supervisor and is not an admin.
func (f *Access) Subject(u *archive.User) bool {
	return f != nil && u != nil && u.Role != archive.RoleAdmin && strings.TrimSpace(u.Supervisor) != ""
}

// Allowed reports whether u may read recordings now as far as 4-eyes
// access goes: u is not under it, or holds an active grant of the
// supervisor the account names.
func (f *Access) Allowed(u *archive.User) bool {
	if !f.Subject(u) {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.wards[feKey(u.Login)]
	return w != nil && w.state == Granted && strings.EqualFold(w.supervisor, strings.TrimSpace(u.Supervisor))
}

// MayRead is who may read rec now: archive.MayRead, and for a user under
// 4-eyes access an active grant. Pages, API, audio and WebDAV ask it.
func (f *Access) MayRead(u *archive.User, rec *archive.Recording) bool {
	return archive.MayRead(u, rec) && f.Allowed(u)
}

// grantContext returns the context of u's active grant: nil when u is
// not under 4-eyes access, ok false when u has no grant.
func (f *Access) grantContext(u *archive.User) (ctx context.Context, ok bool) {
	if !f.Subject(u) {
		return nil, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.wards[feKey(u.Login)]
	if w == nil || w.state != Granted || !strings.EqualFold(w.supervisor, strings.TrimSpace(u.Supervisor)) {
		return nil, false
	}
	return w.ctx, true
}

func (f *Access) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// wardLocked returns u's entry, made when missing.
func (f *Access) wardLocked(u *archive.User) *ward {
	k := feKey(u.Login)
	w := f.wards[k]
	if w == nil {
		w = &ward{login: u.Login, state: None}
		f.wards[k] = w
	}
	w.name = displayName(u)
	return w
}

func displayName(u *archive.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Login
}

// Status is a user's 4-eyes state, for their pages and the API.
type Status struct {
	State          string    `json:"state"`
	Supervisor     string    `json:"supervisor"`
	SupervisorName string    `json:"supervisorName"`
	Reason         string    `json:"reason,omitempty"`
	Since          time.Time `json:"since,omitzero"`
}

// Status returns u's state and a channel closed at the next change.
func (f *Access) Status(u *archive.User) (Status, <-chan struct{}) {
	sup := strings.TrimSpace(u.Supervisor)
	f.mu.Lock()
	defer f.mu.Unlock()
	st := Status{State: None, Supervisor: sup, SupervisorName: sup}
	if w := f.wards[feKey(u.Login)]; w != nil && strings.EqualFold(w.supervisor, sup) {
		st.State, st.Reason, st.Since = w.state, w.reason, w.since
		if w.supName != "" {
			st.SupervisorName = w.supName
		}
	}
	return st, f.changed
}

// WithName fills in the supervisor's name from the accounts when no
// request has named it yet.
func (f *Access) WithName(ctx context.Context, st Status) Status {
	if st.Supervisor != "" && st.SupervisorName == st.Supervisor {
		if s, err := f.arc.GetUser(ctx, st.Supervisor); err == nil {
			st.SupervisorName = displayName(s)
		}
	}
	return st
}

// Request asks u's supervisor for access. Asking again while a request
// waits or a grant lasts changes nothing.
func (f *Access) Request(ctx context.Context, u *archive.User, remote string) (Status, error) {
	if !f.Subject(u) {
		return Status{}, ErrNotSubject
	}
	f.fresh(ctx)
	defer f.publish(ctx)
	sup := strings.TrimSpace(u.Supervisor)
	supName := sup
	if s, err := f.arc.GetUser(ctx, sup); err == nil {
		supName = displayName(s)
	}
	f.mu.Lock()
	w := f.wardLocked(u)
	if strings.EqualFold(w.supervisor, sup) && (w.state == Pending || w.state == Granted) {
		f.mu.Unlock()
		st, _ := f.Status(u)
		return st, nil
	}
	n := 0
	for _, o := range f.wards {
		if o.state == Pending && strings.EqualFold(o.supervisor, sup) {
			n++
		}
	}
	if n >= f.opts.MaxPending {
		f.mu.Unlock()
		return Status{}, ErrTooMany
	}
	ended := f.toAuditLocked(f.endLocked(w, ReasonReassigned)) // a grant of a former supervisor
	w.supervisor, w.supName, w.state, w.reason, w.since = sup, supName, Pending, "", f.opts.Now()
	f.dirtyLocked(w)
	f.notifyLocked()
	f.mu.Unlock()
	f.auditEnded(ended)
	if err := f.audit(ctx, u.Login, "foureyes.request", sup, remote, true, ""); err != nil {
		f.mu.Lock()
		if w.state == Pending {
			w.state, w.since = None, f.opts.Now()
			f.dirtyLocked(w)
			f.notifyLocked()
		}
		f.mu.Unlock()
		return Status{}, err
	}
	st, _ := f.Status(u)
	return st, nil
}

// lockPending finds login's waiting request to sup (ErrNoRequest when
// there is none) and returns with f.mu held; on an error it is not held.
func (f *Access) lockPending(ctx context.Context, sup *archive.User, login string) (*archive.User, *ward, error) {
	target, err := f.requester(ctx, sup, login)
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	w := f.wards[feKey(target.Login)]
	if w == nil || w.state != Pending || !strings.EqualFold(w.supervisor, sup.Login) {
		f.mu.Unlock()
		return nil, nil, ErrNoRequest
	}
	return target, w, nil
}

// Grant lets login read recordings while sup stays connected. Only a
// waiting request to sup can be granted, and only while a page of sup's
// is connected.
func (f *Access) Grant(ctx context.Context, sup *archive.User, login, remote string) error {
	f.fresh(ctx)
	defer f.publish(ctx)
	target, w, err := f.lockPending(ctx, sup, login)
	if err != nil {
		return err
	}
	if p := f.sups[feKey(sup.Login)]; (p == nil || len(p.streams) == 0) && !f.elsewhereLocked(sup.Login) {
		f.mu.Unlock()
		return ErrAbsent
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.state, w.reason, w.since, w.grantedBy, w.grantIP = Granted, "", f.opts.Now(), sup.Login, remote
	w.grant = rand.Text()
	f.dirtyLocked(w)
	f.notifyLocked()
	f.mu.Unlock()
	if err := f.audit(ctx, sup.Login, "foureyes.grant", target.Login, remote, true, ""); err != nil {
		// No access that the audit log does not show.
		f.mu.Lock()
		ended := f.toAuditLocked(f.endLocked(w, ReasonAudit))
		f.mu.Unlock()
		f.auditEnded(ended)
		return err
	}
	return nil
}

// Refuse answers login's waiting request with no.
func (f *Access) Refuse(ctx context.Context, sup *archive.User, login, remote string) error {
	f.fresh(ctx)
	defer f.publish(ctx)
	target, w, err := f.lockPending(ctx, sup, login)
	if err != nil {
		return err
	}
	w.state, w.reason, w.since = Refused, "", f.opts.Now()
	f.dirtyLocked(w)
	f.notifyLocked()
	f.mu.Unlock()
	f.audit(ctx, sup.Login, "foureyes.refuse", target.Login, remote, true, "")
	return nil
}

// End ends the grant sup gave login.
func (f *Access) End(ctx context.Context, sup *archive.User, login, remote string) error {
	f.fresh(ctx)
	defer f.publish(ctx)
	f.mu.Lock()
	w := f.wards[feKey(login)]
	if w == nil || w.state != Granted || !strings.EqualFold(w.supervisor, sup.Login) {
		f.mu.Unlock()
		return ErrNoRequest
	}
	ended := f.toAuditLocked(f.endLocked(w, ReasonEnded))
	f.mu.Unlock()
	for i := range ended {
		ended[i].remote = remote
	}
	f.auditEnded(ended)
	return nil
}

// requester checks that login is a user whose account names sup.
func (f *Access) requester(ctx context.Context, sup *archive.User, login string) (*archive.User, error) {
	if sup == nil || login == "" || len(login) > maxLogin {
		return nil, ErrNoRequest
	}
	u, err := f.arc.GetUser(ctx, login)
	if err != nil {
		if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrInvalid) {
			return nil, ErrNoRequest
		}
		return nil, err
	}
	// A supervisor never decides for themselves: an account stored
	// before the archive refused a supervisor naming the user's own
	// login in another case may still name it.
	if !f.Subject(u) || u.Disabled || !strings.EqualFold(strings.TrimSpace(u.Supervisor), sup.Login) || strings.EqualFold(u.Login, sup.Login) {
		return nil, ErrNoRequest
	}
	return u, nil
}

// revocation is a grant that ended, for the audit log.
type revocation struct {
	sup, user, reason, remote string
}

// endLocked ends w's grant, if any, for reason.
func (f *Access) endLocked(w *ward, reason string) []revocation {
	if w.state != Granted {
		return nil
	}
	w.cancel()
	w.ctx, w.cancel = nil, nil
	w.state, w.reason, w.since = Ended, reason, f.opts.Now()
	f.dirtyLocked(w)
	f.notifyLocked()
	return []revocation{{sup: w.grantedBy, user: w.login, reason: reason, remote: w.grantIP}}
}

// revokeAllLocked ends every grant sup made.
func (f *Access) revokeAllLocked(sup, reason, remote string) []revocation {
	var out []revocation
	for _, w := range f.wards {
		if w.state == Granted && strings.EqualFold(w.supervisor, sup) {
			for _, r := range f.endLocked(w, reason) {
				if remote != "" {
					r.remote = remote
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// toAuditLocked counts rs as being audited, so that Close waits for it;
// auditEnded writes them. After Close nothing more is written.
func (f *Access) toAuditLocked(rs []revocation) []revocation {
	if len(rs) == 0 || f.closed {
		return nil
	}
	f.audits.Add(1)
	return rs
}

func (f *Access) auditEnded(rs []revocation) {
	if len(rs) == 0 {
		return
	}
	defer f.audits.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range rs {
		f.audit(ctx, r.sup, "foureyes.revoke", r.user, r.remote, true, "reason="+r.reason)
	}
}

// audit records an event; a failure is logged and returned.
func (f *Access) audit(ctx context.Context, actor, action, target, remote string, ok bool, detail string) error {
	err := f.arc.Audit(ctx, archive.AuditEvent{Actor: actor, Action: action, Target: target, Remote: remote, OK: ok, Detail: detail})
	if err != nil {
		f.log.ErrorContext(ctx, "foureyes: audit", "action", action, "err", err)
	}
	return err
}

// LoggedOut ends every grant u made as a supervisor and closes their
// supervisor pages' streams, and withdraws u's own waiting request.
func (f *Access) LoggedOut(ctx context.Context, u *archive.User, remote string) {
	if f == nil || u == nil {
		return
	}
	f.fresh(ctx) // a grant u gave on another daemon a moment ago ends too
	defer f.publish(ctx)
	f.mu.Lock()
	ended := f.toAuditLocked(f.revokeAllLocked(u.Login, ReasonLogout, remote))
	if p := f.sups[feKey(u.Login)]; p != nil {
		p.closeLocked()
		f.leaseLocked(u.Login)
	}
	if w := f.wards[feKey(u.Login)]; w != nil && w.state == Pending {
		w.state, w.since = None, f.opts.Now()
		f.dirtyLocked(w)
	}
	f.notifyLocked()
	f.mu.Unlock()
	f.auditEnded(ended)
}

// Join registers a connected page of supervisor login. The page counts
// as present while its pings are answered (Beat); Leave unregisters it.
func (f *Access) Join(login, remote string) (*Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrAbsent
	}
	k := feKey(login)
	p := f.sups[k]
	if p == nil {
		p = &presence{login: login, streams: map[string]*Page{}}
		f.sups[k] = p
	}
	if len(p.streams) >= f.opts.MaxStreams {
		return nil, ErrTooMany
	}
	s := &Page{id: rand.Text(), login: login}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.silence = time.AfterFunc(f.opts.Silence, func() { f.leave(s, ReasonTimeout) })
	p.streams[s.id] = s
	p.remote = remote
	if p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
	f.leaseLocked(login)
	f.notifyLocked()
	return s, nil
}

// Beat notes an answer to a ping from stream id of supervisor login.
func (f *Access) Beat(login, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.sups[feKey(login)]
	if p == nil {
		return false
	}
	s := p.streams[id]
	if s == nil {
		return false
	}
	s.silence.Reset(f.opts.Silence)
	f.leaseLocked(login)
	return true
}

// Leave unregisters a supervisor page that closed. When it was the last
// one, the supervisor's grants end after Grace (a reload comes back in
// time).
func (f *Access) Leave(s *Page) { f.leave(s, ReasonClosed) }

// leave unregisters a supervisor page. When it was the last one, the
// supervisor's grants end: after Grace when the page closed, at once when
// it stopped answering.
func (f *Access) leave(s *Page, reason string) {
	f.mu.Lock()
	p := f.sups[feKey(s.login)]
	if p == nil || p.streams[s.id] != s {
		f.mu.Unlock()
		return
	}
	delete(p.streams, s.id)
	s.silence.Stop()
	s.cancel()
	f.notifyLocked()
	var ended []revocation
	if len(p.streams) == 0 {
		if reason == ReasonTimeout {
			f.leaseLocked(p.login)
			if !f.elsewhereLocked(p.login) {
				ended = f.toAuditLocked(f.revokeAllLocked(p.login, ReasonTimeout, p.remote))
			}
		} else if p.grace == nil {
			var t *time.Timer
			t = time.AfterFunc(f.opts.Grace, func() {
				f.freshNow() // a page of the supervisor's on another daemon
				f.mu.Lock()
				if p.grace != t || len(p.streams) > 0 {
					f.mu.Unlock()
					return
				}
				p.grace = nil
				f.leaseLocked(p.login)
				if f.elsewhereLocked(p.login) {
					f.mu.Unlock()
					return
				}
				ended := f.toAuditLocked(f.revokeAllLocked(p.login, ReasonClosed, p.remote))
				f.mu.Unlock()
				f.auditEnded(ended)
			})
			p.grace = t
		}
	}
	f.mu.Unlock()
	f.auditEnded(ended)
}

// WardStream counts one more event stream of u's pages; release undoes it.
func (f *Access) WardStream(u *archive.User) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrAbsent
	}
	w := f.wardLocked(u)
	if w.streams >= f.opts.MaxStreams {
		return nil, ErrTooMany
	}
	w.streams++
	return sync.OnceFunc(func() {
		f.mu.Lock()
		w.streams--
		f.mu.Unlock()
	}), nil
}

// WardItem is a user on a supervisor's page.
type WardItem struct {
	Login string    `json:"login"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
}

// Supervision is what a supervisor's page shows.
type Supervision struct {
	Connected bool       `json:"connected"` // a page of the supervisor's is connected
	Pending   []WardItem `json:"pending"`
	Grants    []WardItem `json:"grants"`
}

// Supervision returns what supervisor login sees and a channel closed at
// the next change.
func (f *Access) Supervision(login string) (Supervision, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := Supervision{Pending: []WardItem{}, Grants: []WardItem{}}
	if p := f.sups[feKey(login)]; p != nil {
		v.Connected = len(p.streams) > 0
	}
	v.Connected = v.Connected || f.elsewhereLocked(login)
	for _, w := range f.wards {
		if !strings.EqualFold(w.supervisor, login) {
			continue
		}
		it := WardItem{Login: w.login, Name: w.name, Since: w.since}
		switch w.state {
		case Pending:
			v.Pending = append(v.Pending, it)
		case Granted:
			v.Grants = append(v.Grants, it)
		}
	}
	bySince := func(a, b WardItem) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Login, b.Login)
	}
	slices.SortFunc(v.Pending, bySince)
	slices.SortFunc(v.Grants, bySince)
	return v, f.changed
}

// supervisorCacheTTL is how long the set of supervisor logins is reused
// for the navigation link.
const supervisorCacheTTL = 5 * time.Second

// Supervises reports whether some user's account names login as
// supervisor. fresh reads the accounts now; otherwise a few seconds old
// answer may do.
func (f *Access) Supervises(ctx context.Context, login string, fresh bool) (bool, error) {
	if f == nil || login == "" {
		return false, nil
	}
	f.supMu.Lock()
	defer f.supMu.Unlock()
	if fresh || f.supNames == nil || f.opts.Now().After(f.supExpiry) {
		users, err := f.arc.Users(ctx)
		if err != nil {
			return false, err
		}
		names := map[string]bool{}
		for _, u := range users {
			if !u.Disabled && u.Role != archive.RoleIngest && u.Role != archive.RoleAdmin && strings.TrimSpace(u.Supervisor) != "" {
				names[feKey(u.Supervisor)] = true
			}
		}
		f.supNames, f.supExpiry = names, f.opts.Now().Add(supervisorCacheTTL)
	}
	return f.supNames[feKey(login)], nil
}
