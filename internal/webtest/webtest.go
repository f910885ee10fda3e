// Package webtest holds what the tests of the web pages (ui) and of the
// JSON API (api) both need: a Media that renders silence, stored
// recordings with calls, requests as a user, and the audit log by action;
// and what the tests of the other handlers and of the daemon share with
// them: a request sent and read whole, a log buffer written concurrently.
// Only tests import it.
package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
)

// SilentMedia renders stereo silence for any recording: Frames frames
// (at 8 kHz) a segment, 800 (0.1 s) when Frames is 0.
type SilentMedia struct {
	Frames uint32
}

// WAV renders the silence of each of recs, joined.
func (m SilentMedia) WAV(_ context.Context, recs []*archive.Recording, _ int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	end := m.Frames
	if end == 0 {
		end = 800
	}
	segs := make([]codec.Segment, len(recs))
	for i := range segs {
		segs[i] = codec.Segment{Layout: codec.Layout{End: end}}
	}
	return codec.NewWAVReader(segs, opt)
}

// Exports returns no export hashes.
func (SilentMedia) Exports(context.Context, *archive.Recording) ([][32]byte, error) { return nil, nil }

// AddRec stores a finished recording of owner received at now, with an
// original of size bytes and the given number of calls, sealed when seal
// is set.
func AddRec(t testing.TB, arc *archive.Archive, now time.Time, owner string, size, calls int, seal bool) *archive.Recording {
	t.Helper()
	ctx := context.Background()
	w, err := arc.Create(ctx, archive.NewRecording{User: owner, FileName: owner + ".pcap", Received: now})
	if err != nil {
		t.Fatal(err)
	}
	orig := make([]byte, size)
	for i := range orig {
		orig[i] = byte(i * 7 / 5)
	}
	if _, err := w.WriteOriginal(orig); err != nil {
		t.Fatal(err)
	}
	var cs []map[string]any
	for i := range calls {
		cs = append(cs, map[string]any{"index": i, "callId": fmt.Sprintf("call-%d", i), "durationMs": 100})
	}
	info, _ := json.Marshal(map[string]any{"version": 1, "result": map[string]any{"calls": cs}})
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: now, DurationMs: 100, Info: info})
	if err != nil {
		t.Fatal(err)
	}
	if seal {
		if err := arc.Seal(ctx, rec.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	return rec
}

// Get makes a GET request to base+path as who with password (HTTP Basic)
// and reads the whole body; hdr are further header names and values.
// readErr is what reading the body returned, or the error of a request
// that got no response.
func Get(t testing.TB, base, who, password, path string, hdr ...string) (resp *http.Response, body []byte, readErr error) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(who, password)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: time.Minute}
	resp, err = c.Do(req)
	if err != nil { // the connection was closed before a response
		return &http.Response{Status: "no response"}, nil, err
	}
	defer resp.Body.Close()
	body, readErr = io.ReadAll(resp.Body)
	return resp, body, readErr
}

// Do sends a method request to url with c as login with password (HTTP
// Basic; no credentials when login is ""), hdr being further header names
// and values, and reads the whole body. A request that fails ends the test.
func Do(t testing.TB, c *http.Client, method, url, login, password string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if login != "" {
		req.SetBasicAuth(login, password)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Audited returns the audit log's entries of action, newest first.
func Audited(t testing.TB, arc *archive.Archive, action string) []archive.AuditEvent {
	t.Helper()
	evs, _, err := arc.AuditLog(context.Background(), archive.AuditQuery{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// Password is the password of the users NewArchive creates.
const Password = "test-password-0123"

// NewArchive opens a fresh archive on now with users admin, alice
// (extension 201) and bob (extension 202), each with Password. keyFile is
// its key file, for Reopen.
func NewArchive(t testing.TB, now func() time.Time) (arc *archive.Archive, keyFile string) {
	t.Helper()
	arc = archivetest.OpenTestOptions(t, archive.Options{Now: now})
	for _, u := range []archive.User{
		{Login: "admin", Name: "Ada Admin", Role: archive.RoleAdmin},
		{Login: "alice", Name: "Alice", Role: archive.RoleUser, Extensions: []string{"201"}},
		{Login: "bob", Name: "Bob", Role: archive.RoleUser, Extensions: []string{"202"}},
	} {
		if err := arc.PutUser(context.Background(), u, Password); err != nil {
			t.Fatal(err)
		}
	}
	return arc, filepath.Join(filepath.Dir(arc.Path()), "archive.key")
}

// Reopen closes arc, runs change on its file (as someone holding the file
// without any key could) and opens it again with keyFile on now. The
// caller serves the archive it returns.
func Reopen(t testing.TB, arc *archive.Archive, keyFile string, now func() time.Time, change func(path string) error) *archive.Archive {
	t.Helper()
	path := arc.Path()
	if err := arc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := change(path); err != nil {
		t.Fatal(err)
	}
	arc, err := archive.Open(path, archive.Options{KeyFile: keyFile, KDF: archive.FastKDF(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arc.Close() })
	return arc
}

// WantStatus fails t unless GET base+path as who (with Password) answers
// code with a body that contains contains.
func WantStatus(t testing.TB, base, who, path string, code int, contains string) {
	t.Helper()
	resp, body, err := Get(t, base, who, Password, path)
	if err != nil || resp.StatusCode != code || !strings.Contains(string(body), contains) {
		t.Fatalf("GET %s: %d %v %.300q; want %d with %q", path, resp.StatusCode, err, body, code, contains)
	}
}

// Segment is call of rec as Frames (800 when 0) frames of silence.
func (m SilentMedia) Segment(_ context.Context, _ *archive.Recording, _ int) (codec.Segment, error) {
	end := m.Frames
	if end == 0 {
		end = 800
	}
	return codec.Segment{Layout: codec.Layout{End: end}}, nil
}

// SyncBuffer is a buffer that a server writes its log to while the test
// reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
