package share

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/byterange"
)

// inProcess answers a client's requests with handler h as if they came
// from client address addr: the playback zone is driven from several
// addresses without leaving the process.
type inProcess struct {
	h    http.Handler
	addr string
	tls  bool
}

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.RemoteAddr = t.addr
	r.RequestURI = r.URL.RequestURI()
	if t.tls {
		r.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

// visitorAt is a browser on a link at client address addr ("host:port").
func (e *env) visitorAt(token, addr string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{e: e, c: &http.Client{Jar: jar, Transport: inProcess{h: e.svc.Handler(), addr: addr}}, base: e.srv.URL + "/p/" + token}
}

func otherCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// attemptsLeft enters code and returns the answer's status and attempts left.
func (v *visitor) enter(code string) (int, int) {
	v.e.t.Helper()
	resp, b := v.do("POST", "/api/session", `{"code":"`+code+`"}`)
	var r struct{ AttemptsLeft int }
	json.Unmarshal(b, &r)
	return resp.StatusCode, r.AttemptsLeft
}

// TestStrangerCannotLockOutRecipient: someone holding the link at another
// address asks for codes until refused and enters wrong codes until
// refused; the recipient still gets a code, keeps all five entries and
// opens the link with it.
func TestStrangerCannotLockOutRecipient(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	stranger := e.visitorAt(tok, "198.51.100.66:6000")
	recip := e.visitorAt(tok, "192.0.2.10:5000")
	for i := 0; ; i++ {
		if resp, _ := stranger.do("POST", "/api/code", ""); resp.StatusCode == http.StatusTooManyRequests {
			break
		} else if i == 50 {
			t.Fatal("the stranger's code requests are never refused")
		}
	}
	e.deliver() // the stranger's codes went to the recipient's mailbox
	code := recip.code()
	for i := 0; ; i++ {
		if st, _ := stranger.enter(otherCode(code)); st == http.StatusTooManyRequests {
			break
		} else if i == 100 {
			t.Fatal("the stranger's wrong codes are never refused")
		}
	}
	for i := 0; i < 5; i++ {
		stranger.do("POST", "/api/code", "")
	}
	e.deliver()
	if st, left := recip.enter(otherCode(code)); st != http.StatusUnauthorized || left != codeWrongMax-1 {
		t.Fatalf("the recipient's typo: %d, %d attempts left, want 401 and %d", st, left, codeWrongMax-1)
	}
	if st, _ := recip.enter(code); st != http.StatusOK {
		t.Fatalf("the recipient's code: %d", st)
	}
	recip.want(http.StatusOK, "POST", "/api/terms", `{"language":"en","accept":true}`)
	recip.want(http.StatusOK, "GET", "/api/recordings", "")
}

// TestWrongCodesCountedAtOnce: wrong codes sent at the same moment from
// one address are counted before any is checked, so no more are checked
// than the address may fail before its first wait.
func TestWrongCodesCountedAtOnce(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	const n = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for i := range n {
		wg.Go(func() {
			v := e.visitorAt(tok, "198.51.100.7:1")
			resp, _ := v.do("POST", "/api/session", fmt.Sprintf(`{"code":"%06d"}`, i))
			if resp.StatusCode != http.StatusTooManyRequests {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// The free failures, and one more whose failure starts the first wait.
	if passed != wrongFree+1 {
		t.Fatalf("%d of %d parallel wrong codes were checked, want %d", passed, n, wrongFree+1)
	}
}

// TestPlaybackCrossOrigin: another site's form or script cannot post to
// the playback zone, and its JSON routes take only application/json.
func TestPlaybackCrossOrigin(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	v := e.visitorAt(e.linkOf(e.deliver()[0]), "192.0.2.10:5000")
	for _, path := range []string{"/api/code", "/api/session", "/api/terms"} {
		resp, _ := v.do("POST", path, `{"code":"123456"}`, "Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, resp.StatusCode)
		}
		resp, _ = v.do("POST", path, `{"code":"123456"}`, "Origin", "https://evil.example")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s from another origin: %d, want 403", path, resp.StatusCode)
		}
	}
	if len(e.deliver()) != 0 {
		t.Error("a cross-site request mailed a code")
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		resp, _ := v.do("POST", "/api/session", `{"code":"123456"}`, "Content-Type", ct)
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("code as %q: %d, want 415", ct, resp.StatusCode)
		}
	}
	c := v.code()
	if st, _ := v.enter(c); st != http.StatusOK {
		t.Fatalf("same-origin code: %d", st)
	}
	resp, _ := v.do("POST", "/api/terms", `{"language":"en","accept":true}`, "Content-Type", "text/plain")
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("terms as text/plain: %d, want 415", resp.StatusCode)
	}
	v.want(http.StatusOK, "POST", "/api/terms", `{"language":"en","accept":true}`)
	resp, _ = v.do("POST", "/api/terms", `{"language":"en","accept":true}`, "Content-Type", "application/json; charset=utf-8", "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("terms as application/json; charset=utf-8: %d", resp.StatusCode)
	}
}

// TestPlaybackSecurityHeaders: the playback zone's headers match the UI's
// where they apply, the page's policy allows no inline style and lets the
// language form submit, and an error answer of the audio stays no-store.
func TestPlaybackSecurityHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	for _, tlsOn := range []bool{false, true} {
		jar, _ := cookiejar.New(nil)
		v := &visitor{e: e, c: &http.Client{Jar: jar, Transport: inProcess{h: e.svc.Handler(), addr: "192.0.2.10:5000", tls: tlsOn}}, base: e.srv.URL + "/p/" + tok}
		resp, _ := v.do("GET", "", "")
		h := resp.Header
		if got := h.Get("Strict-Transport-Security"); (got != "") != tlsOn {
			t.Errorf("TLS %v: Strict-Transport-Security %q", tlsOn, got)
		}
		if h.Get("Cross-Origin-Resource-Policy") != "same-origin" || h.Get("Cross-Origin-Opener-Policy") != "same-origin" {
			t.Errorf("CORP %q, COOP %q", h.Get("Cross-Origin-Resource-Policy"), h.Get("Cross-Origin-Opener-Policy"))
		}
		csp := h.Get("Content-Security-Policy")
		if strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "form-action 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
	}
	v := e.visitorAt(tok, "192.0.2.10:5000")
	v.login()
	audio := "/audio/" + e.recs[0].ID.String()
	resp, _ := v.do("GET", audio, "", "Range", "bytes=99999999-")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d", resp.StatusCode)
	} // do checks Cache-Control: no-store
}

