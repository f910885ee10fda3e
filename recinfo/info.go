package recinfo

import (
	"encoding/json"
	"fmt"

	"github.com/callvault/callvault/codec"
)

// Version is the version of the Info document written now.
const Version = 1

// Info is the recorder's description of one recording, stored (encrypted)
// with it by the archive: where the name came from, what the capture held,
// and the placement map's index. It is all a reader needs to turn the
// original and the map back into audio.
type Info struct {
	Version   int          `json:"version"`
	Name      FileName     `json:"name"`
	Result    *Result      `json:"result"`
	Spans     []codec.Span `json:"spans"`
	Entries   int          `json:"entries"`
	Truncated bool         `json:"truncated,omitempty"`
	Damage    string       `json:"damage,omitempty"`
	// Masking is set when ingest overwrote parts of the capture before
	// storing it (DTMF masking, secure pause): the stored original is the
	// upload with these masks applied.
	Masking *Masking `json:"masking,omitempty"`
}

// Masking says what ingest overwrote in the capture before it was stored.
// Audio payload bytes of the spans were replaced by the codec's silence
// (0xFF for PCMU, 0xD5 for PCMA, 0xFF for G.722; for G.729, whose whole
// payloads in a span are replaced, a frame that decodes to silence; zero
// bytes for other codecs, also replaced whole), and the event code of every RFC 4733
// DTMF event packet by MaskedEventCode. The info document, and so the
// seal, keeps a keyed hash of the capture as received, before masking.
type Masking struct {
	// ReceivedHMAC is the hex HMAC-SHA-256, under a key derived from the
	// archive's master key, of the SHA-256 of the capture as it was
	// received (after gzip decompression), before any byte was
	// overwritten (recordings stored before 2026-12-07: of the capture
	// itself). Only
	// the appliance can check an upload against it: an unkeyed hash would
	// let whoever reads this document try the few possible digits of each
	// masked tone against it offline.
	ReceivedHMAC string     `json:"receivedHmacSha256"`
	Spans        []MaskSpan `json:"spans"`
	// EventPackets counts telephone-event packets whose digit was
	// overwritten.
	EventPackets int `json:"eventPackets"`
	// Missed counts payload bytes that should have been overwritten but
	// had already been stored (an IP-fragmented packet); 0 normally.
	Missed int `json:"missed,omitempty"`
}

// MaskedEventCode is what the event code of a masked RFC 4733 DTMF event
// packet is overwritten with: not a digit (0-15) nor any assigned event.
const MaskedEventCode = 255

// MaskSpan is a stretch of one stream whose payload bytes were overwritten.
type MaskSpan struct {
	Stream   int    `json:"stream"`   // index into Result.Streams
	StartPos uint32 `json:"startPos"` // timeline samples (8 kHz): [StartPos, EndPos)
	EndPos   uint32 `json:"endPos"`
	Reason   string `json:"reason"` // MaskDTMF or MaskPause
}

// Reasons of a MaskSpan.
const (
	MaskDTMF  = "dtmf"
	MaskPause = "pause"
)

// FileName is what an upload's name tells about the recording.
type FileName struct {
	GUID   string `json:"guid,omitempty"`   // conference id: the call's join key, lowercase hex
	MAC    string `json:"mac,omitempty"`    // recording device's MAC address, lowercase hex
	Serial string `json:"serial,omitempty"` // per-device recording counter
	User   string `json:"user,omitempty"`   // registration name of the recorded user
}

// Parse decodes a stored Info document. It refuses JSON that does not
// parse and versions it does not know; a document without a result gets
// an empty one.
func Parse(b []byte) (*Info, error) {
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("recinfo: bad recording info: %w", err)
	}
	if in.Version < 1 || in.Version > Version {
		return nil, fmt.Errorf("recinfo: recording info version %d not supported", in.Version)
	}
	if in.Result == nil {
		in.Result = &Result{}
	}
	in.Result.markDecodable()
	return &in, nil
}

// ParseLenient decodes what parses of a stored Info document and never
// fails: a document that is not JSON gives an empty Info, a field of the
// wrong type stays zero, and the version is not checked. The result is
// never nil. Pages and API views read documents this way, so a damaged
// document still shows the recording.
func ParseLenient(b []byte) *Info {
	var in Info
	if len(b) > 0 {
		_ = json.Unmarshal(b, &in)
	}
	if in.Result == nil {
		in.Result = &Result{}
	}
	in.Result.markDecodable()
	return &in
}

// markDecodable sets Supported on the unencrypted streams whose codec this
// build decodes: a document written before the product decoded a codec
// (G.722, G.729) says Supported false for its streams, but Layout renders them
// now, so pages and views must not call them unplayable. The stored
// document is not changed.
func (r *Result) markDecodable() {
	for i := range r.Streams {
		s := &r.Streams[i]
		if !s.Supported && !s.Encrypted && codec.ParseCodec(s.Codec).Supported() {
			s.Supported = true
		}
	}
}
