package sip

import (
	"bytes"
	"net/netip"
	"strings"
)

// Bounds on what one session description may hold; further m= lines,
// formats and rtpmap attributes are ignored.
const (
	MaxMedia   = 64  // m= lines kept per session description
	MaxFormats = 256 // formats kept over all m= lines
	MaxRTPMaps = 256 // a=rtpmap attributes kept over all m= lines
)

// Media directions (RFC 3264).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// SDP is a session description (RFC 4566), reduced to what locates and
// decodes its media streams.
type SDP struct {
	// Origin is the o= line's value as written.
	Origin string
	// SessionName is the s= line's value.
	SessionName string
	// Conn is the session-level c= address; invalid when there is none.
	Conn netip.Addr
	// Media are the m= sections in order, at most MaxMedia.
	Media []Media
}

// Media is one m= section of a session description.
type Media struct {
	// Type is the media type: "audio", "video", "image"...
	Type string
	// Port is the transport port; 0 for a rejected or disabled stream (or an
	// unparsable port).
	Port uint16
	// Proto is the transport protocol, e.g. "RTP/AVP".
	Proto string
	// Formats are the numeric formats (RTP payload types 0-127) in order of
	// preference; non-numeric formats (e.g. "t38") are left out.
	Formats []uint8
	// Conn is the connection address of the media: the section's own c=
	// address, else the session-level one; invalid when neither is valid.
	Conn netip.Addr
	// RTPMap maps payload types to their a=rtpmap attributes; nil when the
	// section has none.
	RTPMap map[uint8]RTPMap
	// Direction is SendRecv, SendOnly, RecvOnly or Inactive: the section's
	// own attribute, else the session-level one, else SendRecv (the default
	// of RFC 3264).
	Direction string
	// Crypto reports a=crypto attributes (SDES keys for SRTP, RFC 4568) in
	// the section. The keys themselves are not kept.
	Crypto bool
	// Fingerprint reports an a=fingerprint attribute (DTLS-SRTP, RFC 5763)
	// in the section or at session level.
	Fingerprint bool
	// ZRTPHash reports an a=zrtp-hash attribute (ZRTP, RFC 6189) in the
	// section or at session level.
	ZRTPHash bool
}

// SecureProfile reports whether the section's transport protocol is a
// secure RTP profile, whose payloads are encrypted: RTP/SAVP or RTP/SAVPF,
// also over DTLS (UDP/TLS/RTP/SAVP, UDP/TLS/RTP/SAVPF).
func (m *Media) SecureProfile() bool {
	p := m.Proto
	return hasSuffixFoldString(p, "/SAVP") || hasSuffixFoldString(p, "/SAVPF")
}

// DTLS reports whether the section negotiates its SRTP keys with DTLS: a
// UDP/TLS transport protocol or an a=fingerprint attribute.
func (m *Media) DTLS() bool {
	return m.Fingerprint || len(m.Proto) >= 8 && strings.EqualFold(m.Proto[:8], "UDP/TLS/")
}

