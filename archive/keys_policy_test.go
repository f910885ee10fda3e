package archive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewArchivePassphraseMinimum: a new archive refuses a passphrase of
// fewer than MinPassphraseLen characters (counted as characters, not
// bytes) without quoting it; an archive whose passphrase was set shorter
// before still opens with it.
func TestNewArchivePassphraseMinimum(t *testing.T) {
	dir := t.TempDir()
	short := []byte("eleven-char") // 11
	_, err := Open(filepath.Join(dir, "short.db"), Options{Passphrase: short, KDF: FastKDF()})
	if !errors.Is(err, ErrShortPassphrase) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "12 characters") || strings.Contains(err.Error(), string(short)) {
		t.Fatalf("new archive with an 11-character passphrase: %v", err)
	}
	// A second try with a long enough one creates the archive.
	a, err := Open(filepath.Join(dir, "short.db"), Options{Passphrase: []byte("äääääääääääö"), KDF: FastKDF()}) // 12 characters, 24 bytes
	if err != nil {
		t.Fatalf("12-character passphrase: %v", err)
	}
	// SetPassphrase holds a new passphrase to the same minimum.
	if err := a.SetPassphrase(t.Context(), short); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), string(short)) {
		t.Fatalf("SetPassphrase with an 11-character passphrase: %v", err)
	}
	// An archive that already has a shorter passphrase (set by an older
	// build) opens with it.
	r := kdfRecord{p: a.kdf, salt: randomBytes(kdfSaltLen)}
	if err := a.putKEK(t.Context(), r.p.key(short, r.salt, keyLen), kekPassphrase, r.marshal()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = Open(filepath.Join(dir, "short.db"), Options{Passphrase: short, KDF: FastKDF()})
	if err != nil {
		t.Fatalf("existing archive with a short passphrase: %v", err)
	}
	a.Close()
}

// TestKeyFileProblem: the rule for adopting a key file, for any user: the
// package's layouts (the key the callvault user's, 0600, in root's
// /etc/callvault; or root's with group callvault, 0640) are accepted for
// the daemon's user and for root; a key others may read or write, that
// its group may write, or that another user owns is refused.
func TestKeyFileProblem(t *testing.T) {
	const svc, other = 998, 65534
	etc := keyFileInfo{dirMode: fs.ModeDir | 0o750, dirUID: 0}
	// with is a key file of mode and uid in dir, configured by a path in
	// dir itself.
	with := func(mode fs.FileMode, uid int, dir keyFileInfo) keyFileInfo {
		dir.mode, dir.uid = mode, uid
		dir.linkDirMode, dir.linkDirUID = dir.dirMode, dir.dirUID
		return dir
	}
	// linked is with, configured by a link in linkDir.
	linked := func(mode fs.FileMode, uid int, dir, linkDir keyFileInfo) keyFileInfo {
		k := with(mode, uid, dir)
		k.linkDirMode, k.linkDirUID = linkDir.dirMode, linkDir.dirUID
		return k
	}
	tmp := keyFileInfo{dirMode: fs.ModeDir | fs.ModeSticky | 0o777, dirUID: 0}
	svcDir := keyFileInfo{dirMode: fs.ModeDir | 0o700, dirUID: svc}
	for _, c := range []struct {
		name string
		k    keyFileInfo
		euid int
		ok   bool
	}{
		{"package: service's key, daemon", with(0o600, svc, etc), svc, true},
		{"package: service's key, root's restore", with(0o600, svc, etc), 0, true},
		{"package: service's key in its key directory, linked from /etc/callvault, daemon", linked(0o600, svc, svcDir, etc), svc, true},
		{"package: service's key in its key directory, linked from /etc/callvault, root", linked(0o600, svc, svcDir, etc), 0, true},
		{"another user's key linked from /tmp, root", linked(0o600, svc, svcDir, tmp), 0, false},
		{"a third user's key in the service's directory, root", linked(0o600, other, svcDir, etc), 0, false},
		{"root's key, group-readable, daemon", with(0o640, 0, etc), svc, true},
		{"root's key, root", with(0o600, 0, etc), 0, true},
		{"own key, group-readable", with(0o640, svc, svcDir), svc, true},
		{"world-readable", with(0o644, svc, svcDir), svc, false},
		{"world-writable", with(0o602, svc, svcDir), svc, false},
		{"world-readable root's key", with(0o644, 0, etc), svc, false},
		{"group-writable", with(0o620, svc, svcDir), svc, false},
		{"another user's key", with(0o600, other, svcDir), svc, false},
		{"planted in /tmp, root", with(0o600, other, tmp), 0, false},
		{"planted in /tmp, daemon", with(0o600, other, tmp), svc, false},
		{"another user's key in its own directory, root", with(0o600, svc, svcDir), 0, false},
		{"another user's key, directory unknown, root", with(0o600, svc, keyFileInfo{dirUID: -1}), 0, false},
		{"another user's key, linking directory unknown, root", linked(0o600, svc, svcDir, keyFileInfo{dirUID: -1}), 0, false},
		{"another user's key in root's group-writable directory, root", with(0o600, svc, keyFileInfo{dirMode: fs.ModeDir | 0o770}), 0, false},
	} {
		if p := keyFileProblem(c.k, c.euid); (p == "") != c.ok {
			t.Errorf("%s: %q, want ok=%v", c.name, p, c.ok)
		}
	}
}

