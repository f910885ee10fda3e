package recorder

import (
	"fmt"
	"github.com/callvault/callvault/internal/capturetest"
	"math/rand/v2"
	"testing"
	"time"
)

// randomPayload is what encrypted payloads look like.
func randomPayload(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// sendRandom sends n packets each way with random payloads of size
// bytes (160 bytes of audio plus an authentication tag for SRTP).
func (s *synth) sendRandom(src, dst string, pt uint8, n, size int, at time.Duration) {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range n {
		for d, ends := range [2][2]string{{src, dst}, {dst, src}} {
			p := capturetest.RTP{PT: pt, Seq: uint16(100*d + i), TS: uint32(160*i + 3000*d), SSRC: uint32(0xE000 + d), Payload: randomPayload(rng, size)}
			s.send(ends[0], ends[1], at+time.Duration(i)*20*time.Millisecond+time.Duration(d)*time.Millisecond, p.Bytes())
		}
	}
}

// checkEncrypted checks that every stream of call c is marked encrypted
// with enc, not supported, and renders as silence.
func checkEncrypted(t *testing.T, s *synth, r *Result, c int, enc string) {
	t.Helper()
	if len(r.Calls[c].Streams) != 2 {
		t.Fatalf("call %+v", r.Calls[c])
	}
	for _, si := range r.Calls[c].Streams {
		st := r.Streams[si]
		if !st.Encrypted || st.Encryption != enc || st.Supported {
			t.Errorf("stream %d: encrypted %v (%q) supported %v, want encrypted (%q), not supported", si, st.Encrypted, st.Encryption, st.Supported, enc)
		}
		if l := r.Layout(c, nil); l.Streams[si].Codec.Supported() {
			t.Errorf("stream %d laid out with codec %v", si, l.Streams[si].Codec)
		}
	}
	left, right := s.renderCall(r, c)
	if len(left) < 8000 {
		t.Fatalf("call window %d samples", len(left))
	}
	for i := range left {
		if left[i] != 0 || right[i] != 0 {
			t.Fatalf("sample %d of encrypted call is %d/%d, want silence", i, left[i], right[i])
		}
	}
}

// checkClear checks that no stream of call c is marked encrypted.
func checkClear(t *testing.T, r *Result, c int) {
	t.Helper()
	for _, si := range r.Calls[c].Streams {
		if st := r.Streams[si]; st.Encrypted || st.Encryption != "" || !st.Supported {
			t.Errorf("stream %d: encrypted %v (%q) supported %v, want clear", si, st.Encrypted, st.Encryption, st.Supported)
		}
	}
}

const sdesLine = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"

// TestEncryptedSDP: media that SDP says is SRTP (SDES keys, DTLS-SRTP,
// ZRTP on both ends, best-effort SRTP on plain RTP/AVP accepted by both
// ends) is marked encrypted and renders as silence, while the map keeps
// pointing at its payloads in the original. SDP that does not make the
// media encrypted (a=crypto or a=zrtp-hash on one end only) leaves it
// alone.
func TestEncryptedSDP(t *testing.T) {
	fp := "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF"
	zh := "a=zrtp-hash:1.10 fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df"
	tests := []struct {
		name          string
		proto         string
		offer, answer []string
		size          int
		enc           string
	}{
		{"SDES RTP/SAVP", "RTP/SAVP", []string{sdesLine}, []string{sdesLine}, 170, encSRTP},
		{"SDES RTP/SAVPF", "RTP/SAVPF", []string{sdesLine}, []string{sdesLine}, 170, encSRTP},
		{"SDES 32-bit tag", "RTP/SAVP", []string{sdesLine}, []string{sdesLine}, 164, encSRTP},
		{"DTLS-SRTP", "UDP/TLS/RTP/SAVPF", []string{fp}, []string{fp}, 170, encDTLSSRTP},
		{"best-effort SRTP accepted", "RTP/AVP", []string{sdesLine}, []string{sdesLine}, 170, encSRTP},
		{"ZRTP both ends", "RTP/AVP", []string{zh}, []string{zh}, 160, encZRTP},
		{"best-effort SRTP refused", "RTP/AVP", []string{sdesLine}, nil, 160, ""},
		{"ZRTP one end", "RTP/AVP", []string{zh}, nil, 160, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSynth(t, DemuxOptions{})
			s.invite("sec@pbx", 1, 0, 0, tc.proto, tc.offer, tc.answer)
			s.sendRandom(dlgA, dlgB, 0, 75, tc.size, 20*time.Millisecond)
			// A clear call beside it stays clear.
			s.sendRandom("10.9.0.1:7000", "10.9.0.2:7002", 0, 75, 160, 30*time.Millisecond)
			r := s.result()
			if len(r.Calls) != 2 || r.Calls[0].CallID != "sec@pbx" {
				t.Fatalf("calls %+v", r.Calls)
			}
			if tc.enc == "" {
				checkClear(t, r, 0)
			} else {
				checkEncrypted(t, s, r, 0, tc.enc)
				if n := len(s.placement(r.Calls[0].Streams[0])); n < 75*160 {
					t.Errorf("map entries of the encrypted stream cover %d bytes, want all %d payloads", n, 75)
				}
			}
			checkClear(t, r, 1)
		})
	}
}

