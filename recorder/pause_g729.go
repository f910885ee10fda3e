package recorder

import (
	"math"

	"github.com/callvault/callvault/codec"
)

// The marker of a secure pause in a G.729 stream. A G.729 frame decodes
// according to the state the frames before left, but g729Silence frames
// bring any decoder to one state: after four of them its LSF predictor
// holds only their codebook vector and its gain predictor only their
// gains, and what the excitation, synthesis and post-filter memories kept
// of the audio before has faded below one part in a million (the pitch
// gain is 0.12 a subframe). From that state g729Marker decodes to a 1 kHz
// tone at about -20 dBm0, reaching its level within 10 ms. A marker is
// g729MarkerSettle silence frames then the g729MarkerTone frames of
// g729Marker (80 ms), at the start of the pause (from the first frame
// that starts in it) and at its end (up to the frame that ends it).

const (
	g729MarkerSettle = 4
	g729MarkerTone   = 4
)

// g729Marker holds the marker tone's frames, made by encoding the tone
// from that state (TestG729MarkerTable makes them again).
var g729Marker = [g729MarkerTone][codec.G729FrameSize]byte{
	{0xaf, 0xc7, 0x84, 0x09, 0x02, 0x35, 0xab, 0xd4, 0x0d, 0x2d},
	{0xc5, 0xc7, 0xcf, 0xb8, 0x84, 0xa0, 0xf0, 0xc1, 0x38, 0x5e},
	{0xe3, 0xc2, 0xc3, 0xf3, 0xf6, 0xf3, 0x4f, 0x15, 0xbb, 0x3a},
	{0xc6, 0xcb, 0x76, 0x7c, 0xb5, 0x79, 0xd1, 0xd5, 0x5f, 0x58},
}

// g729PauseFrame returns the frame that the G.729 frame starting at
// position pos holds in pause w.
func g729PauseFrame(w maskWin, pos int64) *[codec.G729FrameSize]byte {
	const f = codec.G729FrameSamples
	if w.to != math.MaxInt64 {
		// Frames counted back from the one that holds the pause's end.
		if j := floorDiv(w.to-1-pos, f); j >= 0 && j < g729MarkerSettle+g729MarkerTone {
			if j < g729MarkerTone {
				return &g729Marker[g729MarkerTone-1-j]
			}
			return &g729Silence
		}
	}
	// Frames counted from the first that starts in the pause.
	if k := -floorDiv(w.from-pos, f); k >= g729MarkerSettle && k < g729MarkerSettle+g729MarkerTone {
		return &g729Marker[k-g729MarkerSettle]
	}
	return &g729Silence
}

// floorDiv is a/b rounded down, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
