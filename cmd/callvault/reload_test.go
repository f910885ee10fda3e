package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadKeepsUILevels: trace levels set in the settings stay in force
// after SIGHUP re-reads the configuration file's levels.
func TestReloadKeepsUILevels(t *testing.T) {
	d := startDaemon(t, "")
	req, _ := http.NewRequest(http.MethodPatch, d.url+"/api/v1/settings", strings.NewReader(`{"traceLevels":{"recording":"debug"}}`))
	req.SetBasicAuth("admin", testAdminPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH settings: %s", resp.Status)
	}
	mark := len(d.out.String())
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.out.String()[mark:], "reloaded") {
		if time.Now().After(deadline) {
			t.Fatal("no reload after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The stored settings are applied again just after the reload: uploads
	// log at debug level once they are (bounded: lost levels fail).
	capture := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	deadline = time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if r, js := d.put(t, fmt.Sprintf("levels-%d.pcap", i), bytes.NewReader(capture), int64(len(capture))); r.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %s %v", r.Status, js)
		}
		if strings.Contains(d.out.String()[mark:], "upload started") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("recording's debug level, set in the settings, was lost on SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
