package archive

import (
	"errors"
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
	// An archive that already has a shorter passphrase opens with it.
	if err := a.SetPassphrase(t.Context(), short); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = Open(filepath.Join(dir, "short.db"), Options{Passphrase: short, KDF: FastKDF()})
	if err != nil {
		t.Fatalf("existing archive with a short passphrase: %v", err)
	}
	a.Close()
}
