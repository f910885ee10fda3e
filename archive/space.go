package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

// A full disk fails a group commit with ENOSPC; bbolt rolls the
// transaction back, so nothing committed before is harmed. Finishing the
// uploads it cut off still needs a little room (final chunks, metadata,
// indexes, the rebuilt map), and on a full disk the uploads still running
// would take any room that appears. So an archive opened with
// Options.ReserveBytes keeps that much disk in a file beside the database
// (ReserveFile). When a commit fails for want of space, the archive
// releases the reserve and counts as full: chunks of running uploads are
// refused (their writers fail with ErrNoSpace) and Create is refused, while
// recordings reopened with Resume (the cut-off uploads being finished) and
// Finish of writers that have not failed still commit, in the released
// room. Each Create while full looks at the free space: once there is
// room for the reserve twice over, it rebuilds the reserve and the archive
// takes uploads again.

// reserveSuffix names the reserve file after the archive file.
const reserveSuffix = ".reserve"

// ReserveFile returns the path of the space reserve kept beside the
// archive file at path. It holds no data: losing it loses nothing.
func ReserveFile(path string) string { return path + reserveSuffix }

// ChunkFile is the file of the chunk values of the bbolt archive file at
// path (FORMAT.md, "Chunk file").
func ChunkFile(path string) string { return path + chunkSuffix }

const chunkSuffix = ".values"

// errFull refuses a chunk while the archive is full.
var errFull = fmt.Errorf("archive: disk full, the upload was cut off: %w", ErrNoSpace)

type spaceGuard struct {
	path string
	size int64 // 0: no reserve kept
	log  *slog.Logger
	full atomic.Bool
	mu   sync.Mutex // serializes building and releasing the file
}

// openSpace builds the reserve of an archive being opened; a disk too
// full for it leaves the archive full from the start.
func openSpace(dbPath string, size int64, log *slog.Logger) *spaceGuard {
	g := &spaceGuard{path: ReserveFile(dbPath), size: max(size, 0), log: log}
	if g.size == 0 {
		return g
	}
	if err := g.build(); err != nil {
		g.full.Store(true)
		log.Warn("archive disk full: no room for the space reserve; uploads are refused until space is freed", "err", err)
	}
	return g
}

// build makes the reserve file hold size bytes. The bytes are random so
// that a compressing filesystem stores them all.
func (g *spaceGuard) build() error {
	f, err := os.OpenFile(g.path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return noSpace(err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() >= g.size {
		return f.Close()
	}
	rng := rand.NewChaCha8([32]byte{})
	buf := make([]byte, 1<<20)
	for off := int64(0); err == nil && off < g.size; off += int64(len(buf)) {
		rng.Read(buf)
		_, err = f.WriteAt(buf[:min(int64(len(buf)), g.size-off)], off)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(g.path)
		return fmt.Errorf("archive: space reserve: %w", noSpace(err))
	}
	return nil
}

// release frees the reserve after a commit failed for want of space.
func (g *spaceGuard) release() {
	if g == nil || g.size == 0 || g.full.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.full.Swap(true) {
		return
	}
	err := os.Remove(g.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	g.log.Warn("archive disk full: uploads are cut off and refused until space is freed; released the space reserve to finish them",
		"reserve_bytes", g.size, "err", err)
}

// refuses reports whether a chunk of w is refused now.
func (g *spaceGuard) refuses(w *Writer) bool {
	return g != nil && g.full.Load() && (w == nil || !w.resumed)
}

// admit lets Create start a recording: at once while there is room, and
// when full only once the reserve could be rebuilt.
func (g *spaceGuard) admit() error {
	if g == nil || !g.full.Load() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.full.Load() {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(g.path), &st); err != nil {
		return fmt.Errorf("archive: free space: %w", err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < 2*uint64(g.size) {
		return fmt.Errorf("archive: disk full (%d bytes free): %w", free, ErrNoSpace)
	}
	if err := g.build(); err != nil {
		if errors.Is(err, ErrNoSpace) {
			return fmt.Errorf("archive: disk full: %w", err)
		}
		return err
	}
	g.full.Store(false)
	g.log.Info("archive disk has room again: uploads are taken", "reserve_bytes", g.size)
	return nil
}
