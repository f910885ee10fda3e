package sip

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
)

// allocBytes returns the bytes f allocates, averaged over a few runs.
func allocBytes(f func()) int {
	const runs = 5
	f() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return int((after.TotalAlloc - before.TotalAlloc) / runs)
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases() {
		f.Add(tc.in)
	}
	for _, in := range notSIPCases() {
		f.Add(in)
	}
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Type: multipart/mixed;boundary=x\r\n\r\n--x\r\nc: application/sdp\r\n\r\nv=0\r\nm=audio 5 RTP/AVP 0\r\n--x--\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nc: application/sdp\r\n\r\nv=0\r\na=zrtp-hash:1.10 ab\r\nm=audio 5 UDP/TLS/RTP/SAVPF 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\na=fingerprint:sha-256 AB\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := append([]byte(nil), in...)
		m, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrNotSIP) || m != nil {
				t.Fatalf("Parse = %v, %v", m, err)
			}
			return
		}
		if m.Request {
			if m.Method == "" || m.RequestURI == "" || m.StatusCode != 0 {
				t.Fatalf("bad request line: %+v", m)
			}
		} else if m.StatusCode < 100 || m.StatusCode > 699 || m.Method != "" {
			t.Fatalf("bad status line: %+v", m)
		}
		if s := m.SDP; s != nil {
			if len(s.Media) > MaxMedia {
				t.Fatalf("%d media", len(s.Media))
			}
			formats, maps := 0, 0
			for _, md := range s.Media {
				formats += len(md.Formats)
				maps += len(md.RTPMap)
				for _, f := range md.Formats {
					if f > 127 {
						t.Fatalf("format %d", f)
					}
				}
				switch md.Direction {
				case SendRecv, SendOnly, RecvOnly, Inactive:
				default:
					t.Fatalf("direction %q", md.Direction)
				}
			}
			if formats > MaxFormats || maps > MaxRTPMaps {
				t.Fatalf("%d formats, %d rtpmaps", formats, maps)
			}
		}
		// The message must not refer to the input: clobber it and compare
		// with a parse of the original bytes.
		for k := range in {
			in[k] = 'x'
		}
		m2, err := Parse(orig)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("message changed with its input or parse not deterministic:\n%+v\n%+v", dump(m), dump(m2))
		}
		if len(orig) <= 64<<10 {
			if n := allocBytesOnce(func() { _, _ = Parse(orig) }); n > 16*len(orig)+16<<10 {
				t.Fatalf("allocated %d bytes for %d input bytes", n, len(orig))
			}
		}
	})
}

// allocBytesOnce returns the bytes one call of f allocates, without forcing a
// collection (cheap enough for every fuzz input).
func allocBytesOnce(f func()) int {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int(after.TotalAlloc - before.TotalAlloc)
}
