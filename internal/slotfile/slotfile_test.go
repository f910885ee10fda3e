package slotfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

const (
	testSize  = 64
	testMagic = "test slots\x00\x01"
)

func openTest(t *testing.T, path string, create bool) *File {
	t.Helper()
	s, err := Open(path, testSize, testMagic, create)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCreateWriteZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slots")
	if _, err := Open(path, testSize, testMagic, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file without create: %v", err)
	}
	s := openTest(t, path, true)
	if s.Next() != 1 || s.Len() != testSize {
		t.Fatalf("new file: next %d, len %d", s.Next(), s.Len())
	}
	a, b := s.Alloc(), s.Alloc()
	if a != 1 || b != 2 {
		t.Fatalf("alloc: %d, %d", a, b)
	}
	if err := s.Write(a, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(b, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(b, make([]byte, testSize+1)); err == nil {
		t.Fatal("a slot longer than its size was written")
	}
	if err := s.Zero(a); err != nil {
		t.Fatal(err)
	}
	s.Free(a)
	s.Free(a)
	if !s.IsFree(a) || s.IsFree(b) {
		t.Fatal("free list")
	}
	if n := s.Alloc(); n != a {
		t.Fatalf("alloc after free: %d, want %d", n, a)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3*testSize)
	copy(want, testMagic)
	copy(want[2*testSize:], "second")
	if !bytes.Equal(raw, want) {
		t.Fatalf("file:\n%q\nwant\n%q", raw, want)
	}
	buf := make([]byte, testSize)
	if err := s.Read(b, buf); err != nil || !bytes.Equal(buf, want[2*testSize:]) {
		t.Fatalf("read: %q, %v", buf, err)
	}
	if err := s.Read(3, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("read past the end: %v", err)
	}
}

func TestReopenScansFreeSlots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slots")
	s := openTest(t, path, true)
	for i := range 300 { // more than one batch of the scan
		n := s.Alloc()
		if i%3 == 0 {
			continue // left zero
		}
		if err := s.Write(n, []byte{byte(i), 1}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	r := openTest(t, path, false)
	if r.Next() != 301 {
		t.Fatalf("next after reopen: %d", r.Next())
	}
	for n := uint64(1); n < r.Next(); n++ {
		if want := (n-1)%3 == 0; r.IsFree(n) != want {
			t.Fatalf("slot %d free: %v, want %v", n, r.IsFree(n), want)
		}
	}
	if n := r.Alloc(); n != 1 {
		t.Fatalf("lowest free: %d", n)
	}
}

// TestTornWrite: a crash while the file grew leaves a part of a slot at
// its end; it counts as free and is overwritten whole.
func TestTornWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slots")
	s := openTest(t, path, true)
	n := s.Alloc()
	if err := s.Write(n, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("torn")) // a part of slot 2
	f.Close()

	r := openTest(t, path, false)
	if r.Next() != 2 {
		t.Fatalf("next with a torn slot: %d", r.Next())
	}
	buf := make([]byte, testSize)
	if err := r.Read(2, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("read of the torn slot: %v", err)
	}
	m := r.Alloc()
	if m != 2 {
		t.Fatalf("alloc over the torn slot: %d", m)
	}
	if err := r.Write(m, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := r.Read(m, buf); err != nil || !bytes.HasPrefix(buf, []byte("new\x00")) || !IsZero(buf[3:]) {
		t.Fatalf("slot over the torn one: %q, %v", buf, err)
	}
	if err := r.Read(n, buf); err != nil || !bytes.HasPrefix(buf, []byte("kept")) {
		t.Fatalf("slot before the torn one: %q, %v", buf, err)
	}
}

func TestNotSlotFile(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"other magic": append([]byte("other slots\x00\x01"), make([]byte, testSize)...),
		"short":       []byte("test"),
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, data, 0o600)
		if _, err := Open(path, testSize, testMagic, false); !errors.Is(err, ErrNotSlotFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
