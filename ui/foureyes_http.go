package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/callvault/callvault/archive"
)

// errGrantEnded is what a response bound to a grant (Bind) returns from
// Write once the grant has ended.
var errGrantEnded = errors.New("ui: 4-eyes grant ended")

// Bind ties a request of u to u's 4-eyes grant. ok is false when u is
// under 4-eyes access without a grant (u may read no recording now);
// otherwise the returned writer and request are used instead of w and r,
// and release is called when the handler is done. For a user with a grant,
// the request's context ends and the writer stops writing when the grant
// ends, so audio and downloads in flight stop, even to a client that has
// stopped reading. For everyone else w and r are returned unchanged.
// WebDAV takes Bind as its gate.
func (f *FourEyes) Bind(w http.ResponseWriter, r *http.Request, u *archive.User) (http.ResponseWriter, *http.Request, func(), bool) {
	gctx, ok := f.grantContext(u)
	if !ok {
		return w, r, func() {}, false
	}
	if gctx == nil {
		return w, r, func() {}, true
	}
	ctx, cancel := context.WithCancel(r.Context())
	rc := http.NewResponseController(w)
	fired := make(chan struct{})
	stop := context.AfterFunc(gctx, func() {
		defer close(fired)
		cancel()
		_ = rc.SetWriteDeadline(time.Now()) // unblocks a write to a client that does not read
	})
	release := func() {
		if !stop() {
			<-fired
			_ = rc.SetWriteDeadline(time.Time{}) // the connection may serve the next request
		}
		cancel()
	}
	return &boundWriter{ResponseWriter: w, ctx: ctx}, r.WithContext(ctx), release, true
}

// boundWriter refuses to write once its context has ended.
type boundWriter struct {
	http.ResponseWriter
	ctx context.Context
}

func (b *boundWriter) Write(p []byte) (int, error) {
	if b.ctx.Err() != nil {
		return 0, errGrantEnded
	}
	return b.ResponseWriter.Write(p)
}

func (b *boundWriter) Flush() {
	if b.ctx.Err() == nil {
		_ = http.NewResponseController(b.ResponseWriter).Flush()
	}
}

func (b *boundWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// eventStream writes server-sent events, flushing each.
type eventStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last []byte // the last "state" event's data
}

func startEvents(w http.ResponseWriter) (*eventStream, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &eventStream{w: w, rc: http.NewResponseController(w)}
	// A reconnecting page comes back within a second, inside the grace.
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil, err
	}
	return s, s.rc.Flush()
}

// send writes one event whose data is v as JSON (one line).
func (s *eventStream) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.sendRaw(event, b)
}