// TestOpenRefusesExposedKeyFile: Open refuses a key file others may read
// (an existing archive's, and one found for a new archive) without
// showing the key; chmod 600 makes it open again.
func TestOpenRefusesExposedKeyFile(t *testing.T) {
	dir := t.TempDir()
	key, path := filepath.Join(dir, "archive.key"), filepath.Join(dir, "a.db")
	a, err := Open(path, Options{KeyFile: key, KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	content, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(string(content))
	hexKey := words[len(words)-1]
	for _, mode := range []fs.FileMode{0o644, 0o604, 0o620} {
		if err := os.Chmod(key, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{KeyFile: key, KDF: FastKDF()})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), mode.String()) || strings.Contains(err.Error(), hexKey) {
			t.Fatalf("key file mode %s: %v", mode, err)
		}
		// A new archive does not adopt it either.
		if _, err := Open(filepath.Join(dir, "new.db"), Options{KeyFile: key, KDF: FastKDF()}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("new archive, key file mode %s: %v", mode, err)
		}
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err = Open(path, Options{KeyFile: key, KDF: FastKDF()}); err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// TestOpenRefusesForeignKeyFile (root only: it hands the key to another
// user): a key file planted by another user in a directory others may
// write (/tmp) is refused; the same user's key in a directory only root
// may write (the package's /etc/callvault) is taken.
func TestOpenRefusesForeignKeyFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	const nobody = 65534
	shared := t.TempDir()
	if err := os.Chmod(shared, fs.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(shared, "callvault.key")
	if err := writeKeyFile(key, randomKey(), true); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(key, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{KeyFile: key, KDF: FastKDF()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "belongs to user 65534") {
		t.Fatalf("key planted by another user: %v", err)
	}
	// In a directory only root may write, root takes the service user's
	// key (root's restore, verify and compact on the package's key).
	etc := t.TempDir()
	if err := os.Chmod(etc, 0o750); err != nil {
		t.Fatal(err)
	}
	key2 := filepath.Join(etc, "callvault.key")
	if err := CreateKeyFile(key2); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(key2, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	a, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{KeyFile: key2, KDF: FastKDF()})
	if err != nil {
		t.Fatalf("service user's key in root's directory: %v", err)
	}
	a.Close()
}

// TestKeyFileNotCreatedInSharedDir: neither Open (first start) nor
// CreateKeyFile creates a key file in a directory its group or others may
// write (as /tmp, where serve --data /tmp/x would put it); a private
// directory still works.
func TestKeyFileNotCreatedInSharedDir(t *testing.T) {
	type shared struct {
		mode    fs.FileMode
		foreign bool // the directory's group is not the process's
	}
	cases := []shared{{fs.ModeSticky | 0o777, false}, {0o777, false}, {0o702, false}}
	if os.Geteuid() == 0 {
		cases = append(cases, shared{0o770, true})
	}
	for _, c := range cases {
		mode := c.mode
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if c.foreign {
			if err := os.Chown(dir, -1, 65534); err != nil {
				t.Fatal(err)
			}
		}
		key := filepath.Join(dir, "callvault.key")
		if _, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{KeyFile: key, KDF: FastKDF()}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not creating the key file") {
			t.Fatalf("first start, key directory mode %s: %v", mode, err)
		}
		if err := CreateKeyFile(key); !errors.Is(err, ErrInvalid) {
			t.Fatalf("CreateKeyFile, directory mode %s: %v", mode, err)
		}
		if _, err := os.Lstat(key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("key file created in a directory of mode %s: %v", mode, err)
		}
	}
	// A directory only its owner may write, and one its owner's own
	// group may write too (a user's private group, umask 002), are fine.
	for _, mode := range []fs.FileMode{0o755, 0o775} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, -1, os.Getegid()); err != nil {
			t.Fatal(err)
		}
		a, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{KeyFile: filepath.Join(dir, "callvault.key"), KDF: FastKDF()})
		if err != nil {
			t.Fatalf("key directory mode %s of the process's own group: %v", mode, err)
		}
		a.Close()
	}
	// A key directory that does not exist yet is made, 0700.
	a, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{KeyFile: filepath.Join(t.TempDir(), "sub", "callvault.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}
