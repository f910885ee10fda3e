package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWholeCall opens the first part of a call recorded in two
// parts: the player plays the whole call as one timeline, the second
// part's start is marked on the waveform, and playing from just before it
// goes on into the second part. A G.729 recording plays with its
// waveform; a recording in a codec the appliance does not decode (GSM) has
// no player: its row and page say so and offer the original capture.
func TestBrowserWholeCall(t *testing.T) {
	ctx := newBrowser(t)
	d := startDaemon(t, "")
	const guid = "ca11ca11000000000000000000000002"
	p1, _ := twoPartCall(t, d, guid)
	login(t, ctx, d.url, "admin", testAdminPassword)

	step(t, ctx, "open part 1", chromedp.Navigate(d.url+"/recordings/"+p1), chromedp.WaitVisible(`#play`))
	if got := eval[string](t, ctx, `document.getElementById("audio").getAttribute("src")`); got != "/api/v1/calls/"+guid+"/audio.wav" {
		t.Fatalf("the player plays %q, not the whole call", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("download").getAttribute("href")`); got != "/api/v1/calls/"+guid+"/download.zip" {
		t.Fatalf("download %q", got)
	}
	at := eval[float64](t, ctx, `(() => { const m = document.querySelectorAll(".wavebox .part-mark"); return m.length === 1 ? parseFloat(m[0].dataset.at) : -1; })()`)
	if at < 3.5 || at > 4.5 {
		t.Fatalf("the second part is marked at %v s, want about 4 s (the first part's length)", at)
	}
	// The mark sits on the waveform where the second part begins.
	if frac := eval[float64](t, ctx, `(() => { const m = document.querySelector(".part-mark").getBoundingClientRect(), c = document.getElementById("wave").getBoundingClientRect(); return (m.left - c.left) / c.width; })()`); frac < 0.5 || frac > 0.65 {
		t.Fatalf("the mark is at %.2f of the waveform, want 4/7", frac)
	}
	poll(t, ctx, "waveform drawn", `(() => { const c = document.getElementById("wave"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n > c.width * 4; })()`)

	step(t, ctx, "play", chromedp.Click(`#play`))
	poll(t, ctx, "playing", `(() => { const a = document.getElementById("audio"); return !a.paused && a.currentTime > 0.2 && a.duration > 6.5; })()`)
	step(t, ctx, "seek to just before part 2", chromedp.Evaluate[chromedp.Void](`(() => { const a = document.getElementById("audio"); a.currentTime = parseFloat(document.querySelector(".part-mark").dataset.at) - 0.7; })()`))
	poll(t, ctx, "played into part 2", `(() => { const a = document.getElementById("audio"); return !a.paused && a.currentTime > parseFloat(document.querySelector(".part-mark").dataset.at) + 0.5; })()`)
	screenshot(t, ctx, "whole-call", 1280, 900)
	step(t, ctx, "pause", chromedp.Click(`#play`))
	step(t, ctx, "the mark seeks to part 2", chromedp.Click(`.part-mark`))
	poll(t, ctx, "at part 2", `(() => { const a = document.getElementById("audio"); const at = parseFloat(document.querySelector(".part-mark").dataset.at); return Math.abs(a.currentTime - at) < 0.3; })()`)

	// A G.729 capture plays like G.711: player and waveform.
	body, err := os.ReadFile(filepath.Join(corpusDir(t), "real", "rtpproxy_g729_lost.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	resp, js := d.put(t, "ca11ca11000000000000000000000003-009033302ab1-11--admin.pcap", bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != 201 {
		t.Fatalf("PUT: %s %v", resp.Status, js)
	}
	id, _ := js["id"].(string)
	step(t, ctx, "open the G.729 recording", chromedp.Navigate(d.url+"/recordings/"+id), chromedp.WaitVisible(`#play`))
	if n := eval[int](t, ctx, `document.querySelectorAll("#undecodable").length`); n != 0 {
		t.Fatal("the G.729 recording's page calls it undecodable")
	}
	poll(t, ctx, "G.729 waveform drawn", `(() => { const c = document.getElementById("wave"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n > c.width * 4; })()`)
	step(t, ctx, "play G.729", chromedp.Click(`#play`))
	poll(t, ctx, "playing G.729", `(() => { const a = document.getElementById("audio"); return !a.paused && a.currentTime > 0.2; })()`)
	step(t, ctx, "pause G.729", chromedp.Click(`#play`))

	// A GSM capture: no player; its row and page say so.
	body, err = os.ReadFile(filepath.Join(corpusDir(t), "real", "rtpproxy_dlt_null_gsm_ipv4_ipv6.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	resp, js = d.put(t, "ca11ca11000000000000000000000004-009033302ab1-11--admin.pcap", bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != 201 {
		t.Fatalf("PUT: %s %v", resp.Status, js)
	}
	id, _ = js["id"].(string)
	const line = "Audio in GSM — not decoded by this appliance"
	step(t, ctx, "open the list", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(`.undecodable`))
	if got := eval[string](t, ctx, `document.querySelector(".undecodable").closest("tr").textContent`); !strings.Contains(got, line) || !strings.Contains(got, "original capture") {
		t.Fatalf("list row: %q", got)
	}
	step(t, ctx, "open the GSM recording", chromedp.Navigate(d.url+"/recordings/"+id), chromedp.WaitVisible(`#undecodable`))
	if got := eval[string](t, ctx, `document.getElementById("undecodable").textContent`); !strings.Contains(got, line) || !strings.Contains(got, "download the original capture") {
		t.Fatalf("page: %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("audio, #wave, #play").length`); n != 0 {
		t.Fatalf("the GSM recording's page has %d player elements", n)
	}
	if got := eval[string](t, ctx, `document.querySelector("#undecodable a[download]").getAttribute("href")`); got != "/api/v1/recordings/"+id+"/original.pcap" {
		t.Fatalf("original capture link %q", got)
	}
	screenshot(t, ctx, "undecodable", 1280, 900)
}
