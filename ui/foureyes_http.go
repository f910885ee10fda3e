package ui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/webcore"
)

// wardKeepAlive is how often a user's event stream carries a comment.
const wardKeepAlive = 15 * time.Second

// fourEyesPageError maps a 4-eyes error to a page error.
func fourEyesPageError(err error) error {
	switch {
	case errors.Is(err, foureyes.ErrNotSubject):
		return &pageError{code: http.StatusNotFound, msg: "msg.yourAccountNeedsNo"}
	case errors.Is(err, foureyes.ErrNoRequest):
		return &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchRequest"}
	case errors.Is(err, foureyes.ErrAbsent):
		return &pageError{code: http.StatusConflict, msg: "msg.keepSupervisionPageOpen"}
	case errors.Is(err, foureyes.ErrTooMany):
		return &pageError{code: http.StatusTooManyRequests, msg: "msg.tooManyRequestsOpen"}
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
		return fourEyesPageError(foureyes.ErrNotSubject)
	}
	release, err := f.WardStream(rc.user)
	if err != nil {
		return fourEyesPageError(err)
	}
	defer release()
	es, err := foureyes.StartEvents(w)
	if err != nil {
		return nil
	}
	keep := time.NewTicker(wardKeepAlive)
	defer keep.Stop()
	name := ""
	for {
		st, changed := f.Status(rc.user)
		if st.SupervisorName == st.Supervisor {
			if name == "" {
				name = f.WithName(r.Context(), st).SupervisorName
			}
			st.SupervisorName = name
		}
		if es.SendState(st) != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-f.Done():
			return nil
		case <-changed:
		case <-keep.C:
			if es.Comment("ping") != nil {
				return nil
			}
		}
	}
}

// held shows the waiting page instead of h to a user under 4-eyes access
// without a grant. For a user with a grant, h's response is bound to it
// (foureyes.Access.Bind): a page or download in flight stops when the
// grant ends.
func (u *UI) held(h pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		f := u.opts.FourEyes
		if rc.user == nil {
			return h(w, r, rc)
		}
		if bw, br, release, ok := f.Bind(w, r, rc.user); ok {
			defer release()
			return h(bw, br, rc)
		}
		st, _ := f.Status(rc.user)
		st = f.WithName(r.Context(), st)
		code := http.StatusForbidden
		if r.URL.Path == "/" {
			code = http.StatusOK
		}
		h1 := waitingHeading(rc, st)
		u.render(w, r, code, "waiting.html", waitingPage{
			Base: u.base(rc, h1, "recordings"), Status: st, Heading: h1,
			Message: waitingMessage(rc, st), RequestURL: "/foureyes/request", Next: r.URL.RequestURI(),
		})
		return nil
	}
}

type waitingPage struct {
	Base
	Status     foureyes.Status
	Heading    string
	Message    string
	RequestURL string
	Next       string
}

// waitingMessage says where a user's request stands (foureyes.js says
// the same when the state changes).
func waitingMessage(rc *reqCtx, st foureyes.Status) string {
	switch st.State {
	case foureyes.Pending:
		return rc.T("js.fe.pending", st.SupervisorName)
	case foureyes.Refused:
		return rc.T("js.fe.refused", st.SupervisorName)
	case foureyes.Ended:
		return endedMessage(rc, st.Reason)
	case foureyes.Granted:
		return rc.T("js.fe.granted", st.SupervisorName)
	}
	return rc.T("msg.fe.needsApproval", st.SupervisorName)
}

// waitingHeading is the waiting page's heading for a state (foureyes.js
// says the same when the state changes).
func waitingHeading(rc *reqCtx, st foureyes.Status) string {
	switch st.State {
	case foureyes.Pending:
		return rc.T("js.fe.h.pending")
	case foureyes.Refused:
		return rc.T("js.fe.h.refused")
	case foureyes.Ended:
		return rc.T("js.fe.h.ended")
	}
	return rc.T("js.fe.h.none")
}

// endedMessage says once why access ended (foureyes.js says the same).
func endedMessage(rc *reqCtx, reason string) string {
	switch reason {
	case foureyes.ReasonClosed:
		return rc.T("js.fe.end.closed")
	case foureyes.ReasonLogout:
		return rc.T("js.fe.end.logout")
	case foureyes.ReasonTimeout:
		return rc.T("js.fe.end.timeout")
	case foureyes.ReasonAudit:
		return rc.T("js.fe.end.audit")
	case foureyes.ReasonReassigned:
		return rc.T("js.fe.end.reassigned")
	case foureyes.ReasonShutdown:
		return rc.T("js.fe.end.shutdown")
	}
	return rc.T("js.fe.end.other")
}

// fourEyesBase is the layout's link to 4-eyes access: the script, and for
// a user under it the event stream the page listens on.
type fourEyesBase struct {
	JS, CSS    string
	Events     string // the user's event stream; "" when not under 4-eyes access
	Request    string // where the user asks for access
	State      string // the user's state when the page was made
	Supervises bool   // a supervisor, or some user names this one as supervisor
	// Waiting names who waits for this supervisor's answer, for a notice
	// on every page but the supervision page.
	Waiting []string
}

