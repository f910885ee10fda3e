package recorder

import (
	"crypto/sha256"
	"io"
	"runtime"

	"github.com/callvault/callvault/codec"
)

// exportBlock is the unit a long export is rendered in by several readers.
const exportBlock = 2 << 20

// hashWAV returns the SHA-256 of the WAV open renders. A WAV of at least
// four blocks is rendered by up to four readers at once (open is called
// once per reader), each rendering every n-th block of exportBlock bytes,
// while the calling goroutine hashes the blocks in order: rendering, not
// hashing, is the slower half, so the seal of a long recording waits about
// as long as hashing its WAV takes. Memory: at most two blocks per reader
// plus the one being hashed.
func hashWAV(open func() (*codec.WAVReader, error)) ([32]byte, error) {
	first, err := open()
	if err != nil {
		return [32]byte{}, err
	}
	size := first.Size()
	readers := min(runtime.GOMAXPROCS(0), 4)
	if readers < 2 || size < 4*exportBlock {
		return hashConcurrently(first)
	}
	blocks := int((size + exportBlock - 1) / exportBlock)
	type block struct {
		b   []byte
		err error
	}
	stop := make(chan struct{})
	defer close(stop)
	free := make(chan []byte, 2*readers+1)
	outs := make([]chan block, readers)
	for w := range readers {
		out := make(chan block, 1)
		outs[w] = out
		go func() {
			defer close(out)
			send := func(b block) bool {
				select {
				case out <- b:
					return b.err == nil
				case <-stop:
					return false
				}
			}
			rd := first
			if w > 0 {
				var err error
				if rd, err = open(); err != nil {
					send(block{err: err})
					return
				}
			}
			for k := w; k < blocks; k += readers {
				var buf []byte
				select {
				case buf = <-free:
				default:
					buf = make([]byte, exportBlock)
				}
				from := int64(k) * exportBlock
				n := min(exportBlock, size-from)
				_, err := rd.Seek(from, io.SeekStart)
				if err == nil {
					_, err = io.ReadFull(rd, buf[:n])
				}
				if !send(block{buf[:n], err}) {
					return
				}
			}
		}()
	}
	h := sha256.New()
	for k := range blocks {
		b, ok := <-outs[k%readers]
		if !ok {
			return [32]byte{}, io.ErrUnexpectedEOF
		}
		if b.err != nil {
			return [32]byte{}, b.err
		}
		h.Write(b.b)
		select {
		case free <- b.b[:cap(b.b)]:
		default:
		}
	}
	return [32]byte(h.Sum(nil)), nil
}
