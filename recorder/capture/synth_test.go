package capture

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"
)

// Helpers for checking decoded captures; the captures themselves come
// from internal/capturetest.

// got is a copy of a decoded datagram.
type got struct {
	Time     time.Time
	Proto    Proto
	Src, Dst netip.AddrPort
	Payload  []byte
	Pieces   []Piece
}

// checkPieces verifies the offset invariant of dg against the input.
func checkPieces(t testing.TB, input []byte, dg *Datagram) {
	t.Helper()
	var cat []byte
	for _, p := range dg.Pieces {
		if p.Len <= 0 || p.Off < 0 || p.Off+int64(p.Len) > int64(len(input)) {
			t.Fatalf("piece %+v outside the %d-byte input", p, len(input))
		}
		cat = append(cat, input[p.Off:p.Off+int64(p.Len)]...)
	}
	if !bytes.Equal(cat, dg.Payload) {
		t.Fatalf("pieces %+v give %d bytes %x..., payload is %d bytes", dg.Pieces, len(cat), head(cat), len(dg.Payload))
	}
	for i := range len(dg.Payload) {
		off, n := dg.PayloadOffset(i)
		if n <= 0 || input[off] != dg.Payload[i] {
			t.Fatalf("PayloadOffset(%d) = %d, %d", i, off, n)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// decodeAll reads and decodes the whole input, checking the packet and
// piece invariants. It returns the datagrams, the packet count, the
// number of decode errors and the reader's final error (nil at io.EOF).
func decodeAll(t testing.TB, input []byte) (dgs []got, packets, decErrs int, err error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(input))
	if err != nil {
		return nil, 0, 0, err
	}
	d := NewDecoder()
	for {
		p, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return dgs, packets, decErrs, err
		}
		packets++
		if p.Off < 0 || p.Off+int64(len(p.Data)) > int64(len(input)) || !bytes.Equal(p.Data, input[p.Off:p.Off+int64(len(p.Data))]) {
			t.Fatalf("packet %d: data does not sit at offset %d", packets, p.Off)
		}
		dg, err := d.Decode(p)
		if err != nil {
			decErrs++
			continue
		}
		if dg == nil {
			continue
		}
		checkPieces(t, input, dg)
		dgs = append(dgs, got{dg.Time, dg.Proto, dg.Src, dg.Dst, bytes.Clone(dg.Payload), append([]Piece(nil), dg.Pieces...)})
	}
}

func payloadOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

var (
	addrA  = netip.MustParseAddr("10.1.2.3")
	addrB  = netip.MustParseAddr("192.168.7.9")
	addr6A = netip.MustParseAddr("2001:db8::1")
	addr6B = netip.MustParseAddr("fe80::1234:5678")
	t0     = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
)
