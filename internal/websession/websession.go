// Package websession is the browser session cookie, in one place for the
// web pages (ui), which set it at login, and the JSON API (api), which
// accepts it: its name, how a request's session is found, and how the
// cookie is set and cleared.
//
// The cookie is HttpOnly, SameSite=Lax, Path=/; under TLS it is Secure and
// carries the __Host- prefix (so no subdomain or plain-HTTP page can set
// it).
package websession

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
)

// Cookie names, and the longest token a cookie may carry.
const (
	cookiePlain  = "callvault_session"
	cookieSecure = "__Host-callvault_session"
	maxTokenLen  = 256
)

// CookieName is the session cookie's name for r: with the __Host- prefix
// under TLS.
func CookieName(r *http.Request) string {
	if r.TLS != nil {
		return cookieSecure
	}
	return cookiePlain
}

// Token returns the session cookie's value, or "".
func Token(r *http.Request) string {
	c, err := r.Cookie(CookieName(r))
	if err != nil || c.Value == "" || len(c.Value) > maxTokenLen {
		return ""
	}
	return c.Value
}

// User resolves the request's session cookie to its session and user. ok
// is false when the request carries no session cookie. A user who is
// disabled or an ingest account has no session.
func User(ctx context.Context, arc *archive.Archive, r *http.Request) (s *archive.Session, u *archive.User, ok bool, err error) {
	token := Token(r)
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
	if s == nil || u == nil || u.Disabled || u.Role == archive.RoleIngest || u.Role == archive.RoleIntegration {
		return nil, nil, true, archive.ErrBadCredentials
	}
	return s, u, true, nil
}

// Auth resolves a browser session cookie for the JSON API: ok is false
// when the request has no session cookie. A state-changing request
// (anything but GET, HEAD, OPTIONS) must pass the cross-origin check, so a
// session cookie never authorizes a request another site made.
func Auth(arc *archive.Archive, r *http.Request) (u *archive.User, ok bool, err error) {
	_, u, ok, err = User(r.Context(), arc, r)
	if !ok || err != nil {
		return nil, ok, err
	}
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return nil, true, archive.ErrBadCredentials
	}
	return u, true, nil
}

// Set sends the session cookie for token, valid until expires. Its
// lifetime goes as Max-Age, counted from now on the appliance's clock: an
// absolute Expires would be judged by the browser's clock, which may
// differ.
func Set(w http.ResponseWriter, r *http.Request, token string, expires, now time.Time) {
	maxAge := int(expires.Sub(now) / time.Second)
	if maxAge <= 0 {
		maxAge = -1 // already over: the browser drops it
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(r), Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// Clear tells the browser to drop the session cookie.
func Clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}