func hasSuffixFoldString(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// RTPMap is an a=rtpmap attribute: "<pt> <encoding>/<clock>[/<channels>]".
type RTPMap struct {
	// Encoding is the encoding name as written (e.g. "PCMU",
	// "telephone-event"); names are case-insensitive.
	Encoding string
	// ClockRate is the RTP clock rate in Hz; 0 when unparsable.
	ClockRate int
	// Channels is the channel count; 1 when not given.
	Channels int
}

// parseSDP parses a session description. partial reports that the body was
// cut short, so an unterminated last line is incomplete and ignored. It
// returns nil when b holds no SDP line at all.
func parseSDP(b []byte, partial bool) *SDP {
	s := &SDP{}
	seen := false
	cur := -1         // index of the current media section; -1 session level; -2 ignored section
	connSeen := false // the current level had a c= line (only the first counts)
	sessionDir := ""
	sessionFingerprint, sessionZRTP := false, false
	nformats, nmaps := 0, 0
	for i := 0; i < len(b); {
		line, next, terminated := nextLine(b, i)
		i = next
		if !terminated && partial {
			break
		}
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		val := trimSpace(line[2:])
		switch line[0] {
		case 'v':
			seen = true
		case 'o':
			seen = true
			if cur == -1 && s.Origin == "" {
				s.Origin = string(val)
			}
		case 's':
			seen = true
			if cur == -1 && s.SessionName == "" {
				s.SessionName = string(val)
			}
		case 'c':
			seen = true
			if connSeen || cur == -2 {
				continue
			}
			connSeen = true
			if cur == -1 {
				s.Conn = parseConnAddr(val)
			} else {
				s.Media[cur].Conn = parseConnAddr(val)
			}
		case 'm':
			seen = true
			connSeen = false
			if len(s.Media) >= MaxMedia {
				cur = -2
				continue
			}
			s.Media = append(s.Media, parseMediaLine(val, &nformats))
			cur = len(s.Media) - 1
		case 'a':
			if cur == -2 {
				continue
			}
			name, value, _ := bytes.Cut(val, []byte{':'})
			if dir := direction(name); dir != "" {
				if cur == -1 {
					if sessionDir == "" {
						sessionDir = dir
					}
				} else if s.Media[cur].Direction == "" {
					s.Media[cur].Direction = dir
				}
				continue
			}
			switch {
			case equalFold(name, "crypto"):
				if cur >= 0 {
					s.Media[cur].Crypto = true
				}
				continue
			case equalFold(name, "fingerprint"):
				if cur >= 0 {
					s.Media[cur].Fingerprint = true
				} else {
					sessionFingerprint = true
				}
				continue
			case equalFold(name, "zrtp-hash"):
				if cur >= 0 {
					s.Media[cur].ZRTPHash = true
				} else {
					sessionZRTP = true
				}
				continue
			}
			if cur < 0 || nmaps >= MaxRTPMaps || !equalFold(name, "rtpmap") {
				continue
			}
			md := &s.Media[cur]
			pt, enc, rest, ok := splitRTPMap(value)
			if !ok {
				continue
			}
			if _, dup := md.RTPMap[pt]; dup {
				continue // the first wins
			}
			if md.RTPMap == nil {
				md.RTPMap = make(map[uint8]RTPMap)
			}
			md.RTPMap[pt] = rtpMap(enc, rest)
			nmaps++
		}
	}
	if !seen {
		return nil
	}
	if sessionDir == "" {
		sessionDir = SendRecv
	}
	for k := range s.Media {
		md := &s.Media[k]
		if !md.Conn.IsValid() {
			md.Conn = s.Conn
		}
		if md.Direction == "" {
			md.Direction = sessionDir
		}
		md.Fingerprint = md.Fingerprint || sessionFingerprint
		md.ZRTPHash = md.ZRTPHash || sessionZRTP
	}
	return s
}

// parseMediaLine parses an m= value: "<media> <port>[/<n>] <proto> <fmt>...".
// *nformats counts the formats kept so far against MaxFormats.
func parseMediaLine(v []byte, nformats *int) Media {
	var md Media
	typ, rest := splitWord(v)
	port, rest := splitWord(rest)
	proto, rest := splitWord(rest)
	md.Type = internToken(typ)
	if slash := bytes.IndexByte(port, '/'); slash >= 0 {
		port = port[:slash]
	}
	if n, ok := parseUint(port, 65535); ok {
		md.Port = uint16(n)
	}
	md.Proto = internToken(proto)
	for len(rest) > 0 && *nformats < MaxFormats {
		var f []byte
		f, rest = splitWord(rest)
		if n, ok := parseUint(f, 127); ok {
			md.Formats = append(md.Formats, uint8(n))
			*nformats++
		}
	}
	return md
}

// splitRTPMap splits an rtpmap value, "<pt> <encoding>/<clock>[/<channels>]",
// into the payload type, the encoding name and what follows the first '/'.
func splitRTPMap(v []byte) (pt uint8, enc, rest []byte, ok bool) {
	ptb, rest := splitWord(v)
	n, ok := parseUint(ptb, 127)
	if !ok {
		return 0, nil, nil, false
	}
	enc, rest, _ = bytes.Cut(trimSpace(rest), []byte{'/'})
	enc = trimSpace(enc)
	if len(enc) == 0 {
		return 0, nil, nil, false
	}
	return uint8(n), enc, rest, true
}

// rtpMap builds an RTPMap from the encoding name and "<clock>[/<channels>]".
func rtpMap(enc, rest []byte) RTPMap {
	rm := RTPMap{Encoding: internToken(enc), Channels: 1}
	clock, chans, _ := bytes.Cut(rest, []byte{'/'})
	if n, ok := parseUint(trimSpace(clock), 1<<31-1); ok {
		rm.ClockRate = int(n)
	}
	if n, ok := parseUint(trimSpace(chans), 1<<16); ok && n > 0 {
		rm.Channels = int(n)
	}
	return rm
}

// direction returns the direction named by an attribute, or "".
func direction(name []byte) string {
	switch {
	case equalFold(name, SendRecv):
		return SendRecv
	case equalFold(name, SendOnly):
		return SendOnly
	case equalFold(name, RecvOnly):
		return RecvOnly
	case equalFold(name, Inactive):
		return Inactive
	}
	return ""
}

// internToken returns a shared string for common media types, protocols and
// encoding names, avoiding an allocation each.
func internToken(b []byte) string {
	switch string(b) {
	case "audio":
		return "audio"
	case "video":
		return "video"
	case "image":
		return "image"
	case "RTP/AVP":
		return "RTP/AVP"
	case "RTP/SAVP":
		return "RTP/SAVP"
	case "RTP/AVPF":
		return "RTP/AVPF"
	case "RTP/SAVPF":
		return "RTP/SAVPF"
	case "UDP/TLS/RTP/SAVP":
		return "UDP/TLS/RTP/SAVP"
	case "UDP/TLS/RTP/SAVPF":
		return "UDP/TLS/RTP/SAVPF"
	case "udptl":
		return "udptl"
	case "PCMU":
		return "PCMU"
	case "PCMA":
		return "PCMA"
	case "G722":
		return "G722"
	case "G729":
		return "G729"
	case "GSM":
		return "GSM"
	case "CN":
		return "CN"
	case "telephone-event":
		return "telephone-event"
	case "opus":
		return "opus"
	}
	return string(b)
}
