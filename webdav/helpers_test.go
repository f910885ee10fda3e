package webdav

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/webtest"
)

const testPassword = "test-password"

// fixture is an archive with users and recordings behind the handler on a
// loopback test server.
type fixture struct {
	arc  *archive.Archive
	h    *Handler
	srv  *httptest.Server
	orig map[archive.ID][]byte
	recs []*archive.Recording
}

var testUsers = []archive.User{
	{Login: "boss", Role: archive.RoleAdmin, Name: "Boss"},
	{Login: "alice", Role: archive.RoleUser, Name: "Alice", Extensions: []string{"201"}},
	{Login: "bob", Role: archive.RoleUser, Name: "Bob", Extensions: []string{"202"}},
	{Login: "carol", Role: archive.RoleSupervisor, Name: "Carol", AccessList: []string{"bob"}},
	{Login: "dave", Role: archive.RoleUser, Name: "Dave"},
	{Login: "phone", Role: archive.RoleIngest, Name: "Phones"},
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	arc := archivetest.OpenTest(t)
	ctx := context.Background()
	for _, u := range testUsers {
		if err := arc.PutUser(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	h := New(arc, opts, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	mux.Handle(h.Prefix(), h)
	mux.Handle(strings.TrimSuffix(h.Prefix(), "/"), h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{arc: arc, h: h, srv: srv, orig: map[archive.ID][]byte{}}
}

// add stores a finished recording with size random bytes as its original.
func (f *fixture) add(t testing.TB, name, user string, start time.Time, size int, parties ...string) *archive.Recording {
	t.Helper()
	return f.addOpts(t, archive.NewRecording{FileName: name, User: user, Received: start}, start, size, parties...)
}

func (f *fixture) addOpts(t testing.TB, nr archive.NewRecording, start time.Time, size int, parties ...string) *archive.Recording {
	t.Helper()
	ctx := context.Background()
	w, err := f.arc.Create(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), uint64(len(f.recs))))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if _, err := w.WriteOriginal(data); err != nil {
		t.Fatal(err)
	}
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, DurationMs: 1000, Parties: parties})
	if err != nil {
		t.Fatal(err)
	}
	f.orig[rec.ID] = data
	f.recs = append(f.recs, rec)
	return rec
}

// do sends a request as login (no credentials when login is "").
func (f *fixture) do(t *testing.T, login, method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if login != "" {
		req.SetBasicAuth(login, testPassword)
	}
	return webtest.Do(t, f.srv.Client(), req, hdr...)
}

// msResponse is one response of a multistatus, with the properties the
// tests look at.
type msResponse struct {
	Href     string `xml:"href"`
	Propstat []struct {
		Prop struct {
			ResourceType struct {
				Collection *struct{} `xml:"collection"`
			} `xml:"resourcetype"`
			Length   string `xml:"getcontentlength"`
			Modified string `xml:"getlastmodified"`
			ETag     string `xml:"getetag"`
			Type     string `xml:"getcontenttype"`
		} `xml:"prop"`
		Status string `xml:"status"`
	} `xml:"propstat"`
}

type multistatus struct {
	Responses []msResponse `xml:"response"`
}

// propfind runs PROPFIND with the given depth and returns the responses.
func (f *fixture) propfind(t *testing.T, login, path, depth string) (int, []msResponse) {
	t.Helper()
	resp, b := f.do(t, login, "PROPFIND", path, strings.NewReader(allprop), "Depth", depth, "Content-Type", "application/xml")
	if resp.StatusCode != http.StatusMultiStatus {
		return resp.StatusCode, nil
	}
	var ms multistatus
	if err := xml.Unmarshal(b, &ms); err != nil {
		t.Fatalf("PROPFIND %s: %v\n%s", path, err, b)
	}
	return resp.StatusCode, ms.Responses
}

const allprop = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`

// walk lists every file below path as login sees it, with Depth 1 only.
func (f *fixture) walk(t *testing.T, login, path string) map[string]msResponse {
	t.Helper()
	out := map[string]msResponse{}
	var visit func(p string)
	visit = func(p string) {
		code, rs := f.propfind(t, login, p, "1")
		if code != http.StatusMultiStatus {
			t.Fatalf("PROPFIND %s as %s: %d", p, login, code)
		}
		for i, r := range rs {
			if i == 0 {
				if r.Href != p {
					t.Errorf("PROPFIND %s: first response is %s", p, r.Href)
				}
				continue
			}
			if len(r.Propstat) > 0 && r.Propstat[0].Prop.ResourceType.Collection != nil {
				if !strings.HasSuffix(r.Href, "/") {
					t.Errorf("collection href %s without trailing slash", r.Href)
				}
				visit(r.Href)
				continue
			}
			out[r.Href] = r
		}
	}
	visit(path)
	return out
}

// day is a fixed test date.
var day = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
