package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFourEyes runs 4-eyes access in two browser contexts (two
// people, no shared cookies): the user's request appears on the
// supervisor's page, the grant lets the user play a recording, and
// closing the supervisor's page ends the access: the user's page says so,
// playback stops and the API refuses, within 5 s.
func TestBrowserFourEyes(t *testing.T) {
	bctx := newBrowser(t)
	d := startDaemon(t, "")
	admin := d.uiLogin(t, "admin", testAdminPassword)
	const samPW, alicePW = "sam-browser-pw-1", "alice-browser-pw-1"
	admin.createUser(t, "sam", samPW, "supervisor", url.Values{"name": {"Sam Šimkus"}})
	admin.createUser(t, "alice", alicePW, "user", url.Values{"extensions": {"201"}, "name": {"Åsa Øberg"}, "supervisor": {"sam"}})
	rec := d.ingestSynth(t, "4e4e0000000000000000000000000001", "alice", synthCall{seconds: 60,
		start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), callID: "fe@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})

	sup, closeSup := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer closeSup()
	usr, closeUsr := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer closeUsr()
	// The first run makes each context's tab; it must not run under a
	// timeout, which would take the tab with it.
	for _, c := range []context.Context{sup, usr} {
		if err := chromedp.Do(c, chromedp.Navigate("about:blank")); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
	}

	// The supervisor opens the supervision page; it connects.
	login(t, sup, d.url, "sam", samPW)
	step(t, sup, "open the supervision page", chromedp.Click(`nav a[href="/supervise"]`), chromedp.WaitVisible(`#sv-conn.on`))

	// The user logs in: a waiting page, and the request appears live on
	// the supervisor's page.
	login(t, usr, d.url, "alice", alicePW)
	poll(t, usr, "waiting page", `!!document.getElementById("fe-waiting") && document.getElementById("fe-status").textContent.includes("Waiting for your supervisor Sam Šimkus")`)
	if n := eval[int](t, usr, `document.querySelectorAll("table.list tbody tr").length`); n != 0 {
		t.Fatalf("the waiting page lists %d recordings", n)
	}
	// Asking (again) by hand says that the request went out.
	step(t, usr, "ask for access", chromedp.Click(`#fe-ask button`))
	poll(t, usr, "feedback of the request", `document.getElementById("fe-status").textContent.startsWith("Request sent at ") && document.getElementById("h-waiting").textContent === "Waiting for your supervisor"`)
	poll(t, sup, "request on the supervisor's page", `(() => { const l = document.querySelectorAll("#sv-pending li"); return l.length === 1 && l[0].textContent.includes("Åsa Øberg"); })()`)
	if title := eval[string](t, sup, `document.title`); !strings.HasPrefix(title, "(1) ") {
		t.Fatalf("supervisor's page title %q does not count the request", title)
	}
	screenshot(t, sup, "supervise-request", 1280, 700)

	// The supervisor grants; the user's page reloads into the list.
	step(t, sup, "grant", chromedp.Click(`#sv-pending button.primary`))
	poll(t, sup, "grant listed", `document.querySelectorAll("#sv-grants li").length === 1 && document.querySelectorAll("#sv-pending li").length === 0`)
	poll(t, usr, "list after the grant", `!!document.querySelector('table.list tbody tr a[href="/recordings/`+rec+`"]')`)

	// The user plays the recording.
	step(t, usr, "open the recording", chromedp.Click(`table.list tbody tr a`), chromedp.WaitVisible(`#play`))
	step(t, usr, "play", chromedp.Click(`#play`))
	poll(t, usr, "playing", `(() => { const a = document.getElementById("audio"); return a.readyState >= 2 && !a.paused && a.currentTime > 0.5; })()`)
	screenshot(t, usr, "foureyes-playing", 1280, 900)

	// The supervisor's tab closes. Measure until the user's page shows
	// the end, the audio has stopped and the API answers 403.
	closed := make(chan struct{})
	start := time.Now()
	go func() { closeSup(); close(closed) }()
	const cond = `(() => { const a = document.getElementById("audio"); const b = document.getElementById("fe-ended");
		return !!b && b.textContent.includes("Access ended: your supervisor closed the supervision page.") && a.paused && !a.getAttribute("src"); })()`
	var shown time.Duration
	for {
		sctx, cancel := context.WithTimeout(usr, 5*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			shown = time.Since(start)
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the user's page shows no end of access 30 s after the supervisor's page closed (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(usr, 10*time.Second)
	status, err := chromedp.Run(sctx, chromedp.Evaluate[int](`fetch("/api/v1/recordings/`+rec+`/audio.wav", {credentials: "same-origin"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	cancel()
	if err != nil {
		t.Fatalf("API call after the end: %v", err)
	}
	refused := time.Since(start)
	t.Logf("4-eyes revocation: the user's page showed the end with playback stopped %.2f s after the supervisor's tab was closed; the API refused (%d) at %.2f s",
		shown.Seconds(), status, refused.Seconds())
	if status != 403 {
		t.Fatalf("the user's API call after the end: %d, want 403", status)
	}
	// The time is a figure for BENCHMARKS.md (goal: under 5 s), not a
	// pass mark: on a busy machine it grows without anything being wrong.
	// Playback does not go on.
	t0 := eval[float64](t, usr, `document.getElementById("audio").currentTime`)
	time.Sleep(500 * time.Millisecond)
	if t1 := eval[float64](t, usr, `document.getElementById("audio").currentTime`); t1 != t0 {
		t.Fatalf("audio still advancing after the end: %.2f → %.2f", t0, t1)
	}
	if text := eval[string](t, usr, `document.getElementById("fe-ended").innerText`); strings.Count(text, "ended") != 1 || !strings.Contains(text, "Access ended: your supervisor") {
		t.Fatalf("the end of access reads %q: say it once", text)
	}
	screenshot(t, usr, "foureyes-ended", 1280, 700)
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("closing the supervisor's tab did not finish in 30 s")
	}

	// The audit log has the whole story.
	_, body := admin.get(t, "/api/v1/audit?action=foureyes")
	var log struct {
		Events []struct{ Actor, Action, Target, Detail string }
	}
	if err := json.Unmarshal(body, &log); err != nil {
		t.Fatalf("audit: %v\n%s", err, body)
	}
	var got []string
	for _, e := range log.Events {
		got = append(got, strings.TrimSpace(e.Actor+" "+e.Action+" "+e.Target+" "+e.Detail))
	}
	want := []string{"sam foureyes.revoke alice reason=closed", "sam foureyes.grant alice", "alice foureyes.request sam"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit, newest first: %q, want %q", got, want)
	}
}
