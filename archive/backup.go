package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	bolt "go.etcd.io/bbolt"
)

// A backup is a tar stream: backupDB, a bbolt snapshot of the archive
// file, and backupKeys, the data-key file, and backupChunks, the chunk
// file packed (packChunkFile) when the archive keeps one, then for each further store
// (BackupPart: the appliance's external links and webhooks) its bbolt
// snapshot and, for a store that keeps one, its key file. All are as
// encrypted as on disk; the archive key is in none. ExtractBackup turns a
// backup into those files; it also takes a bare archive file (a backup
// made before data keys had their own file).
const (
	backupDB     = "archive.db"
	backupKeys   = "archive.db" + slotSuffix
	backupChunks = "archive.db" + chunkSuffix
)

// A BackupPart is a further store a backup carries after the archive: its
// bbolt file under Name and, when KeyFile is set, the key file it keeps
// beside it under KeyFile(Name). Store is what WriteBackup snapshots;
// Path is where ExtractBackup writes the bbolt file (the key file goes to
// KeyFile(Path)).
type BackupPart struct {
	Name    string
	KeyFile func(path string) string // nil for a store without a key file
	Store   BackupStore
	Path    string
}

// BackupStore is a bbolt store a backup can carry.
type BackupStore interface {
	// BackupSnapshot calls fn once inside one read transaction of the
	// store, with that transaction and the store's key file read while
	// it is open (keysLen bytes; keys nil for a store without one).
	BackupSnapshot(fn func(tx *bolt.Tx, keys io.Reader, keysLen int64) error) error
}

// keyName is the entry (or, given a path, the file) of p's key file; ""
// without one.
func (p *BackupPart) keyName(name string) string {
	if p.KeyFile == nil {
		return ""
	}
	return p.KeyFile(name)
}

