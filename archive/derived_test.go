package archive_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// TestDerivedKey: a derived key is 32 bytes, differs by purpose and by
// archive, and survives reopening and a change of the archive key.
func TestDerivedKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.db")
	opt := archivetest.Defaults(dir, archive.Options{})
	a, err := archive.Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	k1 := a.DerivedKey("share")
	if len(k1) != 32 {
		t.Fatalf("len %d", len(k1))
	}
	if bytes.Equal(k1, a.DerivedKey("share log")) {
		t.Fatal("two purposes share a key")
	}
	if !bytes.Equal(k1, a.DerivedKey("share")) {
		t.Fatal("not deterministic")
	}
	newKey := filepath.Join(dir, "new.key")
	if err := a.RotateKeyFile(context.Background(), newKey); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	opt.KeyFile = newKey
	a, err = archive.Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !bytes.Equal(k1, a.DerivedKey("share")) {
		t.Fatal("the derived key changed with the archive key")
	}
	other := archivetest.OpenTest(t)
	if bytes.Equal(k1, other.DerivedKey("share")) {
		t.Fatal("two archives derive the same key")
	}
}
