package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
)

// Session cookies: HttpOnly, SameSite=Lax, Path=/; under TLS Secure with
// the __Host- prefix (so no subdomain or plain-HTTP page can set it).
const (
	cookiePlain  = "callvault_session"
	cookieSecure = "__Host-callvault_session"
	maxTokenLen  = 256
)

func cookieName(r *http.Request) string {
	if r.TLS != nil {
		return cookieSecure
	}
	return cookiePlain
}

// sessionToken returns the session cookie's value, or "".
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(cookieName(r))
	if err != nil || c.Value == "" || len(c.Value) > maxTokenLen {
		return ""
	}
	return c.Value
}

// sessionUser resolves the request's session cookie to its session and
// user. ok is false when the request carries no session cookie. A user who
// is disabled or an ingest account has no session.
func sessionUser(ctx context.Context, arc *archive.Archive, r *http.Request) (s *archive.Session, u *archive.User, ok bool, err error) {
	token := sessionToken(r)
	if token == "" {
		return nil, nil, false, nil
	}
	s, u, err = arc.SessionByToken(ctx, token)
	if err != nil {
		if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrInvalid) {
			err = archive.ErrBadCredentials
		}
		return nil, nil, true, err
	}
	if s == nil || u == nil || u.Disabled || u.Role == archive.RoleIngest {
		return nil, nil, true, archive.ErrBadCredentials
	}
	return s, u, true, nil
}

// SessionAuth resolves a browser session cookie for the JSON API: ok is
// false when the request has no session cookie. A state-changing request
// (anything but GET, HEAD, OPTIONS) must pass the cross-origin check, so a
// session cookie never authorizes a request another site made.
func SessionAuth(arc *archive.Archive, r *http.Request) (u *archive.User, ok bool, err error) {
	_, u, ok, err = sessionUser(r.Context(), arc, r)
	if !ok || err != nil {
		return nil, ok, err
	}
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return nil, true, archive.ErrBadCredentials
	}
	return u, true, nil
}

// identify fills rc with the logged-in user and session, if any.
func (u *UI) identify(r *http.Request, rc *reqCtx) {
	s, usr, ok, err := sessionUser(r.Context(), u.arc, r)
	if !ok || err != nil {
		if err != nil && !errors.Is(err, archive.ErrBadCredentials) {
			u.log.ErrorContext(r.Context(), "ui: session lookup", "err", err)
		}
		return
	}
	rc.user, rc.token, rc.session = usr, sessionToken(r), s.ID
}

// setSessionCookie sends the session cookie. Its lifetime goes as Max-Age,
// counted from now on the appliance's clock: an absolute Expires would be
// judged by the browser's clock, which may differ.
func (u *UI) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	maxAge := int(expires.Sub(u.opts.Now()) / time.Second)
	if maxAge <= 0 {
		maxAge = -1 // already over: the browser drops it
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

func (u *UI) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
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
	u.render(w, r, http.StatusOK, "login.html", loginPage{Base: u.base(rc, "Log in", "login"), Next: next})
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
	p := loginPage{Base: u.base(rc, "Log in", "login"), Login: login, Next: next}
	if len(login) > maxLoginField || len(password) > maxPasswordField {
		p.Login = ""
		p.Error = "Wrong login or password."
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
		p.Error = "Too many failed attempts. Try again in " + waitText(le.RetryAfter) + "."
		u.render(w, r, http.StatusTooManyRequests, "login.html", p)
		return nil
	}
	if err == nil && (usr.Disabled || usr.Role == archive.RoleIngest) {
		err = archive.ErrBadCredentials
	}
	if err != nil {
		if !errors.Is(err, archive.ErrBadCredentials) && !errors.Is(err, archive.ErrNotFound) && !errors.Is(err, archive.ErrInvalid) {
			return err
		}
		u.auditAs(r, login, "login", login, false, "")
		p.Error = "Wrong login or password."
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
		u.clearSessionCookie(w, r)
		redirect(w, r, "/login")
		return nil
	}
	if err := u.arc.DeleteSession(r.Context(), rc.token); err != nil && !errors.Is(err, archive.ErrNotFound) {
		return err
	}
	u.clearSessionCookie(w, r)
	u.audit(r, rc, "logout", rc.user.Login, true, "")
	u.opts.FourEyes.LoggedOut(r.Context(), rc.user, remoteAddr(r)) // ends the grants this supervisor made
	redirect(w, r, "/login")
	return nil
}

func waitText(d time.Duration) string {
	if d <= 90*time.Second {
		s := max(1, int((d+time.Second-1)/time.Second))
		if s == 1 {
			return "a second"
		}
		return itoa(s) + " seconds"
	}
	return itoa(int((d+time.Minute-1)/time.Minute)) + " minutes"
}

func itoa(i int) string { return strconv.Itoa(i) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
