package archive

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"syscall"
)

// walkPages reads the b+trees of a bbolt file straight from its bytes and
// reports, as a *CorruptError, everything bbolt's free-page scan
// (tx_check.go: recursivelyCheckBucket) would report or trip over: a page
// outside the file or past the high-water mark, a page whose header names
// another page or an unknown type, a page referenced twice (overflow runs
// included), an element or key outside its page, and keys out of order
// within a page or against the keys of the branch above it. bbolt runs
// that scan at Open and after a write transaction rolls back, in a
// goroutine where a panic cannot be recovered, and when it finds damage it
// closes its transaction while the scan still runs; so damage must be
// found here first. data is the whole file (mapped, so that only page
// headers, elements and keys are read, as bbolt's scan reads them); no
// offset is used before it is checked against len(data).
//
// The layout is bbolt's (go.etcd.io/bbolt/internal/common): a page is a
// 16-byte header (id u64, flags u16, count u16, overflow u32) and count
// elements of 16 bytes; a branch element is pos u32, ksize u32, pgid u64,
// a leaf element flags u32, pos u32, ksize u32, vsize u32, with the key at
// the element's address plus pos and the value after it. The meta page
// (pages 0 and 1) holds, after the header: magic, version, page size,
// flags (u32 each), the root bucket (root u64, sequence u64), the freelist
// page, the high-water mark and the txid (u64 each), and an FNV-64a
// checksum of what precedes it.
func walkPages(data []byte, pageSize int) error {
	if pageSize < 1024 || len(data) < 2*pageSize {
		return &CorruptError{Where: "open", Detail: fmt.Sprintf("file of %d bytes with pages of %d", len(data), pageSize)}
	}
	w := &pageWalk{data: data, size: int64(len(data)), ps: int64(pageSize), seen: map[uint64]bool{}}
	root, hwm, err := w.meta()
	if err != nil {
		return err
	}
	w.hwm = hwm
	return w.bucket(root, "")
}

const (
	pageHeaderSize  = 16
	pageElemSize    = 16
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
	bucketValueSize = 16 // root u64, sequence u64
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
)

type pageWalk struct {
	data []byte
	size int64
	ps   int64
	hwm  uint64
	seen map[uint64]bool // pages reached, overflow pages included
}

func (w *pageWalk) damage(format string, args ...any) error {
	return &CorruptError{Where: "open", Detail: fmt.Sprintf(format, args...)}
}

// meta returns the root bucket's page and the high-water mark of the
// newer valid meta page, as bbolt chooses it.
func (w *pageWalk) meta() (root, hwm uint64, err error) {
	var best struct{ root, hwm, txid uint64 }
	found := false
	for i := int64(0); i < 2; i++ {
		m := w.data[i*w.ps+pageHeaderSize : i*w.ps+pageHeaderSize+64]
		sum := fnv.New64a()
		sum.Write(m[:56])
		if binary.LittleEndian.Uint32(m[0:]) != boltMagic || binary.LittleEndian.Uint32(m[4:]) != boltVersion ||
			binary.LittleEndian.Uint64(m[56:]) != sum.Sum64() {
			continue
		}
		txid := binary.LittleEndian.Uint64(m[48:])
		if !found || txid > best.txid {
			best.root, best.hwm, best.txid = binary.LittleEndian.Uint64(m[16:]), binary.LittleEndian.Uint64(m[40:]), txid
			found = true
		}
	}
	if !found {
		return 0, 0, w.damage("both meta pages are damaged")
	}
	return best.root, best.hwm, nil
}

// page reads page id whole (with its overflow run) and checks its header.
func (w *pageWalk) page(id uint64, bucket string) (flags uint16, count int, p []byte, err error) {
	if id < 2 || id >= uint64(w.size/w.ps) {
		return 0, 0, nil, w.damage("bucket %q: a branch points at page %d, outside the file", printable([]byte(bucket)), id)
	}
	h := w.data[int64(id)*w.ps:]
	hid, flags := binary.LittleEndian.Uint64(h[0:]), binary.LittleEndian.Uint16(h[8:])
	count, overflow := int(binary.LittleEndian.Uint16(h[10:])), uint64(binary.LittleEndian.Uint32(h[12:]))
	switch {
	case hid != id:
		return 0, 0, nil, w.damage("page %d: its header says page %d (bucket %q)", id, hid, printable([]byte(bucket)))
	case flags != branchPageFlag && flags != leafPageFlag:
		return 0, 0, nil, w.damage("page %d: has unexpected type/flags: %#x (bucket %q)", id, flags, printable([]byte(bucket)))
	case id > w.hwm:
		return 0, 0, nil, w.damage("page %d: beyond the high-water mark %d (bucket %q)", id, w.hwm, printable([]byte(bucket)))
	case int64(id+overflow+1)*w.ps > w.size:
		return 0, 0, nil, w.damage("page %d: its %d overflow pages run past the end of the file", id, overflow)
	}
	for i := uint64(0); i <= overflow; i++ {
		if w.seen[id+i] {
			return 0, 0, nil, w.damage("page %d: multiple references (bucket %q)", id+i, printable([]byte(bucket)))
		}
		w.seen[id+i] = true
	}
	p = w.data[int64(id)*w.ps : int64(id+overflow+1)*w.ps]
	if pageHeaderSize+count*pageElemSize > len(p) {
		return 0, 0, nil, w.damage("page %d: %d elements do not fit in it", id, count)
	}
	return flags, count, p, nil
}

