package foureyes

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// testPassword is every test account's password.
const testPassword = "test-password-0123"

// TestFourEyesGraceTimes runs the grace and silence timers in a synctest
// bubble: a grant outlives its supervisor's page by exactly the grace,
// and a page that stops answering ends it after exactly the silence, on
// any machine, without waiting for real time.
func TestFourEyesGraceTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arc := archivetest.OpenTest(t)
		ctx := context.Background()
		alice := archive.User{Login: "alice", Role: archive.RoleUser, Supervisor: "sam"}
		sam := archive.User{Login: "sam", Role: archive.RoleSupervisor}
		for _, u := range []archive.User{alice, sam} {
			if err := arc.PutUser(ctx, u, testPassword); err != nil {
				t.Fatal(err)
			}
		}
		const grace, silence = 3 * time.Second, 7 * time.Second
		fe := New(arc, Options{Grace: grace, Silence: silence}, nil)
		defer fe.Close()
		granted := func(what string) {
			t.Helper()
			if _, err := fe.Request(ctx, &alice, "127.0.0.1"); err != nil {
				t.Fatalf("%s: request: %v", what, err)
			}
			if err := fe.Grant(ctx, &sam, "alice", "127.0.0.1"); err != nil {
				t.Fatalf("%s: grant: %v", what, err)
			}
		}
		// endsAfter checks that the grant holds for d less a millisecond
		// and not a millisecond longer.
		endsAfter := func(d time.Duration, what string) {
			t.Helper()
			time.Sleep(d - time.Millisecond)
			synctest.Wait()
			if !fe.Allowed(&alice) {
				t.Fatalf("the grant ended before the %s was over", what)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			if fe.Allowed(&alice) {
				t.Fatalf("the grant outlived the %s", what)
			}
		}

		// The page closes: the grant lasts the grace, not a moment more.
		s, err := fe.Join("sam", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		granted("closed")
		fe.Leave(s)
		endsAfter(grace, "grace")

		// The page stays connected but silent: the grant ends after the
		// silence, unless a heartbeat came.
		s, err = fe.Join("sam", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		granted("silent")
		time.Sleep(silence - time.Second)
		if !fe.Beat("sam", s.id) {
			t.Fatal("heartbeat refused")
		}
		endsAfter(silence, "silence after the heartbeat")
	})
}