// checkParts refuses parts whose entries are not plain names or clash
// with the archive's or each other's.
func checkParts(parts []BackupPart) error {
	seen := map[string]bool{backupDB: true, backupKeys: true}
	for i := range parts {
		names := []string{parts[i].Name}
		if parts[i].KeyFile != nil {
			names = append(names, parts[i].KeyFile(parts[i].Name))
		}
		for _, n := range names {
			if n == "" || n == "." || n == ".." || n != filepath.Base(n) || seen[n] {
				return fmt.Errorf("archive: backup part %q: entry %q empty, not a plain name or taken", parts[i].Name, n)
			}
			seen[n] = true
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteBackup writes a consistent backup of the archive and parts to w
// and returns the bytes written: the archive file as of one read
// transaction, then the data-key file (read while that transaction is
// open, so it holds every key the snapshot refers to; keys of recordings
// purged meanwhile may be gone, and the restored archive then finishes
// their purge); then each part the same way, each in a read transaction
// of its own. The writers keep committing meanwhile, as long as a file
// does not outgrow its memory map.
func (a *Archive) WriteBackup(w io.Writer, parts ...BackupPart) (int64, error) {
	cw := &countWriter{w: w}
	if err := checkParts(parts); err != nil {
		return 0, err
	}
	tw := tar.NewWriter(cw)
	now := a.now()
	if a.bolt == nil {
		// Another backend is backed up by its engine's own means
		// (PostgreSQL's pg_dump or base backups, the object store's
		// replication) with the data-key file beside it.
		return 0, fmt.Errorf("archive: backup: the archive is not one bbolt file: %w", errors.ErrUnsupported)
	}
	err := a.view(func(ktx kv.Tx) error {
		tx := boltkv.BoltTx(ktx)
		// A slot allocated but not yet written reads short: zeros. The
		// header carries the chain witness of this snapshot's head
		// (headwitness.go), not the live one, which may be ahead.
		ks := a.slots.size()
		keys := io.MultiReader(bytes.NewReader(a.witnessHeader(ktx)), io.NewSectionReader(a.slots.f, slotSize, ks-slotSize))
		if err := writeSnapshot(tw, now, backupDB, tx, backupKeys, keys, ks); err != nil {
			return err
		}
		if f, size := a.bolt.ValueFile(); f != nil {
			return writePacked(tw, now, backupChunks, f, size)
		}
		return nil
	})
	for i := 0; err == nil && i < len(parts); i++ {
		p := &parts[i]
		if p.Store == nil {
			err = fmt.Errorf("part %s: no store", p.Name)
			break
		}
		err = p.Store.BackupSnapshot(func(tx *bolt.Tx, keys io.Reader, keysLen int64) error {
			if (keys == nil) != (p.KeyFile == nil) {
				return fmt.Errorf("part %s: key file given or missing against its description", p.Name)
			}
			return writeSnapshot(tw, now, p.Name, tx, p.keyName(p.Name), keys, keysLen)
		})
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return cw.n, fmt.Errorf("archive: backup: %w", err)
	}
	return cw.n, nil
}

// writeSnapshot writes the entries of one store: its bbolt file as of tx
// under name and, when keyName is set, keysLen bytes of keys (zeros where
// it reads short) under keyName.
func writeSnapshot(tw *tar.Writer, now time.Time, name string, tx *bolt.Tx, keyName string, keys io.Reader, keysLen int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: tx.Size(), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tx.WriteTo(tw); err != nil {
		return err
	}
	if keyName == "" {
		return nil
	}
	if err := tw.WriteHeader(&tar.Header{Name: keyName, Mode: 0o600, Size: keysLen, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, io.MultiReader(keys, zeros{}), keysLen)
	return err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// ExtractBackup writes the archive file path and its data-key file
// (SlotFile(path)) from a backup made by WriteBackup, or path alone from a
// bare archive file, and the files of the parts the backup holds at their
// Path (and KeyFile(Path)). It returns the parts the backup held: a backup
// made before backups carried further stores holds none. An entry that is
// neither the archive's nor a part's, and a part's bbolt file without its
// key file (or the reverse), are refused. Every file written is synced;
// existing files are replaced. The result is not checked: open it (Open,
// Check, VerifyChain, and each part's own Open) before use.
func ExtractBackup(r io.Reader, path string, parts ...BackupPart) ([]BackupPart, error) {
	if err := checkParts(parts); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(512)
	if len(head) < 512 || !bytes.Equal(head[257:262], []byte("ustar")) {
		return nil, writeSynced(path, br) // a bare archive file
	}
	dst := map[string]string{backupDB: path, backupKeys: SlotFile(path), backupChunks: ChunkFile(path)}
	for i := range parts {
		dst[parts[i].Name] = parts[i].Path
		if k := parts[i].keyName(parts[i].Name); k != "" {
			dst[k] = parts[i].keyName(parts[i].Path)
		}
	}
	tr := tar.NewReader(br)
	seen := map[string]bool{}
	dirs := map[string]bool{filepath.Dir(path): true}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("archive: backup: %w", err)
		}
		to, ok := dst[h.Name]
		if !ok {
			return nil, fmt.Errorf("archive: backup holds an unexpected entry %q: %w", h.Name, ErrInvalid)
		}
		if seen[h.Name] || h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("archive: backup entry %q repeated or not a file: %w", h.Name, ErrInvalid)
		}
		seen[h.Name] = true
		write := writeSynced
		if h.Name == backupChunks {
			write = unpackSynced
		}
		if err := write(to, tr); err != nil {
			return nil, err
		}
		dirs[filepath.Dir(to)] = true
	}
	if !seen[backupDB] || !seen[backupKeys] {
		return nil, fmt.Errorf("archive: backup lacks the archive file or the data-key file: %w", ErrInvalid)
	}
	if !seen[backupChunks] {
		// A backup made before chunks had a file of their own: a chunk
		// file left beside path belongs to another archive.
		if err := os.Remove(ChunkFile(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("archive: backup: %w", err)
		}
	}
	var held []BackupPart
	for i := range parts {
		db, keys := seen[parts[i].Name], seen[parts[i].keyName(parts[i].Name)]
		switch {
		case db && (keys || parts[i].KeyFile == nil):
			held = append(held, parts[i])
		case db || keys:
			return nil, fmt.Errorf("archive: backup holds only one of %s and its key file %s (they belong together): %w",
				parts[i].Name, parts[i].keyName(parts[i].Name), ErrInvalid)
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return nil, fmt.Errorf("archive: backup: %w", err)
		}
	}
	return held, nil
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

// The chunk file in a backup is packed: its length (uint64 BE), then each
// extent that holds data (SEEK_DATA, SEEK_HOLE) as offset and length
// (uint64 BE each) followed by its bytes. Released ranges are holes and
// take no room. Within the read transaction of the snapshot no range it
// refers to is released, so the extents cover every chunk it holds.

// extents returns the ranges of f below size that hold data: from the
// first offset where the file system cannot tell (no SEEK_DATA), all of
// the rest.
func extents(f *os.File, size int64) [][2]int64 {
	if !seekFindsData {
		return [][2]int64{{0, size}}
	}
	var out [][2]int64
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) || err == nil && start >= size {
			break // only a hole is left
		}
		if err != nil {
			return append(out, [2]int64{off, size - off})
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			end = size
		}
		end = min(end, size)
		out = append(out, [2]int64{start, end - start})
		off = end
	}
	return out
}

// writePacked writes f's first size bytes packed as entry name.
func writePacked(tw *tar.Writer, now time.Time, name string, f *os.File, size int64) error {
	ext := extents(f, size)
	n := int64(8)
	for _, e := range ext {
		n += 16 + e[1]
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: n, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	var hdr [16]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(size))
	if _, err := tw.Write(hdr[:8]); err != nil {
		return err
	}
	for _, e := range ext {
		binary.BigEndian.PutUint64(hdr[:8], uint64(e[0]))
		binary.BigEndian.PutUint64(hdr[8:], uint64(e[1]))
		if _, err := tw.Write(hdr[:]); err != nil {
			return err
		}
		// Zeros where the file reads short: n is promised.
		if _, err := io.CopyN(tw, io.MultiReader(io.NewSectionReader(f, e[0], e[1]), zeros{}), e[1]); err != nil {
			return err
		}
	}
	return nil
}

// unpackSynced writes the packed file read from r to path.
func unpackSynced(path string, r io.Reader) error {
	fail := func(err error) error { return fmt.Errorf("archive: backup: write %s: %w", path, err) }
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:8]); err != nil {
		return fail(fmt.Errorf("packed chunk file: %w", ErrInvalid))
	}
	size := int64(binary.BigEndian.Uint64(hdr[:8]))
	if size < 0 || size > 1<<50 {
		return fail(fmt.Errorf("packed chunk file of %d bytes: %w", size, ErrInvalid))
	}
	for {
		if _, err := io.ReadFull(r, hdr[:]); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fail(fmt.Errorf("packed chunk file: %w", ErrInvalid))
		}
		off, n := int64(binary.BigEndian.Uint64(hdr[:8])), int64(binary.BigEndian.Uint64(hdr[8:]))
		if off < 0 || n < 0 || off > size || n > size-off {
			return fail(fmt.Errorf("packed chunk file: extent %d+%d outside %d bytes: %w", off, n, size, ErrInvalid))
		}
		if _, err := io.Copy(io.NewOffsetWriter(f, off), io.LimitReader(r, n)); err != nil {
			return fail(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	return nil
}
