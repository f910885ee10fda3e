package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/callvault/callvault/internal/browsertest"
)

// newBrowser starts one headless Chromium for a browser test (see
// internal/browsertest).
func newBrowser(t *testing.T) context.Context { t.Helper(); return browsertest.New(t) }

// step runs actions with a time limit, failing the test on error.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, what, actions...)
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	return browsertest.Eval[T](t, ctx, js)
}

// poll waits until the JavaScript condition js is true.
func poll(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	browsertest.Wait(t, ctx, what, js)
}

// screenshot saves the page at a width to $CALLVAULT_SCREENSHOTS, when set.
func screenshot(t *testing.T, ctx context.Context, name string, width, height int64) {
	t.Helper()
	dir := os.Getenv("CALLVAULT_SCREENSHOTS")
	if dir == "" {
		return
	}
	step(t, ctx, "viewport "+name, chromedp.EmulateViewport(width, height))
	time.Sleep(300 * time.Millisecond) // the waveform redraws on resize
	browsertest.Screenshot(t, ctx, name)
	step(t, ctx, "viewport back", chromedp.EmulateViewport(1280, 900))
}

// selectValue chooses an option as a person would: the value changes and
// a change event fires.
func selectValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value))
}

// setField fills a text field (chromedp.SetValue refuses the empty string).
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel, value))
}

func login(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	step(t, ctx, "log in as "+user,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`input[name="login"]`),
		setField(`input[name="login"]`, user),
		setField(`input[name="password"]`, password),
		chromedp.Click(`button[type="submit"].primary`),
		chromedp.WaitVisible(`header.top nav`), // in any language
	)
}