// span returns p[off:off+n] when it lies inside p.
func span(p []byte, off, n uint64) ([]byte, bool) {
	if off > uint64(len(p)) || n > uint64(len(p))-off {
		return nil, false
	}
	return p[off : off+n], true
}

// bucket walks the tree of a bucket rooted at page root, then the trees
// of the buckets nested in it. Inline buckets (root 0) hold no pages.
func (w *pageWalk) bucket(root uint64, name string) error {
	if root == 0 {
		return nil
	}
	var nested []struct {
		root uint64
		name string
	}
	var walk func(id uint64, lo, hi []byte) ([]byte, error)
	walk = func(id uint64, lo, hi []byte) ([]byte, error) {
		flags, count, p, err := w.page(id, name)
		if err != nil {
			return nil, err
		}
		prev := lo
		var maxKey []byte
		for i := range count {
			e := uint64(pageHeaderSize + i*pageElemSize)
			var key []byte
			var ok bool
			if flags == branchPageFlag {
				pos, ksize := uint64(binary.LittleEndian.Uint32(p[e:])), uint64(binary.LittleEndian.Uint32(p[e+4:]))
				if key, ok = span(p, e+pos, ksize); !ok {
					return nil, w.damage("page %d: element %d lies outside the page (bucket %q)", id, i, printable([]byte(name)))
				}
			} else {
				pos, ksize, vsize := uint64(binary.LittleEndian.Uint32(p[e+4:])), uint64(binary.LittleEndian.Uint32(p[e+8:])), uint64(binary.LittleEndian.Uint32(p[e+12:]))
				var val []byte
				key, ok = span(p, e+pos, ksize)
				if ok {
					val, ok = span(p, e+pos+ksize, vsize)
				}
				if !ok {
					return nil, w.damage("page %d: element %d lies outside the page (bucket %q)", id, i, printable([]byte(name)))
				}
				if binary.LittleEndian.Uint32(p[e:])&bucketLeafFlag != 0 {
					if len(val) < bucketValueSize {
						return nil, w.damage("page %d: bucket %q has a header of %d bytes", id, printable(key), len(val))
					}
					nested = append(nested, struct {
						root uint64
						name string
					}{binary.LittleEndian.Uint64(val), string(key)})
				}
			}
			if i == 0 && prev != nil && bytes.Compare(prev, key) > 0 || i > 0 && bytes.Compare(prev, key) >= 0 || hi != nil && bytes.Compare(key, hi) >= 0 {
				return nil, w.damage("page %d: keys out of order (bucket %q)", id, printable([]byte(name)))
			}
			if flags == branchPageFlag {
				next := hi
				if i+1 < count {
					ne := uint64(pageHeaderSize + (i+1)*pageElemSize)
					npos, nksize := uint64(binary.LittleEndian.Uint32(p[ne:])), uint64(binary.LittleEndian.Uint32(p[ne+4:]))
					if next, ok = span(p, ne+npos, nksize); !ok {
						return nil, w.damage("page %d: element %d lies outside the page (bucket %q)", id, i+1, printable([]byte(name)))
					}
				}
				child := binary.LittleEndian.Uint64(p[e+8:])
				if maxKey, err = walk(child, key, next); err != nil {
					return nil, err
				}
				prev = maxKey
			} else {
				prev, maxKey = key, key
			}
		}
		return maxKey, nil
	}
	if _, err := walk(root, nil, nil); err != nil {
		return err
	}
	for _, n := range nested {
		if err := w.bucket(n.root, n.name); err != nil {
			return err
		}
	}
	return nil
}

// walkFile maps the bbolt file f read-only and runs walkPages over it,
// under guard: a file cut short while it is read faults, and the fault is
// an error.
func walkFile(f *os.File, pageSize int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < 2*int64(pageSize) || int64(int(fi.Size())) != fi.Size() {
		return walkPages(nil, pageSize)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map for the page walk: %w", err)
	}
	defer syscall.Munmap(data)
	return guard("open", func() error { return walkPages(data, pageSize) })
}
