package recinfo

import (
	"time"

	"github.com/callvault/callvault/codec"
)

// Result is what the recorder's demux found in a capture: the RTP streams
// with their statistics, the calls they form and the counts of everything
// else. It is stored in a recording's Info and is what `callvault decode`
// reports, so its JSON form is part of the product: fields are only added.
//
// Positions (FirstPos, EndPos, StartPos) are in samples of an 8 kHz clock
// counted from Origin, the same clock the placement map's codec.Entry.Pos
// uses.
type Result struct {
	// Origin is the capture time of position 0.
	Origin  time.Time `json:"origin"`
	Streams []Stream  `json:"streams"`
	Calls   []Call    `json:"calls"`
	// Packets counts the RTP packets taken into streams (duplicates
	// included), RTCPPackets the RTCP packets, SIPMessages the SIP
	// messages parsed, and OtherPackets every other datagram: non-RTP
	// traffic, RTP-looking datagrams of flows that never proved to be
	// RTP, and packets dropped because a bound was reached.
	Packets      int `json:"packets"`
	RTCPPackets  int `json:"rtcpPackets"`
	SIPMessages  int `json:"sipMessages"`
	OtherPackets int `json:"otherPackets"`
	// Warnings are short human-readable notes about what could not be
	// placed or was cut off by a bound.
	Warnings []string `json:"warnings,omitempty"`
}

// Stream is one RTP stream: one direction (source to destination), one
// SSRC and one audio payload type. A sender that changes SSRC or audio
// codec starts a new stream on the same direction and channel.
type Stream struct {
	Index   int    `json:"index"`   // codec.Entry.Stream of its map entries
	Call    int    `json:"call"`    // index into Result.Calls
	Channel int    `json:"channel"` // 0 = left (remote), 1 = right (local)
	SSRC    uint32 `json:"ssrc"`
	// PayloadType is the stream's audio payload type; for a stream that
	// carried no audio (telephone-events only) the first type it carried.
	PayloadType uint8 `json:"payloadType"`
	// Codec is the RTP encoding name ("PCMU", "PCMA", "G722", "G729",
	// "telephone-event", ...) or "unknown".
	Codec string `json:"codec"`
	// ClockRate is the RTP timestamp clock of the payload type in Hz.
	ClockRate int `json:"clockRate"`
	// Supported reports whether the product can render the audio (PCMU,
	// PCMA, G722 or G729, not encrypted). Unsupported audio still has map entries
	// pointing at the original payloads.
	Supported bool `json:"supported"`
	// Encrypted reports that the payloads are encrypted (SRTP): the
	// original keeps them, they render as silence, and Supported is false.
	// Encryption says how the keys were agreed, as far as the capture
	// tells: "srtp" (SDES a=crypto, or a secure profile alone, or an SRTP
	// authentication tag on the packets), "dtls-srtp" or "zrtp".
	Encrypted  bool   `json:"encrypted"`
	Encryption string `json:"encryption,omitempty"`
	Src        string `json:"src"` // "ip:port"
	Dst        string `json:"dst"`
	// Packets counts every RTP packet of the stream, duplicates, comfort
	// noise and telephone-events included. Lost is the number of sequence
	// numbers never received; Duplicates were dropped; Reordered arrived
	// after a higher sequence number and were still placed.
	Packets      int `json:"packets"`
	Lost         int `json:"lost"`
	Duplicates   int `json:"duplicates"`
	Reordered    int `json:"reordered"`
	CNPackets    int `json:"cnPackets"`
	EventPackets int `json:"eventPackets"`
	// JitterMs is the RFC 3550 interarrival jitter at the end of the
	// stream, in milliseconds.
	JitterMs float64 `json:"jitterMs"`
	// FirstPos and EndPos bound the stream's placement: [FirstPos, EndPos).
	FirstPos  uint32    `json:"firstPos"`
	EndPos    uint32    `json:"endPos"`
	FirstTime time.Time `json:"firstTime"`
	LastTime  time.Time `json:"lastTime"`
	// OtherPayloadTypes lists the payload types seen on the stream besides
	// PayloadType (telephone-event, comfort noise, ...).
	OtherPayloadTypes []int  `json:"otherPayloadTypes,omitempty"`
	DTMF              []DTMF `json:"dtmf,omitempty"`
}

// DTMF is one digit: an RFC 4733 (RFC 2833) telephone-event, or a tone
// pair found in the audio (InBand).
type DTMF struct {
	Digit      string `json:"digit"`      // "0"-"9", "*", "#", "A"-"D"
	StartMs    int64  `json:"startMs"`    // from the call's start (Call.StartPos)
	DurationMs int64  `json:"durationMs"` // as the sender reported it, or as detected
	Stream     int    `json:"stream"`     // index into Result.Streams
	InBand     bool   `json:"inBand,omitempty"`
}

// Call is a set of streams that belong together: the two directions of a
// media session, or every stream whose addresses the same SIP Call-ID's
// SDP announced while that dialog lasted (from its SDP to its BYE).
type Call struct {
	Index  int    `json:"index"`
	CallID string `json:"callId,omitempty"`
	From   Party  `json:"from"`
	To     Party  `json:"to"`
	// StartPos and EndPos are the call's window on the timeline: the
	// first and last sample over all its streams' placements.
	StartPos   uint32    `json:"startPos"`
	EndPos     uint32    `json:"endPos"`
	Start      time.Time `json:"start"` // capture time of StartPos
	DurationMs int64     `json:"durationMs"`
	Streams    []int     `json:"streams"`
	DTMF       []DTMF    `json:"dtmf,omitempty"`
}

// Party is one end of a call as SIP named it.
type Party struct {
	Name   string `json:"name,omitempty"`   // display name
	Number string `json:"number,omitempty"` // user part of the URI
}

// String is the party as pages show it: "Name (Number)", the name alone
// when the number is missing or the same, else the number.
func (p Party) String() string {
	switch {
	case p.Name != "" && p.Number != "" && p.Name != p.Number:
		return p.Name + " (" + p.Number + ")"
	case p.Name != "":
		return p.Name
	}
	return p.Number
}

// Layout returns how to render call number call of r: that call's streams
// with their codec and channel, every other stream with Channel -1, and
// the call's window [StartPos, EndPos). spans is the placement map's index
// (codec.MapIndex.Spans) and is passed through. A call index out of range
// gives a layout that renders nothing.
func (r *Result) Layout(call int, spans []codec.Span) codec.Layout {
	l := codec.Layout{Streams: make([]codec.StreamLayout, len(r.Streams)), Spans: spans}
	for i, s := range r.Streams {
		l.Streams[i] = codec.StreamLayout{Codec: codec.ParseCodec(s.Codec), Channel: -1}
		if s.Encrypted {
			// Encrypted payloads decoded as G.711 are noise: silence.
			l.Streams[i].Codec = codec.Unknown
		}
		if s.Call == call && (s.Channel == 0 || s.Channel == 1) {
			l.Streams[i].Channel = int8(s.Channel)
		}
	}
	if call >= 0 && call < len(r.Calls) {
		l.Start, l.End = r.Calls[call].StartPos, r.Calls[call].EndPos
	}
	return l
}
