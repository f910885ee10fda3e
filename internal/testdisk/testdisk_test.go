package testdisk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// outcomeTB records how a helper ended the test.
type outcomeTB struct {
	testing.TB
	fatal, skip string
}

func (o *outcomeTB) Helper() {}

func (o *outcomeTB) Fatal(args ...any) {
	o.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func (o *outcomeTB) Skip(args ...any) {
	o.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// refused is a mount that fails as it does without root.
func refused(string, int) error { return syscall.EPERM }

// runSmall calls small with a refused mount on a TB that records the
// outcome.
func runSmall(t *testing.T) *outcomeTB {
	o := &outcomeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		small(o, 1, refused)
	}()
	<-done
	return o
}

func TestCannotMount(t *testing.T) {
	t.Setenv("CI", "")
	if o := runSmall(t); o.fatal != "" || o.skip == "" {
		t.Errorf("without CI: fatal %q, skip %q; want a loud skip", o.fatal, o.skip)
	}
	t.Setenv("CI", "true")
	if o := runSmall(t); o.fatal == "" || o.skip != "" {
		t.Errorf("under CI=true: fatal %q, skip %q; want a failure", o.fatal, o.skip)
	}
}

// TestFill fills a small disk to a given free space, then completely, and
// frees it again by removing the ballast.
func TestFill(t *testing.T) {
	disk := Small(t, 8)
	empty, err := Free(disk)
	if err != nil {
		t.Fatal(err)
	}
	if empty < 7<<20 || empty > 8<<20 {
		t.Fatalf("%d bytes free on an 8 MiB disk", empty)
	}

	ballast := Fill(t, disk, 2<<20)
	if free, err := Free(disk); err != nil || free > 2<<20 || free < 1<<20 {
		t.Fatalf("filled to leave 2 MiB: %d bytes free (%v)", free, err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}

	ballast = Fill(t, disk, 0)
	err = os.WriteFile(filepath.Join(disk, "more"), make([]byte, 4096), 0o600)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing to a full disk: %v, want ENOSPC", err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if free, err := Free(disk); err != nil || free != empty {
		t.Fatalf("after removing the ballast: %d bytes free (%v), want %d", free, err, empty)
	}
}

func TestFlipByte(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte{0x00, 0xff, 0x0f}, 0o600); err != nil {
		t.Fatal(err)
	}
	FlipByte(t, path, 1, 0x41)
	FlipByte(t, path, 2, 0)
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, []byte{0x00, 0xbe, 0x0f}) {
		t.Fatalf("after flipping: % x %v", b, err)
	}
}
