// Package testdisk gives tests trouble on disk: a small real filesystem
// that fills up (a tmpfs mounted on a temporary directory for the test's
// lifetime, and a ballast file to fill it), and a damaged byte in a file.
//
// Mounting needs root (CI runs as root). Without it a test is skipped,
// loudly; under CI=true it fails, since a skip there would hide that the
// disk-full paths were never run.
package testdisk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Small mounts a tmpfs of sizeMiB on a new directory and returns it; it is
// unmounted when the test ends. Where it cannot be mounted, tb is skipped
// (failed under CI=true).
func Small(tb testing.TB, sizeMiB int) string {
	tb.Helper()
	return small(tb, sizeMiB, mountTmpfs)
}

func mountTmpfs(dir string, sizeMiB int) error {
	return syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%dm,mode=0700", sizeMiB))
}

// small is Small with the mount done by mount.
func small(tb testing.TB, sizeMiB int, mount func(dir string, sizeMiB int) error) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "small-disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := mount(dir, sizeMiB); err != nil {
		msg := fmt.Sprintf("SKIPPING: cannot mount a %d MiB tmpfs to fill up (needs root): %v", sizeMiB, err)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a ballast file in dir until the filesystem has about leave
// bytes free (with leave 0: until a write fails for want of space) and
// returns the file's path; removing it frees the space.
func Fill(tb testing.TB, dir string, leave uint64) string {
	tb.Helper()
	free, err := Free(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if free <= leave {
		tb.Fatalf("only %d bytes free before filling", free)
	}
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	if leave == 0 {
		for {
			if _, err := f.Write(block); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					tb.Fatalf("filling the disk: %v", err)
				}
				return path
			}
		}
	}
	for n := free - leave; n > 0; {
		k := min(n, uint64(len(block)))
		if _, err := f.Write(block[:k]); err != nil {
			tb.Fatalf("filling the disk: %v", err)
		}
		n -= k
	}
	return path
}

// Free is the space left for unprivileged writes on dir's filesystem.
func Free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// FlipByte damages the file at path in place: it XORs mask into the byte
// at off.
func FlipByte(tb testing.TB, path string, off int64, mask byte) {
	tb.Helper()
	if err := Flip(path, off, mask); err != nil {
		tb.Fatal(err)
	}
}

// Flip is FlipByte for callers without a testing.TB: it returns the error.
func Flip(path string, off int64, mask byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= mask
	_, err = f.WriteAt(b, off)
	return err
}
