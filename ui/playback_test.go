package ui

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/api"
	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/webtest"
)

// playEnv serves the pages and, as the daemon does, the JSON API beside
// them, over one archive with webtest.SilentMedia, a clock the test moves,
// and users admin, alice and bob; reopen lets a test change the closed
// archive file in between.
type playEnv struct {
	*testUI
	keyFile string
}

func newPlayEnv(t *testing.T) *playEnv {
	t.Helper()
	clock := newTestClock(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	arc, keyFile := webtest.NewArchive(t, clock.Now)
	e := &playEnv{
		testUI:  &testUI{t: t, arc: arc, clock: clock},
		keyFile: keyFile,
	}
	e.start()
	return e
}

func (e *playEnv) start() {
	e.t.Helper()
	u, err := New(e.arc, webtest.SilentMedia{}, Options{Version: "test", Now: e.clock.Now}, slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	e.ui = u
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api.New(e.arc, webtest.SilentMedia{}, nil).Routes())
	mux.Handle("/", u.Routes())
	e.srv = httptest.NewServer(mux)
	e.t.Cleanup(e.srv.Close)
}

// reopen stops serving, closes the archive, runs change on its file (as
// someone holding the file without any key could) and serves it again.
func (e *playEnv) reopen(change func(path string) error) {
	e.t.Helper()
	e.srv.Close()
	e.arc = webtest.Reopen(e.t, e.arc, e.keyFile, e.clock.Now, change)
	e.start()
}

// TestPlaybackPages: the recording page tells what the seal check finds
// (api's TestPlayback… tests check what the API serves): a seal that fails
// reads "Seal check failed" and never "Sealed"; a damaged chunk leaves
// the seal intact on the page, and the player's error element is there
// for the script to turn the badge; a recording not sealed yet reads "Not
// sealed yet". Opening a page is no play.
func TestPlaybackPages(t *testing.T) {
	e := newPlayEnv(t)
	rec := webtest.AddRec(t, e.arc, e.clock.Now(), "alice", 1000, 1, true)
	chunked := webtest.AddRec(t, e.arc, e.clock.Now(), "alice", 3*archive.ChunkSize+100, 1, true)
	unsealed := webtest.AddRec(t, e.arc, e.clock.Now(), "alice", 100, 1, false)
	id := rec.ID.String()

	alice := e.login("alice")
	resp, body := alice.get("/recordings/" + id)
	must(t, resp, body, 200, `preload="none"`)
	if plays := webtest.Audited(t, e.arc, "play"); len(plays) != 0 {
		t.Fatalf("opening the page logged a play: %+v", plays)
	}

	e.reopen(func(path string) error {
		if err := archivetest.TamperSeal(path, rec.ID); err != nil {
			return err
		}
		return archivetest.TamperChunk(path, chunked.ID, archive.BlobOriginal, 1)
	})
	alice = e.login("alice")
	resp, body = alice.get("/recordings/" + id)
	must(t, resp, body, 200, `id="seal-status"`, "Seal check failed: the signature does not verify", `preload="none"`)
	if strings.Contains(body, `class="ok">Sealed`) {
		t.Fatal("the page of a recording whose seal fails still says Sealed")
	}
	resp, body = alice.get("/recordings/" + chunked.ID.String())
	must(t, resp, body, 200, `id="seal-status"`, `id="player-error"`)
	resp, body = alice.get("/recordings/" + unsealed.ID.String())
	must(t, resp, body, 200, "Not sealed yet")
}
