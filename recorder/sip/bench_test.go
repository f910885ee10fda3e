package sip

import "testing"

func BenchmarkParseInvite(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(sippInvite)))
	for b.Loop() {
		if _, err := Parse(sippInvite); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRejectRTP(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(rtpPacket)))
	for b.Loop() {
		if _, err := Parse(rtpPacket); err != ErrNotSIP {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRejectHTTP(b *testing.B) {
	in := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != ErrNotSIP {
			b.Fatal(err)
		}
	}
}