func (s *eventStream) sendRaw(event string, data []byte) error {
	buf := make([]byte, 0, len(event)+len(data)+16)
	buf = append(buf, "event: "...)
	buf = append(buf, event...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

// sendState writes v as a "state" event unless it equals the last one.
func (s *eventStream) sendState(v any) error {
	b, err := json.Marshal(v)
	if err != nil || bytes.Equal(b, s.last) {
		return err
	}
	s.last = b
	return s.sendRaw("state", b)
}

// comment writes an SSE comment, which keeps the connection busy.
func (s *eventStream) comment(text string) error {
	if _, err := s.w.Write([]byte(": " + text + "\n\n")); err != nil {
		return err
	}
	return s.rc.Flush()
}

// wardKeepAlive is how often a user's event stream carries a comment.
const wardKeepAlive = 15 * time.Second

// fourEyesPageError maps a 4-eyes error to a page error.
func fourEyesPageError(err error) error {
	switch {
	case errors.Is(err, errFENotSubject):
		return &pageError{http.StatusNotFound, "Your account needs no supervisor's approval."}
	case errors.Is(err, errFENoRequest):
		return &pageError{http.StatusNotFound, "There is no such request or access."}
	case errors.Is(err, errFEAbsent):
		return &pageError{http.StatusConflict, "Keep the supervision page open: access lasts only while it is connected."}
	case errors.Is(err, errFETooMany):
		return &pageError{http.StatusTooManyRequests, "Too many requests or open pages."}
	}
	return err
}

// fourEyesRequest is POST /foureyes/request: the user asks their
// supervisor for access.
func (u *UI) fourEyesRequest(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, err := u.opts.FourEyes.Request(r.Context(), rc.user, remoteAddr(r)); err != nil {
		return fourEyesPageError(err)
	}
	redirect(w, r, safeNext(r.PostForm.Get("next")))
	return nil
}

// fourEyesEvents is GET /foureyes/events: the user's state, live.
func (u *UI) fourEyesEvents(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := u.opts.FourEyes
	if !f.Subject(rc.user) {
		return fourEyesPageError(errFENotSubject)
	}
	release, err := f.wardStream(rc.user)
	if err != nil {
		return fourEyesPageError(err)
	}
	defer release()
	es, err := startEvents(w)
	if err != nil {
		return nil
	}
	keep := time.NewTicker(wardKeepAlive)
	defer keep.Stop()
	name := ""
	for {
		st, changed := f.status(rc.user)
		if st.SupervisorName == st.Supervisor {
			if name == "" {
				name = f.withName(r.Context(), st).SupervisorName
			}
			st.SupervisorName = name
		}
		if es.sendState(st) != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-f.done:
			return nil
		case <-changed:
		case <-keep.C:
			if es.comment("ping") != nil {
				return nil
			}
		}
	}
}

// held shows the waiting page instead of h to a user under 4-eyes access
// without a grant.
func (u *UI) held(h pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		f := u.opts.FourEyes
		if rc.user == nil || f.Allowed(rc.user) {
			return h(w, r, rc)
		}
		st, _ := f.status(rc.user)
		st = f.withName(r.Context(), st)
		code := http.StatusForbidden
		if r.URL.Path == "/" {
			code = http.StatusOK
		}
		u.render(w, r, code, "waiting.html", waitingPage{
			Base: u.base(rc, "Waiting for your supervisor", "recordings"), Status: st,
			Message: waitingMessage(st), RequestURL: "/foureyes/request", Next: r.URL.RequestURI(),
		})
		return nil
	}
}

type waitingPage struct {
	Base
	Status     fourEyesStatus
	Message    string
	RequestURL string
	Next       string
}

// waitingMessage says where a user's request stands (foureyes.js says
// the same when the state changes).
func waitingMessage(st fourEyesStatus) string {
	switch st.State {
	case fePending:
		return "Waiting for your supervisor " + st.SupervisorName + " to grant access."
	case feRefused:
		return "Your supervisor " + st.SupervisorName + " refused access."
	case feEnded:
		return "Your supervisor ended access."
	case feGranted:
		return "Your supervisor " + st.SupervisorName + " granted access."
	}
	return "Your account needs the approval of your supervisor " + st.SupervisorName + " before recordings are shown."
}

// fourEyesBase is the layout's link to 4-eyes access: the script, and for
// a user under it the event stream the page listens on.
type fourEyesBase struct {
	JS, CSS    string
	Events     string // the user's event stream; "" when not under 4-eyes access
	Request    string // where the user asks for access
	State      string // the user's state when the page was made
	Supervises bool   // a supervisor, or some user names this one as supervisor
}

func (u *UI) fourEyesBase(usr *archive.User) *fourEyesBase {
	f := u.opts.FourEyes
	if f == nil || usr == nil {
		return nil
	}
	b := &fourEyesBase{JS: u.static.url("foureyes.js"), CSS: u.static.url("foureyes.css")}
	if f.Subject(usr) {
		st, _ := f.status(usr)
		b.Events, b.Request, b.State = "/foureyes/events", "/foureyes/request", st.State
	}
	sup, err := f.supervises(context.Background(), usr.Login, false)
	if err != nil {
		u.log.Error("ui: 4-eyes: supervisors", "err", err)
	}
	b.Supervises = sup || usr.Role == archive.RoleSupervisor
	if !b.Supervises && b.Events == "" {
		return nil
	}
	return b
}