func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	d := startDaemon(t, "")
	admin := d.uiLogin(t, "admin", testAdminPassword)
	const alicePW = "alice-browser-pw-1"
	admin.createUser(t, "alice", alicePW, "user", url.Values{"extensions": {"201"}, "name": {"Åsa Øberg"}})
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	recA := d.ingestSynth(t, "c0ffee00000000000000000000000001", "alice", synthCall{seconds: 12, start: start, callID: "a1@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})
	d.ingestSynth(t, "c0ffee00000000000000000000000002", "alice", synthCall{seconds: 4, start: start.Add(time.Hour), callID: "a2@pbx",
		from: synthParty{"Šarūnas Žukauskas", "+37060000000"}, to: synthParty{"Åsa Øberg", "201"}})
	d.ingestSynth(t, "c0ffee00000000000000000000000003", "admin", synthCall{seconds: 2, start: start.Add(2 * time.Hour), callID: "a3@pbx",
		from: synthParty{"Admin", "100"}, to: synthParty{"Mallory", "666"}})

	login(t, ctx, d.url, "alice", alicePW)
	rows := eval[int](t, ctx, `document.querySelectorAll("table.list tbody tr").length`)
	if rows != 2 {
		t.Fatalf("alice's list has %d rows, want 2 (her own calls only)", rows)
	}
	screenshot(t, ctx, "list-desktop", 1280, 800)
	screenshot(t, ctx, "list-phone", 390, 844)

	// Filter the list by a Baltic name.
	step(t, ctx, "filter",
		setField(`input[name="q"]`, "bērziņš"),
		chromedp.Click(`form.filters button[type="submit"]`),
	)
	poll(t, ctx, "filtered page", `location.search.includes("q=") && document.readyState === "complete" && !!document.querySelector("table.list")`)
	if got := eval[string](t, ctx, `Array.from(document.querySelectorAll("table.list tbody tr")).map(r => r.textContent).join("|")`); !strings.Contains(got, "Jānis Bērziņš") || strings.Contains(got, "Žukauskas") {
		t.Fatalf("filtered list: %q", got)
	}
	step(t, ctx, "filter by direction",
		setField(`input[name="q"]`, ""),
		selectValue(`select[name="dir"]`, "in"),
		chromedp.Click(`form.filters button[type="submit"]`),
	)
	poll(t, ctx, "page of incoming calls", `location.search.includes("dir=in") && document.readyState === "complete" && !!document.querySelector("table.list")`)
	if got := eval[string](t, ctx, `document.querySelector("table.list tbody").textContent`); !strings.Contains(got, "Žukauskas") || strings.Contains(got, "Bērziņš") {
		t.Fatalf("incoming calls: %q", got)
	}

	// Open the recording.
	step(t, ctx, "open the recording",
		chromedp.Navigate(d.url+"/?q=b%C4%93rzi%C5%86%C5%A1"),
		chromedp.Click(`table.list tbody tr a`),
		chromedp.WaitVisible(`#play`),
	)
	if loc := eval[string](t, ctx, `location.pathname`); loc != "/recordings/"+recA {
		t.Fatalf("opened %s, want /recordings/%s", loc, recA)
	}
	// The waveform's peaks arrive and are drawn.
	poll(t, ctx, "waveform drawn", `(() => { const c = document.getElementById("wave"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n > c.width * 4; })()`)

	// Play: the audio element loads and currentTime advances.
	step(t, ctx, "play", chromedp.Click(`#play`))
	poll(t, ctx, "audio loaded and playing", `(() => { const a = document.getElementById("audio"); return a.readyState >= 2 && !a.paused && a.currentTime > 0.5; })()`)
	dur := eval[float64](t, ctx, `document.getElementById("audio").duration`)
	if math.Abs(dur-12) > 0.5 {
		t.Fatalf("audio duration %.2f s, want about 12", dur)
	}
	if txt := eval[string](t, ctx, `document.getElementById("play").textContent`); txt != "Pause" {
		t.Fatalf("play button says %q while playing", txt)
	}
	screenshot(t, ctx, "recording-desktop", 1280, 900)
	screenshot(t, ctx, "recording-phone", 390, 844)

	// Seek: a click at 75 % of the waveform, then the keyboard.
	step(t, ctx, "pause", chromedp.Click(`#play`))
	step(t, ctx, "seek by click", chromedp.Evaluate[chromedp.Void](`(() => {
		const c = document.getElementById("wave"), r = c.getBoundingClientRect();
		const opt = {clientX: r.left + r.width * 0.75, clientY: r.top + r.height / 2, pointerId: 1, bubbles: true};
		c.dispatchEvent(new PointerEvent("pointerdown", opt)); c.dispatchEvent(new PointerEvent("pointerup", opt));
	})()`))
	poll(t, ctx, "seeked to 75 %", `Math.abs(document.getElementById("audio").currentTime - 9) < 0.3`)
	step(t, ctx, "seek back with the keyboard", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`), chromedp.KeyEvent(kb.ArrowLeft))
	poll(t, ctx, "seeked back 5 s", `Math.abs(document.getElementById("audio").currentTime - 4) < 0.3`)
	// Mono keeps the position.
	step(t, ctx, "mono", selectValue(`#channels`, "mono"))
	poll(t, ctx, "mono loaded at the same position", `(() => { const a = document.getElementById("audio"); return a.src.includes("channels=mono") && a.readyState >= 1 && Math.abs(a.currentTime - 4) < 0.3; })()`)

	// Add a note.
	note := "Callback agreed with Jānis Bērziņš, Šarūnas Žukauskas in copy"
	step(t, ctx, "add a note",
		setField(`#note-form textarea`, note),
		chromedp.Click(`#note-form button`),
		chromedp.WaitVisible(`article.note`),
	)
	if got := eval[string](t, ctx, `document.querySelector("article.note .text").textContent`); got != note {
		t.Fatalf("note shows %q", got)
	}

	// Download the zip through the page's button and verify it offline.
	zipPath := clickDownload(t, ctx, "click download", `a[href$="/download.zip"]`)
	dir := filepath.Dir(zipPath)
	z := zipPath + ".zip"
	if err := os.Rename(zipPath, z); err != nil {
		t.Fatal(err)
	}
	_, settings := admin.get(t, "/admin/settings")
	m := regexp.MustCompile(`(?s)<pre class="mono small" id="pubkey">(.*?)</pre>`).FindSubmatch(settings)
	if m == nil {
		t.Fatal("the settings page shows no public key")
	}
	pemFile := filepath.Join(dir, "appliance.pem")
	if err := os.WriteFile(pemFile, bytes.ReplaceAll(m[1], []byte("&#43;"), []byte("+")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"verify", z, "--pubkey", pemFile}, &out, &out); err != nil {
		t.Fatalf("verify the downloaded zip: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "recording.wav sha256 sealed") {
		t.Fatalf("verify output: %s", out.String())
	}

	// A user is refused an admin page.
	step(t, ctx, "alice opens the settings", chromedp.Navigate(d.url+"/admin/settings"), chromedp.WaitVisible(`main h1`))
	if h := eval[string](t, ctx, `document.querySelector("main").textContent`); !strings.Contains(h, "This page is for administrators.") {
		t.Fatalf("alice on /admin/settings: %q", h)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('a[href="/admin/settings"]').length`); n != 0 {
		t.Fatal("alice's navigation links to the admin pages")
	}

	// An admin changes a setting.
	step(t, ctx, "log out", chromedp.Navigate(d.url+"/"), chromedp.Click(`form[action="/logout"] button`), chromedp.WaitVisible(`input[name="login"]`))
	login(t, ctx, d.url, "admin", testAdminPassword)
	step(t, ctx, "change the PBX name",
		chromedp.Navigate(d.url+"/admin/settings"),
		chromedp.WaitVisible(`#settings-form`),
		setField(`input[name="pbxName"]`, "Rīgas birojs"),
		selectValue(`select[name="trace.gui"]`, "debug"),
		chromedp.Click(`#settings-form button[type="submit"]`),
		chromedp.WaitVisible(`p.flash`),
	)
	if got := eval[string](t, ctx, `document.querySelector("a.brand").textContent + " | " + document.getElementById("pbx-name").textContent`); got != "callvault | Rīgas birojs" {
		t.Fatalf("header shows %q after the change", got)
	}
	if got := eval[string](t, ctx, `document.querySelector('select[name="trace.gui"]').value`); got != "debug" {
		t.Fatalf("trace level shows %q", got)
	}
	screenshot(t, ctx, "settings-desktop", 1280, 900)
	fmt.Fprintf(testWriter{t}, "browser test done; screenshots in %q\n", os.Getenv("CALLVAULT_SCREENSHOTS"))
}
