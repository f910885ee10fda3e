package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// auditEntries returns the audit log's entries with action (admin, API).
func (d *daemon) auditEntries(t *testing.T, action string) []map[string]any {
	t.Helper()
	var out struct {
		Events []map[string]any `json:"events"`
	}
	d.getJSON(t, "/api/v1/audit?action="+action, &out)
	return out.Events
}

// TestBrowserPlayback opens a recording's page in a real browser: that is
// no play; playing with seeks is one play, however many Range requests
// the player makes. Then one stored chunk of the original is damaged in
// the stopped appliance's file: playing stops with an error on the page,
// the seal is no longer called "Sealed", and the failure is audited.
func TestBrowserPlayback(t *testing.T) {
	ctx := newBrowser(t)
	d := startDaemon(t, "")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	id := d.ingestSynth(t, "c0ffee000000000000000000000000b1", "admin", synthCall{seconds: 20, start: start, callID: "b1@pbx",
		from: synthParty{"Admin", "100"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})
	login(t, ctx, d.url, "admin", testAdminPassword)

	step(t, ctx, "open the recording", chromedp.Navigate(d.url+"/recordings/"+id), chromedp.WaitVisible(`#play`))
	poll(t, ctx, "waveform drawn", `(() => { const c = document.getElementById("wave"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n > c.width * 4; })()`)
	// One player: the page's own controls and one time readout; the
	// browser's audio bar (with a second readout) is not shown.
	if !eval[bool](t, ctx, `(() => { const a = document.getElementById("audio"); return !a.controls && getComputedStyle(a).display === "none" && document.querySelectorAll("#player .num, #player time").length === 1 && /^\d+:\d\d \/ \d+:\d\d$/.test(document.getElementById("pos").textContent); })()`) {
		t.Fatalf("player: controls=%v, readouts %q", eval[bool](t, ctx, `document.getElementById("audio").controls`),
			eval[string](t, ctx, `Array.from(document.querySelectorAll("#player .num, #player time")).map(e => e.textContent).join(" | ")`))
	}
	// The audio element has settled: idle (nothing to fetch), not loading.
	poll(t, ctx, "audio element idle", `document.getElementById("audio").networkState === HTMLMediaElement.NETWORK_IDLE`)
	if plays := d.auditEntries(t, "play"); len(plays) != 0 {
		t.Fatalf("opening the page logged %d plays: %v", len(plays), plays)
	}
	if got := eval[string](t, ctx, `document.getElementById("seal-status").textContent`); !strings.Contains(got, "Sealed") {
		t.Fatalf("seal status %q", got)
	}

	step(t, ctx, "play", chromedp.Click(`#play`))
	poll(t, ctx, "playing", `(() => { const a = document.getElementById("audio"); return !a.paused && a.currentTime > 0.5; })()`)
	step(t, ctx, "seek forward", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
	poll(t, ctx, "seeked", `document.getElementById("audio").currentTime > 10`)
	step(t, ctx, "back to the start", chromedp.KeyEvent(kb.Home))
	poll(t, ctx, "at the start", `document.getElementById("audio").currentTime < 2`)
	step(t, ctx, "mono", selectValue(`#channels`, "mono"))
	poll(t, ctx, "mono loaded", `(() => { const a = document.getElementById("audio"); return a.src.includes("channels=mono") && a.readyState >= 1; })()`)
	step(t, ctx, "pause", chromedp.Click(`#play`))
	if plays := d.auditEntries(t, "play"); len(plays) != 1 || plays[0]["target"] != id {
		t.Fatalf("one listening session logged %d plays: %v", len(plays), plays)
	}

	// Damage chunk 2 of the original (about 3 s into the call) in the
	// stopped appliance's file.
	rid, err := archive.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	data := d.data
	d.stop()
	if err := archivetest.TamperChunk(filepath.Join(data, "callvault.db"), rid, archive.BlobOriginal, 2); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, data) // the session is stored: still logged in
	step(t, ctx, "open the damaged recording", chromedp.Navigate(d.url+"/recordings/"+id), chromedp.WaitVisible(`#play`))
	step(t, ctx, "play the damaged recording", chromedp.Click(`#play`))
	poll(t, ctx, "the player shows an error", `!document.getElementById("player-error").hidden`)
	if got := eval[string](t, ctx, `document.getElementById("seal-status").textContent`); strings.Contains(got, "Sealed") || !strings.Contains(got, "Not confirmed") {
		t.Fatalf("seal status after the failed playback: %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("player-error").textContent`); !strings.Contains(got, "integrity check") {
		t.Fatalf("player error: %q", got)
	}
	fails := d.auditEntries(t, "integrity.fail")
	if len(fails) == 0 || fails[0]["target"] != id || !strings.Contains(fails[0]["detail"].(string), "chunk 2") {
		t.Fatalf("integrity.fail entries: %v", fails)
	}
}
