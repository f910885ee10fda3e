package testchild

import (
	"fmt"
	"os"
	"testing"
	"time"
)

const childEnv = "CALLVAULT_TESTCHILD_CHILD"

// TestChild is the child of TestStartUntilKill: it says two lines and
// then waits to be killed.
func TestChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the child process of TestStartUntilKill")
	}
	fmt.Println("ready")
	fmt.Println("value", os.Getenv(childEnv))
	time.Sleep(time.Hour)
}

func TestStartUntilKill(t *testing.T) {
	cmd := Command("TestChild", childEnv+"=42")
	sc := Start(t, cmd)
	if _, ok := Until(sc, "ready"); !ok {
		t.Fatal("the child ended before it was ready")
	}
	if rest, ok := Until(sc, "value "); !ok || rest != "42" {
		t.Fatalf("Until = %q, %v; want 42, true", rest, ok)
	}
	Kill(cmd)
	if cmd.ProcessState == nil || cmd.ProcessState.Success() {
		t.Fatalf("after Kill the child's state is %v", cmd.ProcessState)
	}
	if _, ok := Until(sc, "never"); ok {
		t.Fatal("a line found after the child was killed")
	}
}