type supervisePage struct {
	Base
	Supervises bool
	Pending    []wardRow
	Grants     []wardRow
	Events     string
	Heartbeat  string
}

type wardRow struct {
	Login     string `json:"login"`
	Name      string `json:"name"`
	Since     string `json:"since"`
	SinceISO  string `json:"sinceISO"`
	GrantURL  string `json:"grantURL"`
	RefuseURL string `json:"refuseURL"`
	EndURL    string `json:"endURL"`
}

func superviseRows(items []wardItem, loc *time.Location) []wardRow {
	out := make([]wardRow, 0, len(items))
	for _, it := range items {
		p := "/supervise/" + urlPathEscape(it.Login)
		out = append(out, wardRow{
			Login: it.Login, Name: it.Name, Since: formatTime(it.Since, loc), SinceISO: isoTime(it.Since),
			GrantURL: p + "/grant", RefuseURL: p + "/refuse", EndURL: p + "/end",
		})
	}
	return out
}

// superviseShow is GET /supervise: the supervisor's waiting requests and
// active grants, kept live by foureyes.js over /supervise/events.
func (u *UI) superviseShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := u.opts.FourEyes
	if f == nil {
		return &pageError{http.StatusNotFound, "There is no such page."}
	}
	ok, err := f.supervises(r.Context(), rc.user.Login, true)
	if err != nil {
		return err
	}
	v, _ := f.supervision(rc.user.Login)
	p := supervisePage{
		Base: u.base(rc, "Supervision", "supervise"), Supervises: ok,
		Pending: superviseRows(v.Pending, rc.loc), Grants: superviseRows(v.Grants, rc.loc),
		Events: "/supervise/events", Heartbeat: "/supervise/heartbeat",
	}
	u.render(w, r, http.StatusOK, "supervise.html", p)
	return nil
}

// superviseView is a supervision event: the lists as the page shows them.
type superviseView struct {
	Connected bool      `json:"connected"`
	Pending   []wardRow `json:"pending"`
	Grants    []wardRow `json:"grants"`
}

// superviseEvents is GET /supervise/events: while it is connected and its
// pings are answered (POST /supervise/heartbeat), the supervisor counts as
// present and the grants they made last.
func (u *UI) superviseEvents(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := u.opts.FourEyes
	if f == nil {
		return &pageError{http.StatusNotFound, "There is no such page."}
	}
	ok, err := f.supervises(r.Context(), rc.user.Login, true)
	if err != nil {
		return err
	}
	if !ok {
		return &pageError{http.StatusForbidden, "Nobody names you as supervisor."}
	}
	s, err := f.join(rc.user.Login, remoteAddr(r))
	if err != nil {
		return fourEyesPageError(err)
	}
	defer f.leave(s, reasonClosed)
	es, err := startEvents(w)
	if err != nil {
		return nil
	}
	if es.send("hello", map[string]any{"stream": s.id, "ping": f.opts.Ping.Milliseconds()}) != nil {
		return nil
	}
	ping := time.NewTicker(f.opts.Ping)
	defer ping.Stop()
	n := 0
	for {
		v, changed := f.supervision(rc.user.Login)
		if es.sendState(superviseView{Connected: v.Connected, Pending: superviseRows(v.Pending, rc.loc), Grants: superviseRows(v.Grants, rc.loc)}) != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-f.done:
			return nil
		case <-s.ctx.Done():
			_ = es.send("closed", map[string]string{"reason": "This page stopped answering or you logged out."})
			return nil
		case <-changed:
		case <-ping.C:
			n++
			if es.sendRaw("ping", []byte(strconv.Itoa(n))) != nil {
				return nil
			}
		}
	}
}

