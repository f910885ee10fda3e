//go:build linux

package archive

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPackedChunkFile: a chunk file with a released range in the middle
// goes into a backup without that range and comes out byte for byte, the
// range a hole again.
func TestPackedChunkFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.values")
	want := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	if err := os.WriteFile(src, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hole := [2]int64{1 << 20, 1 << 20}
	if err := punchHoleForTest(f, hole[0], hole[1]); err != nil {
		t.Skipf("the file system cannot punch holes: %v", err)
	}
	clear(want[hole[0] : hole[0]+hole[1]])

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writePacked(tw, time.Unix(0, 0), backupChunks, f, int64(len(want))); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if seekFindsData && buf.Len() > len(want)-int(hole[1])+64<<10 {
		t.Errorf("backup entry of %d bytes for %d bytes with a %d-byte hole", buf.Len(), len(want), hole[1])
	}
	tr := tar.NewReader(&buf)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst.values")
	if err := unpackSynced(dst, tr); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("unpacked chunk file differs")
	}
}

// punchHoleForTest gives n bytes at off back to the file system
// (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), as a released chunk is.
func punchHoleForTest(f *os.File, off, n int64) error {
	return syscall.Fallocate(int(f.Fd()), 0x02|0x01, off, n)
}
