package codec

import (
	"strconv"
	"strings"
)

// Codec identifies an RTP audio payload format. The zero value is Unknown.
// New codecs are added at the end; the numeric values are not stored
// anywhere, but keep them stable anyway.
type Codec uint8

// Known codecs.
const (
	Unknown Codec = iota // not recognised; its payloads cannot be rendered
	PCMU                 // G.711 µ-law, RTP static payload type 0
	PCMA                 // G.711 A-law, RTP static payload type 8
	G722                 // G.722 at 64 kbit/s, RTP static payload type 9
	G729                 // G.729, G.729A, G.729B; RTP static payload type 18
)

// String returns the RTP encoding name of c ("PCMU", "PCMA", "G722", "G729"), "unknown"
// for Unknown, and "Codec(N)" for values this package does not know.
func (c Codec) String() string {
	switch c {
	case Unknown:
		return "unknown"
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	case G722:
		return "G722"
	case G729:
		return "G729"
	}
	return "Codec(" + strconv.Itoa(int(c)) + ")"
}

// ParseCodec returns the codec of an RTP encoding name as found in an SDP
// rtpmap attribute ("PCMU", "pcma", ...), compared case-insensitively after
// trimming spaces. Names it does not know give Unknown.
func ParseCodec(name string) Codec {
	name = strings.TrimSpace(name)
	switch {
	case strings.EqualFold(name, "PCMU"):
		return PCMU
	case strings.EqualFold(name, "PCMA"):
		return PCMA
	case strings.EqualFold(name, "G722"):
		return G722
	case strings.EqualFold(name, "G729"), strings.EqualFold(name, "G729A"):
		return G729
	}
	return Unknown
}

// CodecForPT returns the codec of a static RTP payload type (RFC 3551):
// PCMU for 0, PCMA for 8, G722 for 9, G729 for 18, Unknown for every other
// type, including the
// dynamic ones whose meaning only signalling can tell.
func CodecForPT(pt uint8) Codec {
	switch pt {
	case 0:
		return PCMU
	case 8:
		return PCMA
	case 9:
		return G722
	case 18:
		return G729
	}
	return Unknown
}

// Supported reports whether this package can decode c.
func (c Codec) Supported() bool {
	return c == PCMU || c == PCMA || c == G722 || c == G729
}

// SampleRate returns the sampling rate of c in Hz, or 0 if unknown.
func (c Codec) SampleRate() int {
	if c == G722 {
		return 16000
	}
	if c.Supported() {
		return 8000
	}
	return 0
}

// Decode decodes payload bytes of codec c from src into dst and returns the
// number of samples written. It writes nothing and returns 0 for codecs
// that are not Supported. For G.711 one byte is one sample; G.722 decodes
// two samples per byte with a decoder in its reset state (a stream is
// decoded with one G722Decoder fed in order); G.729 decodes whole frames
// (see G729Samples) with a decoder in its initial state (a stream is
// decoded with one G729Decoder fed in order).
func (c Codec) Decode(dst []int16, src []byte) int {
	switch c {
	case G729:
		return NewG729Decoder().Decode(dst, src)
	case PCMU:
		return DecodeUlaw(dst, src)
	case PCMA:
		return DecodeAlaw(dst, src)
	case G722:
		return NewG722Decoder().Decode(dst, src)
	}
	return 0
}