// superviseHeartbeat is POST /supervise/heartbeat: the page answers a
// ping of its stream.
func (u *UI) superviseHeartbeat(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PostForm.Get("stream")
	if u.opts.FourEyes == nil || id == "" || len(id) > 64 || !u.opts.FourEyes.beat(rc.user.Login, id) {
		return &pageError{http.StatusNotFound, "This page's connection is gone; it reconnects."}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// superviseAnswer is POST /supervise/{login}/grant, …/refuse and …/end.
func (u *UI) superviseAnswer(do func(f *FourEyes, ctx context.Context, sup *archive.User, login, remote string) error) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		f := u.opts.FourEyes
		if f == nil {
			return &pageError{http.StatusNotFound, "There is no such page."}
		}
		if err := do(f, r.Context(), rc.user, r.PathValue("login"), remoteAddr(r)); err != nil {
			return fourEyesPageError(err)
		}
		redirect(w, r, "/supervise")
		return nil
	}
}

// fourEyesRoutes adds the pages and streams of 4-eyes access.
func (u *UI) fourEyesRoutes(mux *http.ServeMux) {
	mux.Handle("POST /foureyes/request", u.page(member, u.fourEyesRequest))
	mux.Handle("GET /foureyes/events", u.page(member, u.fourEyesEvents))
	mux.Handle("GET /supervise", u.page(member, u.superviseShow))
	mux.Handle("GET /supervise/events", u.page(member, u.superviseEvents))
	mux.Handle("POST /supervise/heartbeat", u.page(member, u.superviseHeartbeat))
	mux.Handle("POST /supervise/{login}/grant", u.page(member, u.superviseAnswer((*FourEyes).Grant)))
	mux.Handle("POST /supervise/{login}/refuse", u.page(member, u.superviseAnswer((*FourEyes).Refuse)))
	mux.Handle("POST /supervise/{login}/end", u.page(member, u.superviseAnswer((*FourEyes).End)))
}

// SetFourEyes makes the API enforce 4-eyes access with f.
func (a *API) SetFourEyes(f *FourEyes) { a.fourEyes = f }

// fourEyesHeld refuses a user under 4-eyes access without a grant.
func (a *API) fourEyesHeld(u *archive.User) error {
	if a.fourEyes.Allowed(u) {
		return nil
	}
	return errStatus(http.StatusForbidden, "4-eyes access: your supervisor has not granted access, or the grant ended; ask with POST /api/v1/foureyes/request")
}

// fourEyesShow is GET /api/v1/foureyes: the caller's 4-eyes state, and
// for a supervisor the waiting requests and active grants.
func (a *API) fourEyesShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	out := struct {
		Subject     *fourEyesStatus `json:"subject"`
		Supervision *supervision    `json:"supervision"`
	}{}
	f := a.fourEyes
	if f.Subject(u) {
		st, _ := f.status(u)
		st = f.withName(r.Context(), st)
		out.Subject = &st
	}
	if ok, err := f.supervises(r.Context(), u.Login, true); err != nil {
		return err
	} else if ok {
		v, _ := f.supervision(u.Login)
		out.Supervision = &v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// fourEyesRequestAPI is POST /api/v1/foureyes/request.
func (a *API) fourEyesRequestAPI(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	st, err := a.fourEyes.Request(r.Context(), u, sourceIP(r))
	switch {
	case errors.Is(err, errFENotSubject):
		return errStatus(http.StatusConflict, "your account needs no supervisor's approval")
	case errors.Is(err, errFETooMany):
		return errStatus(http.StatusTooManyRequests, "too many requests are waiting for your supervisor")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

// fourEyesAPIRoutes adds the API routes of 4-eyes access.
func (a *API) fourEyesAPIRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/foureyes", a.wrap(a.fourEyesShow))
	mux.Handle("POST /api/v1/foureyes/request", a.wrap(a.fourEyesRequestAPI))
}
