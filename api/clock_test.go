package api

import (
	"time"

	"github.com/callvault/callvault/internal/testclock"
	"github.com/callvault/callvault/internal/webtest"
)

// newTestClock is the one clock of a test: the archive and the API read
// it, so that no part of a test runs on the wall clock's date. It starts
// at t and moves on a microsecond at each reading, so that what happens
// one after the other keeps its order.
func newTestClock(t time.Time) *testclock.Clock { return testclock.Ticking(t, time.Microsecond) }

// testNow is when the API tests run unless they say otherwise.
var testNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// testPassword is the password of every user of the playback tests.
const testPassword = webtest.Password
