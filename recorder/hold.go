package recorder

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math"
	"sync"
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
//
// A buffer made with newPassBuffer (a live upload without DTMF masking)
// holds only the last passTail bytes at first, passing the rest on as it
// is written, until engage makes it hold like the other (a secure pause
// asked for during the upload). A pause covers what is read after it was
// asked for; its start marker may also fall on the latest packets read
// before, which the tail still holds.
type holdBuffer struct {
	out  io.Writer
	buf  []byte
	base int64 // capture offset of buf[0]
	next int64 // capture offset of the packet at which due reports true
	// recv is the SHA-256 of the capture as received, up to end; nil in
	// a buffer from newPassBuffer until engage (digest then gives what
	// was passed on).
	recv hash.Hash
	key  []byte // of the keyed hash of recv (receivedHMAC)
	// digest returns the SHA-256 of the bytes passed on to out, and
	// their number: set for a buffer from newPassBuffer.
	digest func() (hash.Hash, int64, error)
	end    int64        // bytes written, for this goroutine
	n      atomic.Int64 // bytes written, read by other goroutines
	err    error
	// marks are the keyed hashes of the capture as received up to each
	// chunk boundary that was written and not yet passed on, in order.
	marks []chunkMark

	// chunk is the size of the stored original's chunks (the writer's
	// ChunkSize; archive.ChunkSize unless set before the first Write).
	chunk int64
	// onChunk, when set before the first Write, is called before the
	// bytes that end a chunk of the stored original (chunk bytes each)
	// are passed on, with the chunk's end and the HMAC of the
	// capture as received up to there: what a note kept with that chunk
	// must hold.
	onChunk func(end int64, received []byte)

	// passing is set while the buffer passes bytes on as they come (a
	// buffer from newPassBuffer before engage); mu guards it against
	// engage, which runs on another goroutine.
	mu      sync.Mutex
	passing bool
}

// passTail is how many of the latest bytes a buffer from newPassBuffer
// holds before engage: the last few packets of a call.
const passTail = 2 << 10

// holdSlack is how far (bytes) the analysis moves on before the buffer
// asks for the pin again: a few hundred milliseconds of a live call.
const holdSlack = 4 << 10

// newHoldBuffer returns a buffer passing bytes on to out, which keeps a
// hash of what it receives, keyed with key (receivedHMAC).
func newHoldBuffer(out io.Writer, key []byte) *holdBuffer {
	return &holdBuffer{out: out, recv: sha256.New(), key: key, chunk: archive.ChunkSize}
}

// newPassBuffer returns a buffer like newHoldBuffer's that passes bytes
// on until engage. Until then it hashes nothing: the bytes it passed on
// are what it received, and digest, which must give their SHA-256 and
// number (the archive writer's OriginalDigest), takes the place of that
// work when engage comes. A live call's capture is so hashed once, not
// twice.
func newPassBuffer(out io.Writer, key []byte, digest func() (hash.Hash, int64, error)) *holdBuffer {
	h := newHoldBuffer(out, key)
	h.passing, h.recv, h.digest = true, nil, digest
	return h
}

// engaged reports whether the buffer holds what is written (a buffer
// from newHoldBuffer, or one from newPassBuffer after engage).
func (h *holdBuffer) engaged() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.passing
}

// engage makes a buffer from newPassBuffer hold every byte written after
// it, and returns how many bytes were written before: the capture offset
// from which masking can overwrite. Safe from any goroutine.
func (h *holdBuffer) engage() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.passing = false
	return h.n.Load()
}

// Write keeps p. It fails only after the archive failed.
func (h *holdBuffer) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	h.mu.Lock()
	passing := h.passing
	if passing {
		// Counted before it is passed on, so that an engage from now
		// on holds the bytes after these.
		h.n.Add(int64(len(p)))
	}
	h.mu.Unlock()
	if passing {
		// Pass on all but the last passTail bytes of the held tail and
		// p, without growing the tail beyond passTail.
		if excess := len(h.buf) + len(p) - passTail; excess > 0 {
			k := min(excess, len(h.buf))
			if err := h.pass(h.buf[:k]); err != nil {
				return 0, err
			}
			if err := h.pass(p[:excess-k]); err != nil {
				return 0, err
			}
			if h.buf == nil {
				h.buf = make([]byte, 0, passTail)
			}
			h.buf = append(h.buf[:copy(h.buf, h.buf[k:])], p[excess-k:]...)
			return len(p), nil
		}
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	if err := h.hashing(); err != nil {
		return 0, err
	}
	h.buf = append(h.buf, p...)
	h.received(p)
	h.n.Add(int64(len(p)))
	return len(p), nil
}

// hashing makes sure recv covers everything written: after engage, a
// buffer from newPassBuffer takes the digest of what it passed on and
// adds the tail it holds.
func (h *holdBuffer) hashing() error {
	if h.recv != nil {
		return nil
	}
	d, n, err := h.digest()
	if err == nil && n != h.base {
		err = fmt.Errorf("recorder: the archive holds %d bytes of the upload, %d were passed on", n, h.base)
	}
	if err != nil {
		h.err = err
		return err
	}
	h.recv, h.end = d, n
	h.received(h.buf)
	return nil
}

// received adds p to the hash of the capture as received, marking the
// chunk boundaries it crosses.
func (h *holdBuffer) received(p []byte) {
	for rest := p; len(rest) > 0; {
		k := int(min(int64(len(rest)), h.chunk-h.end%h.chunk))
		h.recv.Write(rest[:k])
		h.end += int64(k)
		rest = rest[k:]
		if h.onChunk != nil && h.end%h.chunk == 0 {
			h.marks = append(h.marks, chunkMark{end: h.end, received: h.keyed()})
		}
	}
}

// chunkMark is the keyed hash of the capture as received up to end.
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
	if h.recv == nil && h.engaged() {
		// The tail held at engage may end a chunk: its note needs the
		// hash as received up to there before the bytes are passed on.
		if err := h.hashing(); err != nil {
			return err
		}
	}
	n := int(min(upto-h.base, int64(len(h.buf))))
	if n <= 0 {
		return nil
	}
	if err := h.pass(h.buf[:n]); err != nil {
		return err
	}
	rest := copy(h.buf, h.buf[n:])
	h.buf = h.buf[:rest]
	if cap(h.buf) > 8*holdSlack && rest <= 2*holdSlack {
		h.buf = append(make([]byte, 0, 4*holdSlack), h.buf...) // give back a burst's memory
	}
	return nil
}

// pass passes on p, the bytes from capture offset h.base on, and moves
// h.base past them. It passes on up to the next chunk boundary at a time,
// so that the chunk's note is set before the bytes that end it.
func (h *holdBuffer) pass(p []byte) error {
	for len(p) > 0 {
		end := min(h.base+int64(len(p)), h.base/h.chunk*h.chunk+h.chunk)
		k := int(end - h.base)
		if len(h.marks) > 0 && h.marks[0].end == end {
			h.onChunk(end, h.marks[0].received)
			h.marks = h.marks[1:]
		}
		if _, err := h.out.Write(p[:k]); err != nil {
			h.err = err
			return err
		}
		h.base, p = end, p[k:]
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

// receivedHMAC returns the keyed hash of everything written so far:
// HMAC-SHA-256 under key of its SHA-256 (receivedMAC). It is nil after
// storing failed.
func (h *holdBuffer) receivedHMAC() []byte {
	if h.hashing() != nil {
		return nil
	}
	return h.keyed()
}

// keyed returns the keyed hash of what recv covers.
func (h *holdBuffer) keyed() []byte { return receivedMAC(h.key, h.recv.Sum(nil)) }
