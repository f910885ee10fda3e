package main

import (
	"strings"
	"testing"
)

// TestSettingsShowRecordToURL: the settings page shows the Record-to-URL
// address of every listener serving uploads, with the ingest login and
// never its password, and warns that a loopback address is out of the
// phones' reach.
func TestSettingsShowRecordToURL(t *testing.T) {
	d := startDaemon(t, "")
	admin := d.uiLogin(t, "admin", testAdminPassword)
	resp, b := admin.get(t, "/admin/settings")
	body := string(b)
	if resp.StatusCode != 200 {
		t.Fatalf("settings: %d", resp.StatusCode)
	}
	want := d.url + "/recordings/Files/"
	if !strings.Contains(body, `<code class="mono">`+want+`</code>`) {
		t.Fatalf("no Record-to-URL %s on the settings page\n%s", want, body)
	}
	if !strings.Contains(body, "Login: <code>ingest</code>") {
		t.Fatal("the ingest login is not named")
	}
	if !strings.Contains(body, "Phones cannot reach this address") {
		t.Fatal("no warning that 127.0.0.1 is out of the phones' reach")
	}
	if strings.Contains(body, testIngestPassword) {
		t.Fatal("the settings page shows the ingest password")
	}
}
