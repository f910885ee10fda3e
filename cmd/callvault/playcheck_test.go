package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// fetchAll GETs path as admin and reads the whole body, returning the
// status, the bytes read and the error of the request or of reading.
func (d *daemon) fetchAll(t *testing.T, path string) (int, int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", testAdminPassword)
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, len(b), err
}

// TestPlaybackDamagedChunk flips one bit of a stored chunk in the middle
// of a 10-minute call's original in the stopped appliance's file. Audio,
// the zip, the original and the WebDAV file then fail as transfers (not a
// clean 200 of full length), and each failure is in the audit log.
func TestPlaybackDamagedChunk(t *testing.T) {
	corpus := corpusDir(t)
	d := startDaemon(t, "")
	id := uploadCase(t, d, corpus, "pcmu_long", "0000000000000000000000000000bbbb-009033302ab1-1--admin.pcap")
	rid, err := archive.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]int{
		"/api/v1/recordings/" + id + "/audio.wav":     0,
		"/api/v1/recordings/" + id + "/download.zip":  0,
		"/api/v1/recordings/" + id + "/original.pcap": 0,
	}
	for p := range davWalk(t, d.url, "admin", testAdminPassword, "/webdav/") {
		if strings.Contains(p, id[:8]) && !strings.HasPrefix(p, "/webdav/users/") {
			paths[p] = 0
		}
	}
	if len(paths) != 4 {
		t.Fatalf("paths: %v", paths)
	}
	for p := range paths {
		code, n, err := d.fetchAll(t, p)
		if code != 200 || err != nil {
			t.Fatalf("GET %s before: %d %v", p, code, err)
		}
		paths[p] = n
	}
	data := d.data
	d.stop()
	// Chunk 20 of the original: about 1.3 MB in, well past what a
	// connection buffers.
	if err := archivetest.TamperChunk(filepath.Join(data, "callvault.db"), rid, archive.BlobOriginal, 20); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, data)
	for p, full := range paths {
		code, n, err := d.fetchAll(t, p)
		if err == nil || n >= full {
			t.Errorf("GET %s with a damaged chunk: %d, %d of %d bytes, error %v; want a failed transfer", p, code, n, full, err)
		}
	}
	var out struct {
		Events []struct {
			Actor, Target, Detail string
			OK                    bool
		}
	}
	d.getJSON(t, "/api/v1/audit?action=integrity.fail", &out)
	if len(out.Events) != 4 {
		b, _ := json.Marshal(out)
		t.Fatalf("integrity.fail entries: %s", b)
	}
	for _, e := range out.Events {
		if e.Target != id || e.OK || e.Actor != "admin" || !strings.Contains(e.Detail, "chunk 20") {
			t.Errorf("integrity.fail entry: %+v", e)
		}
	}
}
