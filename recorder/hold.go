package recorder

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"io"
	"math"
	"sync/atomic"

	"github.com/callvault/callvault/archive"
)

// holdBuffer stands between a capture as it is read and the archive when
// ingest masks: it keeps the bytes that masking may still overwrite (from
// the Demux's Pin on) and passes the rest on. Bytes reach the archive only
// once they are final, so nothing unmasked is ever stored, and what a
// crash cuts off was never acknowledged. Its memory is the capture
// reader's read-ahead plus the last few hundred milliseconds of the
// capture's audio.
type holdBuffer struct {
	out  io.Writer
	buf  []byte
	base int64        // capture offset of buf[0]
	next int64        // capture offset of the packet at which due reports true
	recv hash.Hash    // HMAC-SHA-256 of the capture as received
	end  int64        // bytes written, for this goroutine
	n    atomic.Int64 // bytes written, read by other goroutines
	err  error
	// marks are the HMACs of the capture as received up to each chunk
	// boundary that was written and not yet passed on, in order.
	marks []chunkMark

	// onChunk, when set before the first Write, is called before the
	// bytes that end a chunk of the stored original (archive.ChunkSize
	// bytes each) are passed on, with the chunk's end and the HMAC of the
	// capture as received up to there: what a note kept with that chunk
	// must hold.
	onChunk func(end int64, received []byte)
}

// holdSlack is how far (bytes) the analysis moves on before the buffer
// asks for the pin again: a few hundred milliseconds of a live call.
const holdSlack = 4 << 10

// newHoldBuffer returns a buffer passing bytes on to out, which keeps the
// HMAC-SHA-256 under key of what it receives.
func newHoldBuffer(out io.Writer, key []byte) *holdBuffer {
	return &holdBuffer{out: out, recv: hmac.New(sha256.New, key)}
}

// Write keeps p. It fails only after the archive failed.
func (h *holdBuffer) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	h.buf = append(h.buf, p...)
	for rest := p; len(rest) > 0; {
		k := int(min(int64(len(rest)), archive.ChunkSize-h.end%archive.ChunkSize))
		h.recv.Write(rest[:k])
		h.end += int64(k)
		rest = rest[k:]
		if h.onChunk != nil && h.end%archive.ChunkSize == 0 {
			h.marks = append(h.marks, chunkMark{end: h.end, received: h.recv.Sum(nil)})
		}
	}
	h.n.Add(int64(len(p)))
	return len(p), nil
}

// chunkMark is the HMAC of the capture as received up to end.
type chunkMark struct {
	end      int64
	received []byte
}

// due reports whether the analysis, at the packet at capture offset off,
// has moved on enough to ask for the pin again.
func (h *holdBuffer) due(off int64) bool { return off >= h.next }

// releaseAt is release(upto) at the packet at capture offset off.
func (h *holdBuffer) releaseAt(off, upto int64) error {
	h.next = off + holdSlack
	return h.release(upto)
}

// release passes on the bytes before capture offset upto.
func (h *holdBuffer) release(upto int64) error {
	if h.err != nil {
		return h.err
	}
	n := int(min(upto-h.base, int64(len(h.buf))))
	if n <= 0 {
		return nil
	}
	for done := 0; done < n; {
		// Pass on up to the next chunk boundary at a time, so that the
		// chunk's note is set before the bytes that end it.
		end := min(h.base+int64(n), (h.base+int64(done))/archive.ChunkSize*archive.ChunkSize+archive.ChunkSize)
		k := int(end - h.base)
		if len(h.marks) > 0 && h.marks[0].end == end {
			h.onChunk(end, h.marks[0].received)
			h.marks = h.marks[1:]
		}
		if _, err := h.out.Write(h.buf[done:k]); err != nil {
			h.err = err
			return err
		}
		done = k
	}
	h.base += int64(n)
	rest := copy(h.buf, h.buf[n:])
	h.buf = h.buf[:rest]
	if cap(h.buf) > 8*holdSlack && rest <= 2*holdSlack {
		h.buf = append(make([]byte, 0, 4*holdSlack), h.buf...) // give back a burst's memory
	}
	return nil
}

// flush passes on everything held.
func (h *holdBuffer) flush() error { return h.release(math.MaxInt64) }

// overwrite fills the bytes it holds of the n at capture offset off with
// fill, and reports whether it held them all.
func (h *holdBuffer) overwrite(off int64, n int, fill byte) bool {
	lo, hi := max(off-h.base, 0), min(off+int64(n)-h.base, int64(len(h.buf)))
	for i := lo; i < hi; i++ {
		h.buf[i] = fill
	}
	return lo == off-h.base && hi == off+int64(n)-h.base
}

// written returns how many bytes were written so far; safe from any
// goroutine.
func (h *holdBuffer) written() int64 { return h.n.Load() }

// received returns the HMAC-SHA-256 of everything written so far.
func (h *holdBuffer) received() []byte { return h.recv.Sum(nil) }
