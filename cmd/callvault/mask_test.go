package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaskDTMFEndToEnd: an admin turns on DTMF masking through the API;
// an upload with RFC 4733 digits (a real call from the corpus) is stored
// with the digits' event codes overwritten, the API shows its masking and
// no digit, WebDAV serves the masked capture, and `callvault verify` says
// that the sealed original is the upload with the masks applied.
func TestMaskDTMFEndToEnd(t *testing.T) {
	corpus := corpusDir(t)
	upload, err := os.ReadFile(filepath.Join(corpus, "real", "projectrtp_ivr_dtmf_issue_9_1_9_9_3.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "")
	admin := "admin:" + testAdminPassword
	d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"maskDtmf": true}, 200)

	resp, js := d.put(t, "0000000000000000000000000000dddd-009033302ab1-1--erin.pcap", bytes.NewReader(upload), int64(len(upload)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %v", resp.Status, js)
	}
	id := js["id"].(string)
	var rec struct {
		SHA256   string `json:"sha256"`
		CallList []struct {
			DTMF []map[string]any `json:"dtmf"`
		} `json:"callList"`
		Masking *struct {
			ReceivedHMAC string `json:"receivedHmacSha256"`
			EventPackets int    `json:"eventPackets"`
		} `json:"masking"`
	}
	d.getJSON(t, "/api/v1/recordings/"+id, &rec)
	sum := sha256.Sum256(upload)
	if rec.Masking == nil || len(rec.Masking.ReceivedHMAC) != 64 || rec.Masking.ReceivedHMAC == hex.EncodeToString(sum[:]) || rec.Masking.EventPackets == 0 {
		t.Fatalf("masking %+v", rec.Masking)
	}
	for _, c := range rec.CallList {
		if len(c.DTMF) != 0 {
			t.Fatalf("digits kept: %v", c.DTMF)
		}
	}
	if _, raw := d.get(t, "/api/v1/recordings/"+id); bytes.Contains(raw, []byte(`"digit"`)) {
		t.Fatalf("the API shows digits: %s", raw)
	}
	// The corpus call's digits, as the daemon would log or index them.
	for _, s := range []string{"91993", "9 1 9 9 3", `"digit"`} {
		if strings.Contains(d.out.String(), s) {
			t.Fatalf("the daemon's log holds %q", s)
		}
		if code, m := d.apiCall(t, admin, "GET", "/api/v1/recordings?q="+url.QueryEscape(s), nil); code != 200 || strings.Contains(fmt.Sprint(m), id) {
			t.Fatalf("search for %q finds the recording: %d %v", s, code, m)
		}
	}

	var path string
	for p := range davWalk(t, d.url, "admin", testAdminPassword, "/webdav/") {
		if strings.Contains(p, "~"+id[:8]) && !strings.HasPrefix(p, "/webdav/users/") {
			path = p
		}
	}
	if path == "" {
		t.Fatal("recording not found in WebDAV")
	}
	resp, served := d.get(t, path)
	if resp.StatusCode != 200 || len(served) != len(upload) || bytes.Equal(served, upload) {
		t.Fatalf("WebDAV %s: %s, %d bytes (upload %d), equal to the upload: %v", path, resp.Status, len(served), len(upload), bytes.Equal(served, upload))
	}
	if s := sha256.Sum256(served); hex.EncodeToString(s[:]) != rec.SHA256 {
		t.Fatalf("WebDAV serves %x, the sealed original is %s", s, rec.SHA256)
	}
	changed := 0
	for i := range served {
		if served[i] != upload[i] {
			changed++
			if served[i] != 0xFF {
				t.Fatalf("byte %d: %#x became %#x", i, upload[i], served[i])
			}
		}
	}
	t.Logf("%d bytes masked of %d", changed, len(upload))

	d.stop()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--data", d.data, "--key-file", d.key, id}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), id+"\tok\tthe sealed original is the upload with") ||
		!strings.Contains(out.String(), "hmac-sha256 "+rec.Masking.ReceivedHMAC) || strings.Contains(out.String(), hex.EncodeToString(sum[:])) {
		t.Fatalf("verify output:\n%s", out.String())
	}
}
