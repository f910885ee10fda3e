// Package slotfile keeps a file of fixed-size slots that are overwritten
// in place: a key written to a slot is destroyed by zeroing that slot,
// which a copy-on-write store cannot promise (it keeps the old page).
//
// Layout: slot 0 is the header, a magic string padded with zeros (its
// owner may keep more in the rest of it); slot n ≥ 1 starts at offset
// n·size. An all-zero slot is free; a slot cut off at the end of the file
// (a crash while the file grew) counts as free. The package reads and
// writes slots and keeps the free list; when to sync, what a slot holds
// and which slots are in use are the owner's.
package slotfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// ErrNotSlotFile is returned by Open for a file whose header does not
// start with the magic.
var ErrNotSlotFile = errors.New("slotfile: not a slot file of this kind")

// File is an open slot file. Its methods may be called concurrently; a
// write and a read of the same slot must be ordered by the caller.
type File struct {
	f    *os.File
	size int64

	mu   sync.Mutex
	free []uint64 // free slots below next, lowest first
	next uint64   // the slot after the file's last
}

// Open opens the slot file at path with slots of size bytes, creating it
// when create is set. A new (or empty) file gets the header (magic padded
// with zeros), synced together with its directory. Errors are those of
// the file system as they are (a missing file is fs.ErrNotExist), or
// ErrNotSlotFile.
func Open(path string, size int, magic string, create bool) (*File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	s, err := New(f, size, magic)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// New is Open on a file the caller opened (read-only, for one); f is the
// caller's to close when New fails.
func New(f *os.File, size int, magic string) (*File, error) {
	if len(magic) > size {
		return nil, errors.New("slotfile: magic longer than a slot")
	}
	s := &File{f: f, size: int64(size)}
	if err := s.load(f.Name(), magic); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *File) load(path, magic string) error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		hdr := make([]byte, s.size)
		copy(hdr, magic)
		if _, err := s.f.WriteAt(hdr, 0); err != nil {
			return err
		}
		if err := s.f.Sync(); err != nil {
			return err
		}
		if err := SyncDir(filepath.Dir(path)); err != nil {
			return err
		}
		s.next = 1
		return nil
	}
	hdr := make([]byte, s.size)
	if _, err := s.f.ReadAt(hdr, 0); err != nil || !bytes.HasPrefix(hdr, []byte(magic)) {
		return ErrNotSlotFile
	}
	n := uint64(fi.Size() / s.size)
	s.next = n
	const batch = 256
	buf := make([]byte, batch*s.size)
	for first := uint64(1); first < n; first += batch {
		cnt := min(batch, n-first)
		b := buf[:int64(cnt)*s.size]
		if _, err := s.f.ReadAt(b, int64(first)*s.size); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		for i := range cnt {
			if IsZero(b[int64(i)*s.size : int64(i+1)*s.size]) {
				s.free = append(s.free, first+i)
			}
		}
	}
	return nil
}

// SyncDir fsyncs a directory so that a file created in it survives a
// power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// IsZero reports whether b is all zero bytes.
func IsZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// OS returns the underlying file, for reads and writes of the header.
func (s *File) OS() *os.File { return s.f }

// Close closes the file.
func (s *File) Close() error { return s.f.Close() }

// Sync makes the written slots durable.
func (s *File) Sync() error { return s.f.Sync() }

// Alloc takes the lowest free slot, or one past the end. The slot is the
// caller's until it gives it back with Free.
func (s *File) Alloc() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.free) > 0 {
		n := s.free[0]
		s.free = s.free[1:]
		return n
	}
	n := s.next
	s.next++
	return n
}

// Free puts slot n back on the free list; the caller zeroed it.
func (s *File) Free(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, found := slices.BinarySearch(s.free, n); !found {
		s.free = slices.Insert(s.free, i, n)
	}
}

// IsFree reports whether slot n is on the free list.
func (s *File) IsFree(n uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, found := slices.BinarySearch(s.free, n)
	return found
}

// Next returns the slot after the last one allocated: slots 1 to
// Next()-1 exist (or are taken).
func (s *File) Next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Len returns the length in bytes of the allocated slots, header included.
func (s *File) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.next) * s.size
}

// Write writes b, padded with zeros to a whole slot, into slot n without
// syncing.
func (s *File) Write(n uint64, b []byte) error {
	if int64(len(b)) > s.size {
		return errors.New("slotfile: slot contents longer than a slot")
	}
	slot := make([]byte, s.size)
	copy(slot, b)
	_, err := s.f.WriteAt(slot, int64(n)*s.size)
	clear(slot)
	return err
}

// Zero overwrites slot n with zeros without syncing.
func (s *File) Zero(n uint64) error {
	_, err := s.f.WriteAt(make([]byte, s.size), int64(n)*s.size)
	return err
}

// Read reads slot n into b (a slot's size); io.EOF when the slot is past
// the end of the file or cut off.
func (s *File) Read(n uint64, b []byte) error {
	_, err := s.f.ReadAt(b[:s.size], int64(n)*s.size)
	return err
}