func (u *UI) fourEyesBase(usr *archive.User) *fourEyesBase {
	f := u.opts.FourEyes
	if f == nil || usr == nil {
		return nil
	}
	b := &fourEyesBase{JS: u.static.url("foureyes.js"), CSS: u.static.url("foureyes.css")}
	if f.Subject(usr) {
		st, _ := f.Status(usr)
		b.Events, b.Request, b.State = "/foureyes/events", "/foureyes/request", st.State
	}
	sup, err := f.Supervises(context.Background(), usr.Login, false)
	if err != nil {
		u.log.Error("ui: 4-eyes: supervisors", "err", err)
	}
	b.Supervises = sup || usr.Role == archive.RoleSupervisor
	if sup {
		v, _ := f.Supervision(usr.Login)
		for _, it := range v.Pending {
			b.Waiting = append(b.Waiting, it.Name)
		}
	}
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

func superviseRows(rc *reqCtx, items []foureyes.WardItem) []wardRow {
	out := make([]wardRow, 0, len(items))
	for _, it := range items {
		p := "/supervise/" + urlPathEscape(it.Login)
		out = append(out, wardRow{
			Login: it.Login, Name: it.Name, Since: rc.when(it.Since), SinceISO: webcore.IsoTime(it.Since),
			GrantURL: p + "/grant", RefuseURL: p + "/refuse", EndURL: p + "/end",
		})
	}
	return out
}

// supervision returns the 4-eyes state for the supervisor pages (404 when
// 4-eyes access is off) and whether anyone names the viewer as supervisor.
func (u *UI) supervision(r *http.Request, rc *reqCtx) (*foureyes.Access, bool, error) {
	f := u.opts.FourEyes
	if f == nil {
		return nil, false, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchPage"}
	}
	ok, err := f.Supervises(r.Context(), rc.user.Login, true)
	if err != nil {
		return nil, false, err
	}
	return f, ok, nil
}

// superviseShow is GET /supervise: the supervisor's waiting requests and
// active grants, kept live by foureyes.js over /supervise/events.
func (u *UI) superviseShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f, ok, err := u.supervision(r, rc)
	if err != nil {
		return err
	}
	v, _ := f.Supervision(rc.user.Login)
	p := supervisePage{
		Base: u.base(rc, rc.T("nav.supervise"), "supervise"), Supervises: ok,
		Pending: superviseRows(rc, v.Pending), Grants: superviseRows(rc, v.Grants),
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
	f, ok, err := u.supervision(r, rc)
	if err != nil {
		return err
	}
	if !ok {
		return &pageError{code: http.StatusForbidden, msg: "msg.nobodyNamesYouAs"}
	}
	s, err := f.Join(rc.user.Login, remoteAddr(r))
	if err != nil {
		return fourEyesPageError(err)
	}
	defer f.Leave(s)
	es, err := foureyes.StartEvents(w)
	if err != nil {
		return nil
	}
	if es.Send("hello", map[string]any{"stream": s.ID(), "ping": f.Ping().Milliseconds()}) != nil {
		return nil
	}
	ping := time.NewTicker(f.Ping())
	defer ping.Stop()
	n := 0
	for {
		v, changed := f.Supervision(rc.user.Login)
		if es.SendState(superviseView{Connected: v.Connected, Pending: superviseRows(rc, v.Pending), Grants: superviseRows(rc, v.Grants)}) != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-f.Done():
			return nil
		case <-s.Gone():
			_ = es.Send("closed", map[string]string{"reason": rc.T("msg.fe.streamClosed")})
			return nil
		case <-changed:
		case <-ping.C:
			n++
			if es.SendRaw("ping", []byte(strconv.Itoa(n))) != nil {
				return nil
			}
		}
	}
}

// superviseHeartbeat is POST /supervise/heartbeat: the page answers a
// ping of its stream.
func (u *UI) superviseHeartbeat(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PostForm.Get("stream")
	if u.opts.FourEyes == nil || id == "" || len(id) > 64 || !u.opts.FourEyes.Beat(rc.user.Login, id) {
		return &pageError{code: http.StatusNotFound, msg: "msg.pageSConnectionGone"}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// superviseAnswer is POST /supervise/{login}/grant, …/refuse and …/end.
func (u *UI) superviseAnswer(do func(f *foureyes.Access, ctx context.Context, sup *archive.User, login, remote string) error) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		f := u.opts.FourEyes
		if f == nil {
			return &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchPage"}
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
	mux.Handle("POST /supervise/{login}/grant", u.page(member, u.superviseAnswer((*foureyes.Access).Grant)))
	mux.Handle("POST /supervise/{login}/refuse", u.page(member, u.superviseAnswer((*foureyes.Access).Refuse)))
	mux.Handle("POST /supervise/{login}/end", u.page(member, u.superviseAnswer((*foureyes.Access).End)))
}
