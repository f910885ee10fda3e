package ui

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const uiChromium = "/usr/bin/chromium"

// uiBrowser starts a headless Chromium; without it the test is skipped,
// loudly, except under CI, where it fails.
func uiBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(uiChromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install chromium for the browser tests", uiChromium)
		}
		t.Skipf("SKIPPING the selection's browser test: %s not found", uiChromium)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(uiChromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func uiStep(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func uiEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func uiSetField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel, value))
}

// TestShareSelectionBrowser: the script adds "select all" and a live
// count to the recordings list; the chosen rows reach the send form,
// whose end date follows the days typed.
func TestShareSelectionBrowser(t *testing.T) {
	ctx := uiBrowser(t)
	s := newShareUI(t, testNow)
	uiStep(t, ctx, "log in",
		chromedp.Navigate(s.srv.URL+"/login"),
		chromedp.WaitVisible(`input[name="login"]`),
		uiSetField(`input[name="login"]`, "alice"),
		uiSetField(`input[name="password"]`, testPassword),
		chromedp.Click(`button[type="submit"].primary`),
		chromedp.WaitVisible(`#sel-all`),
	)
	if got := uiEval[string](t, ctx, `document.getElementById("sel-count").textContent`); got != "0 selected" {
		t.Errorf("count at first: %q", got)
	}
	uiStep(t, ctx, "select all", chromedp.Click(`#sel-all`))
	if got := uiEval[string](t, ctx, `document.getElementById("sel-count").textContent`); got != "3 selected" {
		t.Errorf("count after select all: %q", got)
	}
	uiStep(t, ctx, "unselect one", chromedp.Click(`input[name="r"][value="`+s.recA[1].ID.String()+`"]`))
	if got := uiEval[string](t, ctx, `document.getElementById("sel-count").textContent + " " + document.getElementById("sel-all").indeterminate`); got != "2 selected true" {
		t.Errorf("count after unselecting one: %q", got)
	}
	uiStep(t, ctx, "send", chromedp.Click(`button[formaction="/share/new"]`), chromedp.WaitVisible(`#share-form`))
	page := uiEval[string](t, ctx, `document.getElementById("share-selection").innerHTML`)
	if !strings.Contains(page, s.recA[0].ID.String()) || !strings.Contains(page, s.recA[2].ID.String()) || strings.Contains(page, s.recA[1].ID.String()) {
		t.Errorf("the send form lists:\n%s", page)
	}
	if got := uiEval[string](t, ctx, `document.getElementById("share-until").textContent`); got != "until 2026-11-28 23:59 (Europe/Oslo)" {
		t.Errorf("until at first: %q", got)
	}
	// Across the end of the month and the year.
	uiStep(t, ctx, "days", uiSetField(`#share-days`, "41"))
	if got := uiEval[string](t, ctx, `document.getElementById("share-until").textContent`); got != "until 2027-01-01 23:59 (Europe/Oslo)" {
		t.Errorf("until for 41 days: %q", got)
	}
	if want := untilText(endOfDay(testNow, 41, mustZone(t, "Europe/Oslo")), &reqCtx{loc: mustZone(t, "Europe/Oslo")}); want != "until 2027-01-01 23:59 (Europe/Oslo)" {
		t.Errorf("the server says %q for 41 days", want)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
