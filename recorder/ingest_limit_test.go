package recorder

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestIngestGuessLimit: wrong device passwords from one address meet 429
// with Retry-After, and devices at other addresses keep uploading.
func TestIngestGuessLimit(t *testing.T) {
	r, arc := openTestRecorder(t)
	if err := arc.PutUser(context.Background(), archive.User{Login: "phones", Role: archive.RoleIngest}, "device-secret"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	from := func(src string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: time.Minute}
	}
	capture := makeCallPcap(testCall{seconds: 1, pt: 8})
	put := func(c *http.Client, pw string) *http.Response {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/recordings/Files/f9e5956e47d460010630009033302ab1-009033302ab1-11--alice.pcap", bytes.NewReader(capture))
		req.SetBasicAuth("phones", pw)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	attacker, phone := from("127.0.0.2"), from("127.0.0.1")
	for i := 0; ; i++ {
		resp := put(attacker, fmt.Sprint("wrong", i))
		if resp.StatusCode == http.StatusTooManyRequests {
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			break
		}
		if resp.StatusCode != http.StatusUnauthorized || i > 10 {
			t.Fatalf("guess %d: %s", i, resp.Status)
		}
	}
	if resp := put(attacker, "device-secret"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password while waiting: %s", resp.Status)
	}
	if resp := put(phone, "device-secret"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload from another address: %s", resp.Status)
	}
}

// TestImportMarked: an upload carrying the import header, and Import,
// store recordings marked imported; a phone's upload and Ingest do not.
func TestImportMarked(t *testing.T) {
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	if err := arc.PutUser(ctx, archive.User{Login: "phones", Role: archive.RoleIngest}, "device-secret"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	capture := makeCallPcap(testCall{seconds: 1, pt: 8})
	put := func(name string, imported bool) *archive.Recording {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/recordings/Files/"+name, bytes.NewReader(capture))
		req.SetBasicAuth("phones", "device-secret")
		if imported {
			req.Header.Set(ImportHeader, "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %s", name, resp.Status)
		}
		recs, _, err := arc.List(ctx, archive.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if rec.FileName == name {
				return rec
			}
		}
		t.Fatalf("%s: not stored", name)
		return nil
	}
	if rec := put("put-import.pcap", true); !rec.Imported {
		t.Error("an upload with the import header is not marked imported")
	}
	if rec := put("put-phone.pcap", false); rec.Imported {
		t.Error("a phone's upload is marked imported")
	}
	rec, err := r.Import(ctx, "direct-import.pcap", bytes.NewReader(capture))
	if err != nil || !rec.Imported {
		t.Fatalf("Import: imported %v, %v", rec != nil && rec.Imported, err)
	}
	rec, err = r.Ingest(ctx, "direct-ingest.pcap", bytes.NewReader(capture))
	if err != nil || rec.Imported {
		t.Fatalf("Ingest: imported %v, %v", rec != nil && rec.Imported, err)
	}
	if got, err := arc.Get(ctx, rec.ID); err != nil || got.Imported {
		t.Fatalf("Get after Ingest: %+v %v", got, err)
	}
}
