package ui

import (
	"context"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/testclock"
)

// newTestClock is the one clock of a test: the archive, the pages, the
// API and 4-eyes all read it, so that no part of a test runs on the wall
// clock's date. It starts at t and moves on a microsecond at each reading,
// so that what happens one after the other keeps its order (a note edited
// after it was written, recordings binned one by one).
func newTestClock(t time.Time) *testclock.Clock { return testclock.Ticking(t, time.Microsecond) }

// testNow is when the UI tests run unless they say otherwise.
var testNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// TestOneClock: the pages and 4-eyes read the archive's clock unless told
// otherwise, so an appliance opened with a clock runs on it throughout.
func TestOneClock(t *testing.T) {
	clock := newTestClock(time.Date(2031, 3, 1, 10, 0, 0, 0, time.UTC))
	arc := archivetest.OpenTestOptions(t, archive.Options{Now: clock.Now})
	ctx := context.Background()
	alice := archive.User{Login: "alice", Name: "Åsa Øberg", Role: archive.RoleUser, Supervisor: "sam"}
	for _, u := range []archive.User{alice, {Login: "sam", Role: archive.RoleSupervisor}} {
		if err := arc.PutUser(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	u, err := New(arc, noMedia{}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.opts.Now(); got.Year() != 2031 {
		t.Errorf("the pages' clock reads %s, not the archive's", got)
	}
	fe := foureyes.New(arc, foureyes.Options{}, nil)
	defer fe.Close()
	st, err := fe.Request(ctx, &alice, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Since.Year() != 2031 {
		t.Errorf("4-eyes request since %s, not on the archive's clock", st.Since)
	}
	evs, _, err := arc.AuditLog(ctx, archive.AuditQuery{Action: "foureyes"})
	if err != nil || len(evs) != 1 || evs[0].Time.Year() != 2031 {
		t.Errorf("audit: %+v %v", evs, err)
	}
}
