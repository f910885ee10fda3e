package webhook

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/byterange"
	"github.com/callvault/callvault/internal/webtest"
)

// fetch GETs (or HEADs) a file link with the given headers and returns
// the status, the answer's headers and its body.
func fetch(t *testing.T, method, link string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	resp, b := webtest.Do(t, http.DefaultClient, method, link, "", "", nil, hdr...)
	return resp.StatusCode, resp.Header, b
}

// audited returns the audit entries of action by the file link.
func (e *env) audited(action string) []archive.AuditEvent {
	e.t.Helper()
	ev, _, err := e.arc.AuditLog(e.t.Context(), archive.AuditQuery{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []archive.AuditEvent
	for _, x := range ev {
		if x.Action == action && x.Actor == fileLinkActor {
			out = append(out, x)
		}
	}
	return out
}

// TestFileLinkAuditsTheStart: whatever the Range header looks like, a
// fetch whose answer carries the WAV's first byte is audited; one that
// starts later is not (a player's next pieces), and a header of many
// ranges is refused without serving or auditing anything.
func TestFileLinkAuditsTheStart(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rec := e.complete("alice", "guid-range")
	link := e.svc.FileURL(rec.ID, e.clock.Now())
	code, _, whole := fetch(t, http.MethodGet, link)
	if code != http.StatusOK || string(whole[:4]) != "RIFF" {
		t.Fatalf("link: %d", code)
	}
	plays := len(e.audited("play"))
	if plays != 1 {
		t.Fatalf("%d plays audited for a plain fetch", plays)
	}
	if remote := e.audited("play")[0].Remote; remote != "127.0.0.1" { // the address, as the API audits it
		t.Fatalf("audited remote %q", remote)
	}
	many := "bytes=" + strings.Repeat("1-1,", byterange.MaxRanges) + "1-1"
	for _, c := range []struct {
		name, method, rng string
		code              int
		audit             bool
	}{
		{"from zero", "GET", "bytes=0-", http.StatusPartialContent, true},
		{"suffix beyond the start", "GET", "bytes=-100000000", http.StatusPartialContent, true},
		{"space after =", "GET", "bytes= 0-", http.StatusPartialContent, true},
		{"leading zeros", "GET", "bytes=00-", http.StatusPartialContent, true},
		{"zero as a later range", "GET", "bytes=100-200, 0-1", http.StatusPartialContent, true},
		{"ranges adding up to more than the file", "GET", fmt.Sprintf("bytes=1-,1-%d", len(whole)/2), http.StatusOK, true},
		{"not a byte range", "GET", "items=0-", http.StatusRequestedRangeNotSatisfiable, true},
		{"a later piece", "GET", "bytes=44-99", http.StatusPartialContent, false},
		{"the last bytes", "GET", "bytes=-100", http.StatusPartialContent, false},
		{"head", "HEAD", "", http.StatusOK, false},
		{"many ranges", "GET", many, http.StatusRequestedRangeNotSatisfiable, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, hdr, body := fetch(t, c.method, link, "Range", c.rng)
			if code != c.code {
				t.Fatalf("%s %q: %d, want %d", c.method, c.rng, code, c.code)
			}
			got := len(e.audited("play"))
			if audited := got > plays; audited != c.audit {
				t.Errorf("%s %q: audited %v, want %v", c.method, c.rng, audited, c.audit)
			}
			plays = got
			if c.rng == many && (len(body) > 200 || hdr.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(whole))) {
				t.Errorf("many ranges: %d bytes, Content-Range %q", len(body), hdr.Get("Content-Range"))
			}
		})
	}
}

// TestFileLinkChecksSeal: a recording whose seal no longer verifies is
// not served through its file link, as the API's audio route refuses it:
// 500 with the same message, and an integrity.fail audit entry.
func TestFileLinkChecksSeal(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	broken := e.complete("alice", "guid-seal-1")
	good := e.complete("alice", "guid-seal-2")
	for _, r := range []*archive.Recording{broken, good} {
		if err := e.arc.Seal(t.Context(), r.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Damage the seal in the file, as someone holding it could.
	e.stop()
	path := e.arc.Path()
	if err := e.arc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.TamperSeal(path, broken.ID); err != nil {
		t.Fatal(err)
	}
	arc, err := archive.Open(path, archivetest.Defaults(filepath.Dir(path), archive.Options{Now: e.clock.Now}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arc.Close() })
	e.arc = arc
	e.start()

	for _, m := range []string{http.MethodGet, http.MethodHead} {
		code, hdr, body := fetch(t, m, e.svc.FileURL(broken.ID, e.clock.Now()), "Range", "bytes=44-")
		if code != http.StatusInternalServerError || m == http.MethodGet && !strings.Contains(string(body), msgSealBroken) ||
			hdr.Get("Content-Disposition") != "" || hdr.Get(sealHeader) != "" {
			t.Fatalf("%s with a broken seal: %d %.200q %v", m, code, body, hdr)
		}
	}
	fails := e.audited("integrity.fail")
	if len(fails) != 2 || fails[0].Target != broken.ID.String() || fails[0].OK || !strings.Contains(fails[0].Detail, "seal: ") {
		t.Fatalf("integrity.fail entries: %+v", fails)
	}
	if plays := e.audited("play"); len(plays) != 0 {
		t.Fatalf("a refused fetch was audited as a play: %+v", plays)
	}
	code, hdr, body := fetch(t, http.MethodGet, e.svc.FileURL(good.ID, e.clock.Now()))
	if code != http.StatusOK || string(body[:4]) != "RIFF" || hdr.Get(sealHeader) != string(archive.SealValid) {
		t.Fatalf("sealed recording: %d %v", code, hdr)
	}
}
