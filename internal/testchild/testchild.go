// Package testchild runs a test of the running test binary as a process of
// its own, for tests that kill a process in the middle of its work
// (SIGKILL) or need a second daemon, and reads what the child says on its
// standard output.
//
// The child is an ordinary test function that does nothing unless an
// environment variable the parent sets is present; it reports progress
// with fmt.Println, one line per event, which the parent waits for with
// Until before it kills or talks to the child.
package testchild

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Command returns a command running the test named test of this test
// binary, with env added to the environment and its standard error on
// this process's. Callers may add arguments or redirect the standard
// error before Start.
func Command(test string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// Start starts cmd and returns a scanner over its standard output. When t
// ends, the process is killed (SIGKILL) and waited for if it still runs.
func Start(t testing.TB, cmd *exec.Cmd) *bufio.Scanner {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Kill(cmd) })
	return bufio.NewScanner(out)
}

// Until reads sc up to the first line that starts with prefix and returns
// the rest of that line; ok is false when the output ended first.
func Until(sc *bufio.Scanner, prefix string) (rest string, ok bool) {
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// Kill kills cmd's process (SIGKILL) and waits for it to end.
func Kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}
