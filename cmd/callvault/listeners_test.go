package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/readahead"
)

// TestListenersTellDrained: a plain listener's requests, and a TLS
// listener's, arrive on readahead connections (under TLS, beneath the
// tls.Conn) that handlers find in the context, which the recorder's
// pacing of live uploads relies on.
func TestListenersTellDrained(t *testing.T) {
	cfg := &Config{Server: ServerConfig{Listen: "127.0.0.1:0", Zones: []string{"ingest"},
		ReadHeaderTimeout: Duration{10 * time.Second}},
		Listeners: []ListenerConfig{{Name: "tls", Listen: "127.0.0.1:0", TLS: true, Zones: []string{"ingest"}}},
		TLS:       TLSConfig{Dir: t.TempDir()}}
	log := slog.New(slog.DiscardHandler)
	certs, err := newCertSource(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRoutes()
	rt.handle("ingest", "PUT /up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c := readahead.FromContext(r.Context())
		if c == nil || c.Reads() == 0 {
			http.Error(w, "no readahead connection", http.StatusInternalServerError)
		}
	}))
	ls, err := listen(cfg, rt, newMetrics(), certs, log)
	if err != nil {
		t.Fatal(err)
	}
	errc := serveAll(ls)
	defer func() {
		shutdown(ls, 10*time.Second)
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, l := range ls {
		req, _ := http.NewRequest(http.MethodPut, l.url()+"/up", strings.NewReader("capture"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || (resp.TLS != nil) != l.tls {
			t.Fatalf("%s: %s: %s (TLS %v)", l.url(), resp.Status, body, resp.TLS != nil)
		}
	}
}