// TestRangeAmplification: a Range of more than 16 ranges is refused (416)
// before any byte is read, not answered with a multipart answer many
// times the file's size; 16 are served.
func TestRangeAmplification(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	v := e.visitorAt(e.linkOf(e.deliver()[0]), "192.0.2.10:5000")
	v.login()
	want := renderWAV(t, e.recs[0])
	audio := "/audio/" + e.recs[0].ID.String()
	ranges := func(n int) string {
		var b strings.Builder
		b.WriteString("bytes=")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%d-%d", i*10, i*10)
		}
		return b.String()
	}
	resp, _ := v.do("GET", audio, "", "Range", ranges(byterange.MaxRanges))
	if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
		t.Fatalf("%d ranges: %d %s", byterange.MaxRanges, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, n := range []int{byterange.MaxRanges + 1, 2000} {
		resp, got := v.do("GET", audio, "", "Range", ranges(n))
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || len(got) >= len(want) ||
			resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(want)) || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d ranges: %d, %d bytes, Content-Range %q, Cache-Control %q; want 416 without the file",
				n, resp.StatusCode, len(got), resp.Header.Get("Content-Range"), resp.Header.Get("Cache-Control"))
		}
	}
	if resp, got := v.do("GET", audio, ""); resp.StatusCode != http.StatusOK || len(got) != len(want) {
		t.Fatalf("whole file: %d, %d bytes", resp.StatusCode, len(got))
	}
}

