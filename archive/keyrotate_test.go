package archive

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openWith opens path with opt (FastKDF) and registers Close.
func openWith(t *testing.T, path string, opt Options) (*Archive, error) {
	t.Helper()
	opt.KDF = FastKDF()
	a, err := reopenTestArchive(t, path, opt)
	if err == nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, err
}

// rotationFixture makes an archive with sealed recordings, a user, a note
// and audit entries.
func rotationFixture(t *testing.T) (*Archive, []ID) {
	t.Helper()
	a := OpenTest(t)
	var ids []ID
	for i := range 3 {
		r := sealed(t, a, data(70000+i, uint64(i)), data(300, uint64(i)))
		ids = append(ids, r.ID)
	}
	putUser(t, a, User{Login: "alice"})
	if _, err := a.AddNote(t.Context(), ids[0], "alice", "kept across rotation"); err != nil {
		t.Fatal(err)
	}
	auditN(t, a, 3)
	return a, ids
}

func checkAll(t *testing.T, a *Archive, ids []ID) {
	t.Helper()
	for _, id := range ids {
		if res := mustVerify(t, a, id); !res.Valid || !res.Sealed {
			t.Fatalf("%s: %v", id, res.Problems)
		}
	}
	if res, err := a.VerifyChain(t.Context()); err != nil || !res.Valid {
		t.Fatalf("chain: %v %+v", err, res)
	}
	if res := mustVerifyAudit(t, a); !res.Valid {
		t.Fatalf("audit: %v", res.Problems)
	}
	if n, err := a.Notes(t.Context(), ids[0]); err != nil || len(n) != 1 {
		t.Fatalf("notes: %v %v", err, n)
	}
	if _, err := a.Authenticate(t.Context(), netip.IPv6Loopback(), "alice", "pw-alice"); err != nil {
		t.Fatal(err)
	}
}

