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
// crash cuts off was never acknowledged. Its memory is twice (masked and
// as received) the capture reader's read-ahead plus the last few hundred
// milliseconds of the capture's audio.
type holdBuffer struct {
	out  io.Writer
	buf  []byte
	raw  []byte       // buf as received, before masking
	base int64        // capture offset of buf[0]
	next int64        // capture offset of the packet at which due reports true
	recv hash.Hash    // HMAC-SHA-256 of the capture as received, up to base
	n    atomic.Int64 // bytes written, read by other goroutines
	err  error

	// onChunk, when set, is called before the bytes that end a chunk of
	// the stored original (archive.ChunkSize bytes each) are passed on,
	// with the chunk's end and the HMAC of the capture as received up to
	// there: what a note kept with that chunk must hold.
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
	h.raw = append(h.raw, p...)
	h.n.Add(int64(len(p)))
	return len(p), nil
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
		h.recv.Write(h.raw[done:k])
		if h.onChunk != nil && end%archive.ChunkSize == 0 {
			h.onChunk(end, h.recv.Sum(nil))
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
	copy(h.raw, h.raw[n:])
	h.raw = h.raw[:rest]
	if cap(h.buf) > 8*holdSlack && rest <= 2*holdSlack {
		h.buf = append(make([]byte, 0, 4*holdSlack), h.buf...) // give back a burst's memory
		h.raw = append(make([]byte, 0, 4*holdSlack), h.raw...)
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

// received returns the HMAC-SHA-256 of everything passed on so far (after
// flush: of everything written).
func (h *holdBuffer) received() []byte { return h.recv.Sum(nil) }
