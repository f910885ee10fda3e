package archive

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// keyDirLayout moves a's key file into dir/etc/key/callvault.key and links
// dir/etc/callvault.key to it (relative), as the package does; it returns
// the link and the real file. a is closed.
func keyDirLayout(t *testing.T, a *Archive) (link, real string) {
	t.Helper()
	keyFile := keyFileOf(a)
	a.Close()
	etc := filepath.Join(t.TempDir(), "etc")
	if err := os.MkdirAll(filepath.Join(etc, "key"), 0o700); err != nil {
		t.Fatal(err)
	}
	link, real = filepath.Join(etc, "callvault.key"), filepath.Join(etc, "key", "callvault.key")
	if err := os.Rename(keyFile, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("key", "callvault.key"), link); err != nil {
		t.Fatal(err)
	}
	return link, real
}

// checkLink fails unless link is still the link to key/callvault.key.
func checkLink(t *testing.T, link string) {
	t.Helper()
	if target, err := os.Readlink(link); err != nil || target != filepath.Join("key", "callvault.key") {
		t.Fatalf("%s is no longer the link to the key directory: %q %v", link, target, err)
	}
}

// onlyFiles fails unless dir holds exactly the names want.
func onlyFiles(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != len(want) {
		t.Fatalf("%s holds %q, want %d files like %q", dir, names, len(want), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(names[i], w) {
			t.Fatalf("%s holds %q, want %q", dir, names, want)
		}
	}
	return names
}

// TestRotateKeyThroughLink: the configured key file is a symbolic link
// into a key directory (the package's layout): the new and the old key
// files are made beside the real file, the real file gets the new key and
// the link stays, pointing at it.
func TestRotateKeyThroughLink(t *testing.T) {
	a, ids := rotationFixture(t)
	path := a.Path()
	link, real := keyDirLayout(t, a)
	oldKey, _ := os.ReadFile(real)
	b, err := openWith(t, path, Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	old, err := b.RotateKey(t.Context(), link)
	if err != nil {
		t.Fatal(err)
	}
	checkLink(t, link)
	if filepath.Dir(old) != filepath.Dir(real) || !strings.HasPrefix(filepath.Base(old), "callvault.key.old-") {
		t.Fatalf("old key kept as %s, want it beside %s", old, real)
	}
	if kept, _ := os.ReadFile(old); !bytes.Equal(kept, oldKey) {
		t.Fatal("the kept old key is not the old key")
	}
	if newKey, _ := os.ReadFile(real); bytes.Equal(newKey, oldKey) || len(newKey) == 0 {
		t.Fatal("real key file not replaced")
	}
	onlyFiles(t, filepath.Dir(link), "callvault.key", "key")
	onlyFiles(t, filepath.Dir(real), "callvault.key", "callvault.key.old-")
	checkAll(t, b, ids)
	b.Close()
	if _, err := openWith(t, path, Options{KeyFile: old}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key opens the archive: %v", err)
	}
	c, err := openWith(t, path, Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, c, ids)
}

// TestRotateInterruptedThroughLink: a stop between the commit and the
// rename is finished at Open through the link, beside the real file; and
// a rotation an older version cut off (its new key beside the link) is
// finished too.
func TestRotateInterruptedThroughLink(t *testing.T) {
	for _, beside := range []string{"real file", "link"} {
		t.Run(beside, func(t *testing.T) {
			a, ids := rotationFixture(t)
			path := a.Path()
			link, real := keyDirLayout(t, a)
			oldKey, _ := os.ReadFile(real)
			b, err := openWith(t, path, Options{KeyFile: link})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.RotateKeyFile(t.Context(), link); err != nil {
				t.Fatal(err)
			}
			b.Close()
			pending := real + rotateSuffix
			if beside == "link" {
				pending = link + rotateSuffix
			}
			if err := os.Rename(real, pending); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(real, oldKey, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := openWith(t, path, Options{KeyFile: link})
			if err != nil {
				t.Fatal(err)
			}
			checkAll(t, c, ids)
			if _, err := os.Stat(pending); !errors.Is(err, fs.ErrNotExist) {
				t.Fatal("rotation not finished")
			}
			if beside == "real file" {
				checkLink(t, link)
				onlyFiles(t, filepath.Dir(real), "callvault.key", "callvault.key.old-")
			}
			c.Close()
			if _, err := openWith(t, path, Options{KeyFile: link}); err != nil {
				t.Fatalf("reopen after finishing: %v", err)
			}
		})
	}
}

// TestRotateKeyToDanglingLink: a link whose target does not exist yet
// gets the new key at its target.
func TestRotateKeyToDanglingLink(t *testing.T) {
	a, ids := rotationFixture(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "next.key")
	if err := os.Symlink(filepath.Join("keys", "k"), link); err != nil {
		t.Fatal(err)
	}
	old, err := a.RotateKey(t.Context(), link)
	if err != nil || old != "" {
		t.Fatalf("rotate: %q %v", old, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "keys", "k")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("link target: %v %v", fi, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v %v", fi, err)
	}
	path := a.Path()
	a.Close()
	b, err := openWith(t, path, Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, b, ids)
}

// nobody is the user and group the permission tests act as when run as root.
const nobody = 65534

// asDaemonUser runs fn with file permissions checked as for an unprivileged
// user: as root, on a thread of its own whose file-system user and group
// are nobody (which drops root's file capabilities on that thread; the
// thread is never reused); otherwise as the test's user.
func asDaemonUser(fn func()) {
	if os.Geteuid() != 0 {
		fn()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
		_ = syscall.Setfsgid(nobody)
		_ = syscall.Setfsuid(nobody)
		fn()
	}()
	<-done
}

// TestRotateKeyReadOnlyConfigDir is the packaged appliance: the daemon may
// not write the configuration directory, which holds a link to the key in
// a key directory it owns. The rotation works, and makes nothing in the
// configuration directory.
func TestRotateKeyReadOnlyConfigDir(t *testing.T) {
	a, ids := rotationFixture(t)
	path := a.Path()
	link, real := keyDirLayout(t, a)
	etc, keyDir := filepath.Dir(link), filepath.Dir(real)
	if os.Geteuid() == 0 {
		// nobody must reach etc (the test's temporary directories are 0700).
		for d := filepath.Dir(etc); d != filepath.Dir(filepath.Dir(filepath.Dir(etc))); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{keyDir, real} {
			if err := os.Lchown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(etc, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(etc, 0o755) })
	b, err := openWith(t, path, Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	var probe, rotate error
	var old string
	asDaemonUser(func() {
		probe = os.WriteFile(filepath.Join(etc, "probe"), nil, 0o600)
		old, rotate = b.RotateKey(t.Context(), link)
	})
	if !errors.Is(probe, fs.ErrPermission) {
		t.Fatalf("the configuration directory is writable in this test: %v", probe)
	}
	if rotate != nil {
		t.Fatal(rotate)
	}
	checkLink(t, link)
	if filepath.Dir(old) != keyDir {
		t.Fatalf("old key kept as %s", old)
	}
	onlyFiles(t, etc, "callvault.key", "key")
	onlyFiles(t, keyDir, "callvault.key", "callvault.key.old-")
	checkAll(t, b, ids)
	b.Close()
	c, err := openWith(t, path, Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, c, ids)
}

// TestRotateKeyKeepsOwner: a rotation run as root (the offline CLI) leaves
// the new key file and the old one's copy to the old file's owner and
// group, so that the daemon's user still reads them.
func TestRotateKeyKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: giving a file away needs root")
	}
	a, _ := rotationFixture(t)
	keyFile := keyFileOf(a)
	if err := os.Chown(keyFile, nobody, nobody+1); err != nil {
		t.Fatal(err)
	}
	old, err := a.RotateKey(t.Context(), keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{keyFile, old} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != nobody || st.Gid != nobody+1 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: owner %d:%d mode %v, want %d:%d 0600", p, st.Uid, st.Gid, fi.Mode().Perm(), nobody, nobody+1)
		}
	}
}