// TestCodeAttemptsAudited: code requests, entries and the terms are in the
// audit log under the recipient's name with the client's address, never
// with a code or a token; a flood of refused attempts from one address
// costs a few entries, not one each.
func TestCodeAttemptsAudited(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	v := e.visitorAt(tok, "192.0.2.10:5000")
	code := v.code()
	wrong := otherCode(code)
	v.enter(wrong)
	resp, _ := v.do("POST", "/api/session", `{"code":"`+code+`"}`)
	var session string
	for _, c := range resp.Cookies() {
		session = c.Value
	}
	v.want(http.StatusOK, "POST", "/api/terms", `{"language":"no","accept":true}`)

	stranger := e.visitorAt(tok, "198.51.100.66:6000")
	stranger.enter("123456") // no code was asked for from there
	for range 200 {
		stranger.do("POST", "/api/code", "")
	}
	for range 200 {
		stranger.enter(wrong)
	}

	type want struct {
		action string
		ok     bool
		detail string
		remote string
	}
	var got []archive.AuditEvent
	for _, a := range []string{"share.code.request", "share.code.enter", "share.terms.accept"} {
		got = append(got, e.audits(a)...)
	}
	var secrets []string
	for _, m := range e.deliver() {
		secrets = append(secrets, m.Secret)
	}
	secrets = append(secrets, code, tok, session)
	fromStranger := 0
	for _, ev := range got {
		if ev.Actor != "external:"+recipEmail {
			t.Errorf("%s: actor %q", ev.Action, ev.Actor)
		}
		for _, s := range secrets {
			if s != "" && (strings.Contains(ev.Detail, s) || strings.Contains(ev.Target, s)) {
				t.Errorf("%s: a secret in %q / %q", ev.Action, ev.Target, ev.Detail)
			}
		}
		if ev.Remote == "198.51.100.66" {
			fromStranger++
		}
	}
	for _, w := range []want{
		{"share.code.request", true, "mailed", "192.0.2.10"},
		{"share.code.enter", false, "wrong code", "192.0.2.10"},
		{"share.code.enter", true, "right code", "192.0.2.10"},
		{"share.terms.accept", true, "language no", "192.0.2.10"},
		{"share.code.enter", false, "no code", "198.51.100.66"},
		{"share.code.request", false, "refused", "198.51.100.66"},
		{"share.code.enter", false, "refused", "198.51.100.66"},
	} {
		found := false
		for _, ev := range got {
			found = found || ev.Action == w.action && ev.OK == w.ok && ev.Remote == w.remote && strings.Contains(ev.Detail, w.detail)
		}
		if !found {
			t.Errorf("no %s (ok %v, %q) from %s in %d entries", w.action, w.ok, w.detail, w.remote, len(got))
		}
	}
	if fromStranger == 0 || fromStranger > 40 {
		t.Errorf("%d audit entries for the stranger's 401 attempts, want a few", fromStranger)
	}
}

// TestCodesBoundAcrossAddresses: however many addresses ask, a link mails
// at most newCodesPerHour codes an hour (newCodesPerDay a day) for
// addresses it was never opened from, each taking codeWrongMax wrong
// entries; an address it was opened from still gets its code.
func TestCodesBoundAcrossAddresses(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	recip := e.visitorAt(tok, "[2001:db8:1:2::10]:5000")
	recip.login()
	mailed := 0
	for hour := 0; hour < 24; hour++ {
		got := 0
		for i := range 2 * newCodesPerHour {
			v := e.visitorAt(tok, fmt.Sprintf("198.51.%d.%d:1", hour, i))
			resp, _ := v.do("POST", "/api/code", "")
			switch resp.StatusCode {
			case http.StatusAccepted:
				got++
				if i == 0 && hour == 0 {
					// Five wrong entries void that address's code.
					for j := codeWrongMax - 1; j >= 0; j-- {
						if st, left := v.enter("000000"); st != http.StatusUnauthorized || left != j {
							t.Fatalf("wrong entry: %d, %d left, want %d", st, left, j)
						}
					}
				}
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("code request: %d", resp.StatusCode)
			}
		}
		if got > newCodesPerHour {
			t.Fatalf("hour %d: %d codes for new addresses, want at most %d", hour, got, newCodesPerHour)
		}
		mailed += got
		// The recipient's address still gets a code.
		e.deliver()
		if hour%3 == 0 {
			recip.code()
		}
		e.clock.Add(time.Hour)
	}
	if mailed != newCodesPerDay {
		t.Fatalf("%d codes a day for new addresses, want %d", mailed, newCodesPerDay)
	}
}
