package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// A backup is a tar stream of two files: backupDB, a bbolt snapshot of the
// archive file, and backupKeys, the data-key file. Both are as encrypted
// as on disk; the archive key is in neither. ExtractBackup turns a backup
// into an archive file and its data-key file; it also takes a bare archive
// file (a backup made before data keys had their own file).
const (
	backupDB   = "archive.db"
	backupKeys = "archive.db" + slotSuffix
)

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteBackup writes a consistent backup of the archive to w and returns
// the bytes written: the archive file as of one read transaction, then the
// data-key file (read while that transaction is open, so it holds every key
// the snapshot refers to; keys of recordings purged meanwhile may be gone,
// and the restored archive then finishes their purge). The writer
// goroutine keeps committing meanwhile, as long as the file does not
// outgrow the memory map.
func (a *Archive) WriteBackup(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	now := a.now()
	err := a.view(func(tx *bolt.Tx) error {
		size := tx.Size()
		if err := tw.WriteHeader(&tar.Header{Name: backupDB, Mode: 0o600, Size: size, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tx.WriteTo(tw); err != nil {
			return err
		}
		ks := a.slots.size()
		if err := tw.WriteHeader(&tar.Header{Name: backupKeys, Mode: 0o600, Size: ks, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		// A slot allocated but not yet written reads short: zeros. The
		// header carries the chain witness of this snapshot's head
		// (headwitness.go), not the live one, which may be ahead.
		hdr := a.witnessHeader(tx)
		_, err := io.CopyN(tw, io.MultiReader(bytes.NewReader(hdr), io.NewSectionReader(a.slots.f, slotSize, ks-slotSize), zeros{}), ks)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return cw.n, fmt.Errorf("archive: backup: %w", err)
	}
	return cw.n, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// ExtractBackup writes the archive file path and its data-key file
// (SlotFile(path)) from a backup made by WriteBackup, or path alone from a
// bare archive file. Both are synced; existing files are replaced. The
// result is not checked: open it (Open, Check, VerifyChain) before use.
func ExtractBackup(r io.Reader, path string) error {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(512)
	if len(head) < 512 || !bytes.Equal(head[257:262], []byte("ustar")) {
		return writeSynced(path, br) // a bare archive file
	}
	tr := tar.NewReader(br)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("archive: backup: %w", err)
		}
		var dst string
		switch h.Name {
		case backupDB:
			dst = path
		case backupKeys:
			dst = SlotFile(path)
		default:
			return fmt.Errorf("archive: backup holds an unexpected entry %q: %w", h.Name, ErrInvalid)
		}
		if seen[h.Name] || h.Typeflag != tar.TypeReg {
			return fmt.Errorf("archive: backup entry %q repeated or not a file: %w", h.Name, ErrInvalid)
		}
		seen[h.Name] = true
		if err := writeSynced(dst, tr); err != nil {
			return err
		}
	}
	if !seen[backupDB] || !seen[backupKeys] {
		return fmt.Errorf("archive: backup lacks the archive file or the data-key file: %w", ErrInvalid)
	}
	return syncDir(filepath.Dir(path))
}

func writeSynced(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("archive: backup: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("archive: backup: write %s: %w", path, err)
	}
	return nil
}
