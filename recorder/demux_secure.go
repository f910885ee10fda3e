package recorder

import (
	"bytes"
	"net/netip"
	"time"
)

// Encrypted media. SRTP keeps the RTP header in the clear and encrypts the
// payload, so its streams are found like any other; what tells them apart:
//
//   - SDP: a secure profile (RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP(F)), or
//     a=crypto in both the offer and the answer of plain RTP/AVP
//     (best-effort SRTP), or a=zrtp-hash in both;
//   - packets on the media ports: ZRTP messages (RFC 6189) or DTLS
//     records (RFC 5764 DTLS-SRTP key exchange);
//   - without either, an SRTP authentication tag: G.711 packets whose
//     payload is longer than their timestamp step by exactly 4, 10 or 16
//     bytes (the tags of the common SRTP suites), packet after packet.
//     Plain G.711 carries one byte per timestamp tick.
//
// Encryption names, as Stream.Encryption gives them.
const (
	encSRTP     = "srtp"
	encDTLSSRTP = "dtls-srtp"
	encZRTP     = "zrtp"
)

// Tag heuristic thresholds: consecutive packet pairs looked at, and the
// share of them (in tenths) that must show the same tag length.
const (
	tagMinPairs = 50
	tagShare    = 9
)

// addrPair is an unordered pair of addresses: both directions of a media
// session.
type addrPair struct{ lo, hi netip.AddrPort }

func pairOf(a, b netip.AddrPort) addrPair {
	a, b = unmapAP(a), unmapAP(b)
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return addrPair{a, b}
}

// securedPair records that ZRTP or DTLS was seen between two addresses.
type securedPair struct {
	enc   string
	first time.Time
}

// zrtpMagic is the ZRTP magic cookie, at byte 4 of every ZRTP packet.
var zrtpMagic = []byte("ZRTP")

// isZRTP reports whether a UDP payload is a ZRTP packet: first byte 0x10
// (version bits 0, which RTP never has), the magic cookie at byte 4, and
// room for a message header and the CRC.
func isZRTP(p []byte) bool {
	return len(p) >= 28 && p[0] == 0x10 && bytes.Equal(p[4:8], zrtpMagic)
}

// isDTLS reports whether a UDP payload is a DTLS record (RFC 7983 puts
// first bytes 20..63 on a media port to DTLS): a content type of 20..23,
// version 1.0 or 1.2 (0xfeff, 0xfefd) and a record length that fits.
func isDTLS(p []byte) bool {
	if len(p) < 13 || p[0] < 20 || p[0] > 23 || p[1] != 0xfe || (p[2] != 0xff && p[2] != 0xfd) {
		return false
	}
	return 13+(int(p[11])<<8|int(p[12])) <= len(p)
}

// secureMedia takes a UDP payload that is a ZRTP packet or a DTLS record
// and remembers its addresses; it reports whether it was one.
func (d *Demux) secureMedia(src, dst netip.AddrPort, t time.Time, p []byte) bool {
	enc := ""
	switch {
	case isZRTP(p):
		enc = encZRTP
	case isDTLS(p):
		enc = encDTLSSRTP
	default:
		return false
	}
	k := pairOf(src, dst)
	if sp := d.secured[k]; sp != nil {
		if t.Before(sp.first) {
			sp.first = t
		}
		return true
	}
	if len(d.secured) >= maxSecured {
		return true
	}
	d.secured[k] = &securedPair{enc: enc, first: t}
	return true
}

// sdpEncryption says whether the SDP of a session encrypts its media,
// given the bindings of the receiving and the sending address (either may
// be nil). Where both ends' descriptions are known they must agree.
func sdpEncryption(dst, src *sdpBinding) string {
	name := func(b *sdpBinding) string {
		if b.dtls {
			return encDTLSSRTP
		}
		return encSRTP
	}
	switch {
	case dst == nil && src == nil:
		return ""
	case dst == nil || src == nil:
		b := dst
		if b == nil {
			b = src
		}
		if b.savp {
			return name(b)
		}
		return ""
	case dst.savp && src.savp:
		return name(dst)
	case dst.crypto && src.crypto:
		return encSRTP
	case dst.zrtp && src.zrtp:
		return encZRTP
	}
	return ""
}

// tagCheck follows the SRTP tag heuristic for one pair of consecutive
// packets of a G.711 stream: n payload bytes after a timestamp step of
// step samples.
func (s *stream) tagCheck(n, step int64) {
	s.tagPairs++
	diff := n - step
	if diff != 4 && diff != 10 && diff != 16 {
		return
	}
	if s.tagLen == 0 {
		s.tagLen = diff
	}
	if diff == s.tagLen {
		s.tagged++
	}
}

// encryption is how s's payloads are encrypted, or "".
func (d *Demux) encryption(s *stream) string {
	if s.enc != "" {
		return s.enc
	}
	k := s.f.key
	if sp := d.secured[pairOf(k.src, k.dst)]; sp != nil && !s.last.Before(sp.first) {
		return sp.enc
	}
	if s.g711 && s.tagged >= tagMinPairs && s.tagged*10 >= s.tagPairs*tagShare {
		return encSRTP
	}
	return ""
}