// zrtpPacket is a ZRTP message: 0x10, sequence, magic cookie, SSRC, a
// message block and a CRC (not checked here).
func zrtpPacket(seq uint16, msg string) []byte {
	b := []byte{0x10, 0, byte(seq >> 8), byte(seq), 'Z', 'R', 'T', 'P', 0, 0, 0xE0, 0}
	b = append(b, 0x50, 0x5a, 0, 3)
	b = append(b, fmt.Sprintf("%-8s", msg)...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	return append(b, 1, 2, 3, 4)
}

// dtlsRecord is a DTLS 1.2 handshake record of n bytes of body.
func dtlsRecord(n int) []byte {
	b := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, byte(n >> 8), byte(n)}
	return append(b, make([]byte, n)...)
}

// TestEncryptedWithoutSDP: without SIP, ZRTP packets or DTLS records on
// the media addresses, or an SRTP authentication tag on G.711 packets,
// mark the streams encrypted.
func TestEncryptedWithoutSDP(t *testing.T) {
	t.Run("ZRTP packets", func(t *testing.T) {
		s := newSynth(t, DemuxOptions{})
		for i, m := range []string{"Hello   ", "HelloACK", "Commit  ", "DHPart1 ", "DHPart2 ", "Confirm1", "Confirm2", "Conf2ACK"} {
			src, dst := dlgA, dlgB
			if i%2 == 1 {
				src, dst = dst, src
			}
			s.send(src, dst, time.Duration(i)*time.Millisecond, zrtpPacket(uint16(i), m))
		}
		s.sendRandom(dlgA, dlgB, 0, 75, 164, 20*time.Millisecond)
		r := s.result()
		if r.OtherPackets != 8 {
			t.Errorf("other packets %d, want the 8 ZRTP packets", r.OtherPackets)
		}
		checkEncrypted(t, s, r, 0, encZRTP)
	})
	t.Run("DTLS records", func(t *testing.T) {
		s := newSynth(t, DemuxOptions{})
		s.send(dlgA, dlgB, 0, dtlsRecord(100))
		s.send(dlgB, dlgA, time.Millisecond, dtlsRecord(300))
		s.sendRandom(dlgA, dlgB, 0, 75, 170, 20*time.Millisecond)
		checkEncrypted(t, s, s.result(), 0, encDTLSSRTP)
	})
	t.Run("SRTP tag", func(t *testing.T) {
		s := newSynth(t, DemuxOptions{})
		s.sendRandom(dlgA, dlgB, 0, 75, 170, 20*time.Millisecond)
		checkEncrypted(t, s, s.result(), 0, encSRTP)
	})
	t.Run("SRTP tag, too few packets to tell", func(t *testing.T) {
		s := newSynth(t, DemuxOptions{})
		s.sendRandom(dlgA, dlgB, 0, 20, 170, 20*time.Millisecond)
		checkClear(t, s.result(), 0)
	})
	t.Run("clear G.711 on the same shape", func(t *testing.T) {
		s := newSynth(t, DemuxOptions{})
		s.sendRandom(dlgA, dlgB, 0, 75, 160, 20*time.Millisecond)
		checkClear(t, s.result(), 0)
	})
}

// TestEncryptedNotByOtherFlows: ZRTP seen between two addresses does not
// mark media between other addresses, nor media that ended before it.
func TestEncryptedNotByOtherFlows(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.sendRandom(dlgA, dlgB, 0, 75, 160, 0)
	s.send(dlgA, dlgB, 3*time.Second, zrtpPacket(1, "Hello   "))
	s.send("10.9.0.1:7000", "10.9.0.2:7002", 3*time.Second, zrtpPacket(1, "Hello   "))
	s.sendRandom("10.9.0.1:7000", "10.9.0.3:7002", 0, 75, 160, 3*time.Second)
	r := s.result()
	if len(r.Calls) != 2 {
		t.Fatalf("calls %+v", r.Calls)
	}
	checkClear(t, r, 0)
	checkClear(t, r, 1)
}
