package websession

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCookie: the name carries the __Host- prefix under TLS only; Set
// counts Max-Age on the given clock (a lifetime already over drops the
// cookie); Clear drops it; Token ignores an empty or oversized value.
func TestCookie(t *testing.T) {
	plain := httptest.NewRequest("GET", "/", nil)
	secure := httptest.NewRequest("GET", "/", nil)
	secure.TLS = &tls.ConnectionState{}
	if CookieName(plain) != "callvault_session" || CookieName(secure) != "__Host-callvault_session" {
		t.Fatalf("names: %q %q", CookieName(plain), CookieName(secure))
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		r       *http.Request
		expires time.Time
		maxAge  int
	}{
		{plain, now.Add(12 * time.Hour), 12 * 3600},
		{secure, now.Add(time.Minute), 60},
		{plain, now.Add(-time.Second), -1},
	} {
		w := httptest.NewRecorder()
		Set(w, c.r, "tok", c.expires, now)
		ck := w.Result().Cookies()
		if len(ck) != 1 || ck[0].Name != CookieName(c.r) || ck[0].MaxAge != c.maxAge || !ck[0].HttpOnly ||
			ck[0].SameSite != http.SameSiteLaxMode || ck[0].Path != "/" || ck[0].Secure != (c.r.TLS != nil) {
			t.Errorf("Set: %+v", ck)
		}
	}
	w := httptest.NewRecorder()
	Clear(w, secure)
	if ck := w.Result().Cookies(); len(ck) != 1 || ck[0].MaxAge != -1 || ck[0].Value != "" || !ck[0].Secure {
		t.Errorf("Clear: %+v", ck)
	}
	for value, want := range map[string]string{"abc": "abc", "": "", strings.Repeat("x", maxTokenLen+1): ""} {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "callvault_session", Value: value})
		if got := Token(r); got != want {
			t.Errorf("Token(%.10q) = %.10q, want %.10q", value, got, want)
		}
	}
	if Token(secure) != "" {
		t.Error("a token without a cookie")
	}
}
