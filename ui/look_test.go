package ui

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestHeaderNamesProductAndPBX: every page's header carries the product
// name and, once set, the PBX name, and links the favicon.
func TestHeaderNamesProductAndPBX(t *testing.T) {
	tu := newTestUI(t)
	c := tu.login("alice")
	header := regexp.MustCompile(`(?s)<header class="top">.*?</header>`)

	resp, body := c.get("/")
	must(t, resp, body, 200)
	h := header.FindString(body)
	if !strings.Contains(h, "callvault") || strings.Contains(h, `id="pbx-name"`) {
		t.Fatalf("header without a PBX name: %s", h)
	}

	ctx := context.Background()
	s, err := tu.arc.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.PBXName = "Rīga <PBX>"
	if err := tu.arc.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/account", "/login"} {
		resp, body := c.get(path)
		if path == "/login" {
			resp, body = tu.client().get(path)
		}
		must(t, resp, body, 200)
		h := header.FindString(body)
		if !strings.Contains(h, ">callvault</a>") {
			t.Errorf("%s: header lacks the product name: %s", path, h)
		}
		if !strings.Contains(h, `<span class="pbx" id="pbx-name">Rīga &lt;PBX&gt;</span>`) {
			t.Errorf("%s: header lacks the PBX name: %s", path, h)
		}
		icon := tu.ui.static.url("favicon.svg")
		if icon == "" || !strings.Contains(body, `<link rel="icon" href="`+icon+`" type="image/svg+xml">`) {
			t.Errorf("%s: no favicon link (%q)", path, icon)
		}
	}
}

// TestFaviconServed: the icon is served as SVG under its hashed URL and at
// /favicon.ico, where browsers look without a link.
func TestFaviconServed(t *testing.T) {
	tu := newTestUI(t)
	c := tu.client()
	for _, path := range []string{tu.ui.static.url("favicon.svg"), "/favicon.ico"} {
		resp, body := c.get(path)
		must(t, resp, body, 200, "<svg")
		if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
	}
}