func TestRotateKeyFileInPlace(t *testing.T) {
	a, ids := rotationFixture(t)
	path, keyFile := a.Path(), keyFileOf(a)
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pub := a.PublicKey()
	if err := a.RotateKeyFile(t.Context(), keyFile); err != nil {
		t.Fatal(err)
	}
	newKey, _ := os.ReadFile(keyFile)
	if string(newKey) == string(oldKey) {
		t.Fatal("key file unchanged")
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(keyFile + rotateSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("temporary key file left behind")
	}
	checkAll(t, a, ids) // the running archive keeps working
	a.Close()
	oldFile := filepath.Join(t.TempDir(), "old.key")
	if err := os.WriteFile(oldFile, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openWith(t, path, Options{KeyFile: oldFile}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key opens the archive: %v", err)
	}
	b, err := openWith(t, path, Options{KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !b.PublicKey().Equal(pub) {
		t.Fatal("seal key changed")
	}
	checkAll(t, b, ids)
}

func TestRotateKeyFileNewPathAndPassphrase(t *testing.T) {
	a, ids := rotationFixture(t)
	path, oldFile := a.Path(), keyFileOf(a)
	newFile := filepath.Join(t.TempDir(), "keys", "rotated.key")
	if err := a.RotateKeyFile(t.Context(), newFile); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPassphrase(t.Context(), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty passphrase: %v", err)
	}
	a.Close()
	if _, err := openWith(t, path, Options{KeyFile: oldFile}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key file: %v", err)
	}
	b, err := openWith(t, path, Options{KeyFile: newFile})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, b, ids)
	// Key file → passphrase.
	pass := []byte("correct horse battery staple")
	if err := b.SetPassphrase(t.Context(), pass); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := openWith(t, path, Options{KeyFile: newFile}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("key file after passphrase: %v", err)
	}
	if _, err := openWith(t, path, Options{Passphrase: []byte("wrong")}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	c, err := openWith(t, path, Options{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, c, ids)
	// Passphrase → key file again.
	if err := c.RotateKeyFile(t.Context(), newFile); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := openWith(t, path, Options{Passphrase: pass}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("passphrase after rotation to a key file: %v", err)
	}
	d, err := openWith(t, path, Options{KeyFile: newFile})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, d, ids)
}

// TestRotateInterrupted simulates a stop between the commit and the rename
// of the new key file: Open finishes the rotation.
func TestRotateInterrupted(t *testing.T) {
	for _, samePath := range []bool{true, false} {
		name := map[bool]string{true: "same path", false: "new path"}[samePath]
		t.Run(name, func(t *testing.T) {
			a, ids := rotationFixture(t)
			path, keyFile := a.Path(), keyFileOf(a)
			oldKey, _ := os.ReadFile(keyFile)
			target := keyFile
			if !samePath {
				target = filepath.Join(t.TempDir(), "new.key")
			}
			if err := a.RotateKeyFile(t.Context(), target); err != nil {
				t.Fatal(err)
			}
			a.Close()
			// Undo the rename: the new key back in .new, the old one (or
			// nothing) at the target.
			if err := os.Rename(target, target+rotateSuffix); err != nil {
				t.Fatal(err)
			}
			if samePath {
				if err := os.WriteFile(target, oldKey, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			b, err := openWith(t, path, Options{KeyFile: target})
			if err != nil {
				t.Fatal(err)
			}
			checkAll(t, b, ids)
			if _, err := os.Stat(target + rotateSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("rotation not finished")
			}
			b.Close()
			if _, err := openWith(t, path, Options{KeyFile: target}); err != nil {
				t.Fatalf("reopen after finishing: %v", err)
			}
		})
	}
}

// TestRotateStaleNewFile: a .new file left by a rotation cut off before
// its commit does not stop the old key from working.
func TestRotateStaleNewFile(t *testing.T) {
	a, _ := rotationFixture(t)
	path, keyFile := a.Path(), keyFileOf(a)
	a.Close()
	if err := writeKeyFile(keyFile+rotateSuffix, randomKey(), false); err != nil {
		t.Fatal(err)
	}
	b, err := openWith(t, path, Options{KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	other := filepath.Join(t.TempDir(), "x.key")
	if err := writeKeyFile(other, randomKey(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := openWith(t, path, Options{KeyFile: other}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("unrelated key: %v", err)
	}
}

// TestCreateKeyFile: the exported key-file writer writes the format Open
// reads (mode 0600, parent directories made), the same as first start, and
// never replaces a file.
func TestCreateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "archive.key")
	if err := CreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(before, []byte(keyFileHeader)) {
		t.Fatalf("key file does not start with the archive's header")
	}
	if _, err := parseKeyFile(before); err != nil {
		t.Fatal(err)
	}
	if err := CreateKeyFile(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second CreateKeyFile: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("key file replaced")
	}
	OpenTestOptions(t, Options{KeyFile: path}) // a new archive opens with it
}

// TestFastKDFIsAValue: the test setting is returned afresh, so no caller
// can change what another one gets.
func TestFastKDFIsAValue(t *testing.T) {
	p := FastKDF()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	p.MemoryKiB = 1 << 20
	if FastKDF().MemoryKiB != 64 {
		t.Fatal("FastKDF changed by a caller")
	}
}

// TestRotateKeyKeepsOldKeyFile: rotating in place keeps the old key file
// beside the new one, named by the archive's clock, mode 0600; a copy of
// the archive made before the rotation (a backup) opens with it.
func TestRotateKeyKeepsOldKeyFile(t *testing.T) {
	a, ids := rotationFixture(t)
	keyFile := keyFileOf(a)
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.RotateKey(t.Context(), keyFile)
	if err != nil {
		t.Fatal(err)
	}
	want := keyFile + ".old-" + a.Now().UTC().Format("20060102-")
	if !strings.HasPrefix(old, want) || filepath.Dir(old) != filepath.Dir(keyFile) {
		t.Fatalf("old key kept as %q, want %s…", old, want)
	}
	kept, err := os.ReadFile(old)
	if err != nil || !bytes.Equal(kept, oldKey) {
		t.Fatalf("old key file: %v, same content %v", err, bytes.Equal(kept, oldKey))
	}
	if fi, err := os.Stat(old); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("old key file mode: %v %v", fi, err)
	}
	// A second rotation in the same second keeps the second old key too.
	old2, err := a.RotateKey(t.Context(), keyFile)
	if err != nil || old2 == old {
		t.Fatalf("second rotation: %q %v", old2, err)
	}
	checkAll(t, a, ids)
}
