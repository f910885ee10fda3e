package share

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{`{"code":"123456"}`, `{"code":"12345"}`, `{"code":123456}`, `{}`, `{"code":"123456"}{}`, `{"code":"１２３４５６"}`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCode(jsonRequest(s))
		if err == nil && (len(c) != 6 || strings.Trim(c, "0123456789") != "") {
			t.Fatalf("accepted %q", c)
		}
	})
}

func FuzzParseTerms(f *testing.F) {
	for _, s := range []string{`{"language":"en","accept":true}`, `{"language":"xx","accept":true}`, `{"accept":"yes"}`, `[]`, "null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lang, _, err := parseTerms(jsonRequest(s))
		if err == nil && !validLanguage(lang) {
			t.Fatalf("accepted language %q", lang)
		}
	})
}

// jsonRequest is a POST of body declared application/json.
func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{newToken(), strings.Repeat("A", 32), strings.Repeat("=", 32), "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := parseToken(s)
		if ok && (len(b) != 24 || encodeToken(b) != s) {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzHandler sends any method, path, cookie and body to the playback
// zone: it answers without a crash, with no-store, and serves audio only
// behind a session.
func FuzzHandler(f *testing.F) {
	e := newEnv(f, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	h := e.svc.Handler()
	for _, s := range []struct{ m, p, b string }{
		{"GET", "/p/" + tok, ""},
		{"POST", "/p/" + tok + "/api/code", ""},
		{"POST", "/p/" + tok + "/api/session", `{"code":"123456"}`},
		{"GET", "/p/" + tok + "/api/terms?language=no", ""},
		{"POST", "/p/" + tok + "/api/terms", `{"language":"en","accept":true}`},
		{"GET", "/p/" + tok + "/api/recordings", ""},
		{"GET", "/p/" + tok + "/audio/" + e.recs[0].ID.String(), ""},
		{"GET", "/p/" + tok + "/static/../../x", ""},
		{"GET", "/p/" + tok + "/logo", ""},
		{"PUT", "/p/%00/api/code", "{"},
	} {
		f.Add(s.m, s.p, s.b, "")
	}
	f.Fuzz(func(t *testing.T, method, path, body, cookie string) {
		u, err := url.Parse(path)
		if err != nil || !validMethod(method) {
			return
		}
		r := (&http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody, RemoteAddr: "192.0.2.9:1234",
			Host: "example"}).WithContext(context.Background())
		if body != "" {
			r.Body = httptestBody(body)
			r.ContentLength = int64(len(body))
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookieName+"="+cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s %s: no no-store", method, path)
		}
		if w.Code == http.StatusOK && strings.Contains(path, "/audio/") {
			t.Fatalf("%s %s: audio without a session", method, path)
		}
		if bytes.Contains(w.Body.Bytes(), []byte(tok)) && !strings.Contains(path, tok) {
			t.Fatal("the token leaked")
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 10 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

type body struct{ *strings.Reader }

func (body) Close() error { return nil }

func httptestBody(s string) body { return body{strings.NewReader(s)} }
