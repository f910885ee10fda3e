package webdav

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// reopen closes the fixture's archive, runs change on its file (as
// someone holding the file without any key could) and serves it again.
func (f *fixture) reopen(t *testing.T, change func(path string) error) {
	t.Helper()
	f.srv.Close()
	path := f.arc.Path()
	if err := f.arc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := change(path); err != nil {
		t.Fatal(err)
	}
	arc, err := archive.Open(path, archive.Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: archive.FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arc.Close() })
	f.arc = arc
	f.h = New(arc, Options{}, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	mux.Handle(f.h.Prefix(), f.h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
}

// fetch GETs path as alice and reads the body; err is what the request or
// the reading returned.
func (f *fixture) fetch(t *testing.T, path string, hdr ...string) (resp *http.Response, n int, err error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	req.SetBasicAuth("alice", testPassword)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err = f.srv.Client().Do(req)
	if err != nil {
		return &http.Response{Status: "no response"}, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, len(b), err
}

func integrityFails(t *testing.T, arc *archive.Archive) []archive.AuditEvent {
	t.Helper()
	evs, _, err := arc.AuditLog(context.Background(), archive.AuditQuery{Action: "integrity.fail"})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestGetChecksSeal: a file whose seal was changed in the archive file is
// refused before any byte is served, and the refusal is audited.
func TestGetChecksSeal(t *testing.T) {
	f := newFixture(t, Options{})
	rec := f.add(t, "call.pcap", "alice", day, 1000)
	if err := f.arc.Seal(t.Context(), rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	p := "/webdav/users/alice/2026/11/21/" + fileName(rec, false)
	if resp, n, err := f.fetch(t, p); err != nil || resp.StatusCode != 200 || n != 1000 {
		t.Fatalf("before: %s %d %v", resp.Status, n, err)
	}
	f.reopen(t, func(path string) error { return archivetest.TamperSeal(path, rec.ID) })
	resp, n, err := f.fetch(t, p)
	if err != nil || resp.StatusCode != http.StatusInternalServerError || n > 300 {
		t.Fatalf("GET with a broken seal: %s, %d bytes, %v", resp.Status, n, err)
	}
	evs := integrityFails(t, f.arc)
	if len(evs) != 1 || evs[0].Target != rec.ID.String() || evs[0].Actor != "alice" || evs[0].OK ||
		!strings.Contains(evs[0].Detail, "seal: the signature does not verify") {
		t.Fatalf("integrity.fail entries: %+v", evs)
	}
	if n := auditCount(t, f.arc, "webdav.get"); n != 1 {
		t.Fatalf("the refused GET was audited as a fetch: %d webdav.get entries", n)
	}
}

// TestGetAbortsOnDamagedChunk: a stored chunk that fails authentication
// part way through a file ends the response with a failed transfer, not
// a short file, and is audited.
func TestGetAbortsOnDamagedChunk(t *testing.T) {
	f := newFixture(t, Options{})
	size := 3*archive.ChunkSize + 1234
	rec := f.add(t, "call.pcap", "alice", day, size)
	p := "/webdav/users/alice/2026/11/21/" + fileName(rec, false)
	f.reopen(t, func(path string) error { return archivetest.TamperChunk(path, rec.ID, archive.BlobOriginal, 2) })
	resp, n, err := f.fetch(t, p)
	if err == nil || n >= size {
		t.Fatalf("GET with a damaged chunk: %s, %d of %d bytes, error %v; want a failed transfer", resp.Status, n, size, err)
	}
	if _, n, err := f.fetch(t, p, "Range", fmt.Sprintf("bytes=0-%d", archive.ChunkSize)); err != nil || n != archive.ChunkSize+1 {
		t.Fatalf("range before the damage: %d bytes, %v", n, err)
	}
	// A range that starts in the damaged chunk is refused before the
	// status is sent.
	resp, n, err = f.fetch(t, p, "Range", fmt.Sprintf("bytes=%d-", 2*archive.ChunkSize+5))
	if err != nil || resp.StatusCode != http.StatusInternalServerError || n > 300 {
		t.Fatalf("range in the damaged chunk: %s, %d bytes, %v", resp.Status, n, err)
	}
	evs := integrityFails(t, f.arc)
	if len(evs) != 2 {
		t.Fatalf("integrity.fail entries: %+v", evs)
	}
	for _, e := range evs {
		if e.Target != rec.ID.String() || e.OK || e.Detail != "webdav: original chunk 2: authentication failed" {
			t.Fatalf("integrity.fail entry: %+v", e)
		}
	}
	// The refused range was not audited as a fetch; the full GET and the
	// range before the damage were.
	if n := auditCount(t, f.arc, "webdav.get"); n != 2 {
		t.Fatalf("webdav.get entries: %d, want 2", n)
	}
}
