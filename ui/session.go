package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/websession"
)

// identify fills rc with the logged-in user and session, if any.
func (u *UI) identify(r *http.Request, rc *reqCtx) {
	s, usr, ok, err := websession.User(r.Context(), u.arc, r)
	if !ok || err != nil {
		if err != nil && !errors.Is(err, archive.ErrBadCredentials) {
			u.log.ErrorContext(r.Context(), "ui: session lookup", "err", err)
		}
		return
	}
	rc.user, rc.token, rc.session = usr, websession.Token(r), s.ID
}

// setSessionCookie sends the session cookie (websession.Set) on the UI's
// clock.
func (u *UI) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	websession.Set(w, r, token, expires, u.opts.Now())
}

type loginPage struct {
	Base
	Login string
	Next  string
}

// safeNext returns next when it is a local path, else "/".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n\t") || len(next) > 2048 {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	next := safeNext(r.URL.Query().Get("next"))
	if rc.user != nil {
		redirect(w, r, next)
		return nil
	}
	u.render(w, r, http.StatusOK, "login.html", loginPage{Base: u.base(rc, rc.T("msg.title.login"), "login"), Next: next})
	return nil
}

// Bounds on what a login form may carry.
const (
	maxLoginField    = 128
	maxPasswordField = 1024
)

func (u *UI) loginSubmit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	login := strings.TrimSpace(r.PostForm.Get("login"))
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	p := loginPage{Base: u.base(rc, rc.T("msg.title.login"), "login"), Login: login, Next: next}
	if len(login) > maxLoginField || len(password) > maxPasswordField {
		p.Login = ""
		p.Error = rc.T("msg.wrongLogin")
		u.render(w, r, http.StatusUnauthorized, "login.html", p)
		return nil
	}
	usr, err := u.arc.Authenticate(r.Context(), archive.ClientAddr(r.RemoteAddr), login, password)
	var le *archive.LimitedError
	if errors.As(err, &le) {
		if le.First { // one record per waiting period, not one per refused request
			u.auditAs(r, login, "login", login, false, "rate limited")
		}
		w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
		p.Error = rc.T("msg.tooManyAttempts", waitText(rc, le.RetryAfter))
		u.render(w, r, http.StatusTooManyRequests, "login.html", p)
		return nil
	}
	if err == nil && (usr.Disabled || usr.Role == archive.RoleIngest || usr.Role == archive.RoleIntegration) {
		err = archive.ErrBadCredentials
	}
	if err != nil {
		if !errors.Is(err, archive.ErrBadCredentials) && !errors.Is(err, archive.ErrNotFound) && !errors.Is(err, archive.ErrInvalid) {
			return err
		}
		u.auditAs(r, login, "login", login, false, "")
		p.Error = rc.T("msg.wrongLogin")
		u.render(w, r, http.StatusUnauthorized, "login.html", p)
		return nil
	}
	if rc.token != "" { // a new login replaces the session this browser had
		if err := u.arc.DeleteSession(r.Context(), rc.token); err != nil && !errors.Is(err, archive.ErrNotFound) {
			return err
		}
	}
	token, s, err := u.arc.CreateSession(r.Context(), usr.Login, u.opts.SessionTTL, remoteAddr(r), r.UserAgent())
	if err != nil {
		return err
	}
	u.setSessionCookie(w, r, token, s.Expires)
	u.auditAs(r, usr.Login, "login", usr.Login, true, "")
	redirect(w, r, next)
	return nil
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.user == nil { // already logged out (or the session expired)
		websession.Clear(w, r)
		redirect(w, r, "/login")
		return nil
	}
	if err := u.arc.DeleteSession(r.Context(), rc.token); err != nil && !errors.Is(err, archive.ErrNotFound) {
		return err
	}
	websession.Clear(w, r)
	u.audit(r, rc, "logout", rc.user.Login, true, "")
	u.opts.FourEyes.LoggedOut(r.Context(), rc.user, remoteAddr(r)) // ends the grants this supervisor made
	redirect(w, r, "/login")
	return nil
}

func waitText(rc *reqCtx, d time.Duration) string {
	if d <= 90*time.Second {
		s := max(1, int((d+time.Second-1)/time.Second))
		if s == 1 {
			return rc.T("msg.wait.second")
		}
		return rc.T("msg.wait.seconds", s)
	}
	return rc.T("msg.wait.minutes", int((d+time.Minute-1)/time.Minute))
}

func itoa(i int) string { return strconv.Itoa(i) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
