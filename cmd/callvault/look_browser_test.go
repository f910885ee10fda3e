package main

import (
	"testing"
	"time"

	"github.com/callvault/callvault/internal/browsertest"
	"github.com/chromedp/chromedp"
)

// emulateScheme makes the page see prefers-color-scheme: scheme.
var emulateScheme = browsertest.ColorScheme

// lookJS defines contrast(a, b) of two CSS colours, bgOf(el) (the first
// opaque background up the tree) and lowContrast(), the visible text on the
// page whose colour is too close to its background (4.5:1, WCAG AA).
const lookJS = `
function rgb(c) { const m = c.match(/[\d.]+/g).map(Number); return m; }
function lum(c) { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
function contrast(a, b) { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
function bgOf(el) { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor; const v = rgb(c); if (v.length < 4 || v[3] > 0.5) return c; } return "rgb(255, 255, 255)"; }
function lowContrast() {
  const bad = []; let checked = 0;
  for (const el of document.querySelectorAll("body *")) {
    if (!el.offsetParent && getComputedStyle(el).position !== "fixed") continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest(".sr, .skip")) continue;
    checked++;
    const c = contrast(getComputedStyle(el).color, bgOf(el));
    if (c < 4.5) bad.push(el.tagName + "." + el.className + " " + JSON.stringify(el.textContent.trim().slice(0, 30)) + " " + c.toFixed(2));
  }
  if (checked < 5) bad.push("only " + checked + " text elements");
  return bad;
}
`

// TestBrowserDarkMode: under prefers-color-scheme: dark every page turns
// dark (background and text), all visible text keeps a readable contrast
// (in light as well),
// and the waveform is redrawn in the dark colours.
func TestBrowserDarkMode(t *testing.T) {
	ctx := newBrowser(t)
	d := startDaemon(t, "")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	id := d.ingestSynth(t, "c0ffee000000000000000000000000d1", "admin", synthCall{seconds: 8, start: start, callID: "d1@pbx",
		from: synthParty{"Admin", "100"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})
	login(t, ctx, d.url, "admin", testAdminPassword)

	pages := []string{"/", "/no-such-page", "/recordings/" + id, "/admin/settings", "/admin/users", "/admin/audit", "/account", "/recyclebin"}
	type look struct{ Bg, Fg string }
	light := map[string]look{}
	step(t, ctx, "light", emulateScheme("light"))
	for _, p := range pages {
		step(t, ctx, "open "+p, chromedp.Navigate(d.url+p), chromedp.WaitVisible(`#main`))
		light[p] = eval[look](t, ctx, `({Bg: getComputedStyle(document.documentElement).backgroundColor, Fg: getComputedStyle(document.body).color})`)
		if bad := eval[[]string](t, ctx, lookJS+`lowContrast()`); len(bad) > 0 {
			t.Errorf("%s: text below 4.5:1 in light: %q", p, bad)
		}
	}

	step(t, ctx, "dark", emulateScheme("dark"))
	for _, p := range pages {
		step(t, ctx, "open "+p+" in dark", chromedp.Navigate(d.url+p), chromedp.WaitVisible(`#main`))
		got := eval[look](t, ctx, `({Bg: getComputedStyle(document.documentElement).backgroundColor, Fg: getComputedStyle(document.body).color})`)
		if got == light[p] {
			t.Errorf("%s: the same colours in dark as in light: %+v", p, got)
		}
		if dark := eval[bool](t, ctx, lookJS+`lum(getComputedStyle(document.documentElement).backgroundColor) < 0.05 && contrast(getComputedStyle(document.body).color, getComputedStyle(document.documentElement).backgroundColor) >= 7`); !dark {
			t.Errorf("%s: not a dark page with 7:1 text: %+v", p, got)
		}
		if bad := eval[[]string](t, ctx, lookJS+`lowContrast()`); len(bad) > 0 {
			t.Errorf("%s: text below 4.5:1 in dark: %q", p, bad)
		}
		if p == "/recordings/"+id {
			// Inputs and buttons are dark too, not white boxes.
			if ok := eval[bool](t, ctx, lookJS+`lum(bgOf(document.getElementById("channels"))) < 0.05 && lum(bgOf(document.getElementById("back"))) < 0.05`); !ok {
				t.Errorf("the player's controls stay light in dark")
			}
		}
	}

	// The waveform: drawn on a dark ground in the dark wave colour, and
	// redrawn when the system switches while the page is open.
	waveUses := func(varName string) bool {
		return eval[bool](t, ctx, `(() => { const c = document.getElementById("wave"); const want = getComputedStyle(document.documentElement).getPropertyValue("`+varName+`").trim();
  const p = document.createElement("canvas").getContext("2d"); p.fillStyle = want; p.fillRect(0, 0, 1, 1); const w = p.getImageData(0, 0, 1, 1).data;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255 && Math.abs(d[i] - w[0]) + Math.abs(d[i + 1] - w[1]) + Math.abs(d[i + 2] - w[2]) < 6) n++;
  return n > c.width; })()`)
	}
	step(t, ctx, "open the recording in dark", chromedp.Navigate(d.url+"/recordings/"+id), chromedp.WaitVisible(`#play`))
	poll(t, ctx, "waveform drawn", `(() => { const c = document.getElementById("wave"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n > c.width * 4; })()`)
	if !waveUses("--wave") {
		t.Error("the dark waveform is not drawn in the dark wave colour")
	}
	if c := eval[float64](t, ctx, lookJS+`contrast(getComputedStyle(document.documentElement).getPropertyValue("--wave").trim() === "" ? "rgb(0,0,0)" : (() => { const p = document.createElement("canvas").getContext("2d"); p.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--wave").trim(); p.fillRect(0,0,1,1); const w = p.getImageData(0,0,1,1).data; return "rgb(" + w[0] + "," + w[1] + "," + w[2] + ")"; })(), getComputedStyle(document.getElementById("wave")).backgroundColor)`); c < 3 {
		t.Errorf("waveform against its ground: %.2f:1, want 3:1", c)
	}
	darkWave := eval[string](t, ctx, `getComputedStyle(document.documentElement).getPropertyValue("--wave").trim()`)
	step(t, ctx, "switch to light with the page open", emulateScheme("light"))
	poll(t, ctx, "light wave colour", `getComputedStyle(document.documentElement).getPropertyValue("--wave").trim() !== `+"`"+darkWave+"`")
	poll(t, ctx, "waveform redrawn in light", `(() => { const c = document.getElementById("wave"); const want = getComputedStyle(document.documentElement).getPropertyValue("--wave").trim();
  const p = document.createElement("canvas").getContext("2d"); p.fillStyle = want; p.fillRect(0, 0, 1, 1); const w = p.getImageData(0, 0, 1, 1).data;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255 && Math.abs(d[i] - w[0]) + Math.abs(d[i + 1] - w[1]) + Math.abs(d[i + 2] - w[2]) < 6) n++;
  return n > c.width; })()`)
	step(t, ctx, "dark again", emulateScheme("dark"))
	screenshot(t, ctx, "dark-recording", 1280, 900)
}
