package browsertest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowser(t *testing.T) {
	ctx := New(t)
	Do(t, ctx, "open a page", chromedp.Navigate(`data:text/html,<p id="p">1</p><script>setTimeout(() => document.getElementById("p").textContent = "2", 100)</script>`))
	Wait(t, ctx, "the script ran", `document.getElementById("p").textContent === "2"`)
	if got := Eval[string](t, ctx, `document.getElementById("p").textContent`); got != "2" {
		t.Fatalf("text = %q, want 2", got)
	}
}
