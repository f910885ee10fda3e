package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/readahead"
)

// TestListenersTellDrained: a plain listener's requests arrive on
// readahead connections that handlers find in the context, which the
// recorder's pacing of live uploads relies on.
func TestListenersTellDrained(t *testing.T) {
	cfg := &Config{Server: ServerConfig{Listen: "127.0.0.1:0", Zones: []string{"ingest"},
		ReadHeaderTimeout: Duration{10 * time.Second}}}
	rt := newRoutes()
	rt.handle("ingest", "PUT /up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if readahead.FromContext(r.Context()) == nil {
			http.Error(w, "no readahead connection", http.StatusInternalServerError)
		}
	}))
	ls, err := listen(cfg, rt, newMetrics(), nil, slog.New(slog.DiscardHandler))
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
	req, _ := http.NewRequest(http.MethodPut, ls[0].url()+"/up", strings.NewReader("capture"))
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", resp.Status, body)
	}
}
