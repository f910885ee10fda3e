package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTraceLevelFromSettings: the settings page offers the trace level,
// and setting a subsystem to it makes the daemon write TRACE lines for
// that subsystem.
func TestTraceLevelFromSettings(t *testing.T) {
	d := startDaemon(t, "")
	admin := d.uiLogin(t, "admin", testAdminPassword)
	_, page := admin.get(t, "/admin/settings")
	if !strings.Contains(string(page), `<option value="trace"`) {
		t.Fatal("the settings page offers no trace level")
	}
	resp, body := admin.post(t, "/admin/settings", url.Values{"pbxName": {"PBX"}, "timeZone": {"UTC"}, "sealing": {"on"}, "trace.gui": {"trace"}})
	if resp.StatusCode != 303 {
		t.Fatalf("save settings: %d\n%.600s", resp.StatusCode, body)
	}
	for i := 0; ; i++ {
		admin.get(t, "/admin/settings")
		for _, l := range strings.Split(d.out.String(), "\n") {
			if strings.Contains(l, "level=TRACE") && strings.Contains(l, "subsystem=gui") && strings.Contains(l, "path=/admin/settings") {
				return
			}
		}
		if i == 100 {
			t.Fatalf("no TRACE line of the gui subsystem:\n%s", d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
