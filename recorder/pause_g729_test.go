package recorder

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/g729enc"
	"github.com/callvault/callvault/recinfo"
)

// g729MarkerTable encodes the marker tone with the test encoder from the
// state g729MarkerSettle silence frames leave.
func g729MarkerTable() []byte {
	e := g729enc.New()
	for range g729MarkerSettle {
		e.Absorb(g729Silence[:])
	}
	pcm := make([]int16, g729MarkerTone*codec.G729FrameSamples)
	for i := range pcm {
		pcm[i] = int16(math.Round(2300 * math.Sin(2*math.Pi*1000*float64(i)/8000)))
	}
	return e.Encode(pcm)
}

// TestG729MarkerTable: g729Marker is what its generator makes (on amd64,
// where Go does not fuse floating-point operations, so the encoder's
// choices are the same on every machine), and from whatever a stream held
// before, the silence frames and the marker decode to a 1 kHz tone at the
// marker's level after its first 10 ms.
func TestG729MarkerTable(t *testing.T) {
	want := g729MarkerTable()
	var got []byte
	for _, f := range g729Marker {
		got = append(got, f[:]...)
	}
	if string(want) != string(got) {
		var b strings.Builder
		for i, c := range want {
			switch {
			case i%codec.G729FrameSize == 0:
				b.WriteString("\n\t{")
			default:
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "0x%02x,", c)
			if i%codec.G729FrameSize == codec.G729FrameSize-1 {
				b.WriteString("},")
			}
		}
		msg := "g729Marker differs from its generator; it is:" + b.String()
		if runtime.GOARCH == "amd64" {
			t.Fatal(msg)
		}
		t.Log(msg)
	}
	c := makeG729DTMFCall(t)
	for _, cut := range []int{0, 100, 333, 417, 555, 900} {
		for d := range 2 {
			stream := append([]byte(nil), c.sent[d][:cut*codec.G729FrameSize]...)
			for range g729MarkerSettle {
				stream = append(stream, g729Silence[:]...)
			}
			stream = append(stream, got...)
			pcm := decodeG729(stream)
			amp, share := tone1k(pcm[(cut+g729MarkerSettle+1)*codec.G729FrameSamples:], 8000)
			if share < 0.95 || amp < 1800 || amp > 2900 {
				t.Errorf("after %d frames of direction %d: 1 kHz amplitude %.0f, %.3f of the power", cut, d, amp, share)
			}
		}
	}
}

// TestSecurePauseG729: a G.729 call paused while digits are typed: the
// stored stream of each direction, decoded, holds the 1 kHz marker at both
// boundaries of the pause and silence between, no tone of the digits in
// the pause, and outside the pause the frames sent.
func TestSecurePauseG729(t *testing.T) {
	c := makeG729DTMFCall(t)
	r, arc := openTestRecorder(t)
	rec := ingestPaused(t, r, c.pcap, "f9e5956e47d460010630009033302ab4", 4500*time.Millisecond, 6*time.Second)
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	stored := storedG729(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), len(c.sent[0]))
	const f = codec.G729FrameSamples
	for d := range 2 {
		from, to, dtmf := pauseSpan(t, in, d, len(c.pcm[d]), 4500*time.Millisecond, 6*time.Second)
		for k := 0; k < len(stored[d])/codec.G729FrameSize; k++ {
			got := stored[d][k*codec.G729FrameSize : (k+1)*codec.G729FrameSize]
			if p := k * f; (p < from || p >= to) && string(got) != string(c.sent[d][k*codec.G729FrameSize:(k+1)*codec.G729FrameSize]) && (!dtmf[p] || string(got) != string(g729Silence[:])) {
				t.Fatalf("direction %d: frame %d outside the pause changed", d, k)
			}
		}

		pcm := decodeG729(stored[d])
		// The marker's tone at full level: 30 ms of each 80 ms marker,
		// which begins at one of the first two frames of the span (the
		// pause begins in its first payload) and ends at one of its
		// last two.
		best := func(lo, hi int) (amp, share float64) {
			for p := lo; p+2*f <= hi; p += f / 2 {
				if a, s := tone1k(pcm[p:p+2*f], 8000); s > share {
					amp, share = a, s
				}
			}
			return amp, share
		}
		for _, m := range [][2]int{{from, from + 10*f}, {to - 10*f, to}} {
			amp, share := best(m[0], m[1])
			t.Logf("direction %d: marker in [%d, %d): 1 kHz amplitude %.0f, %.3f of the power", d, m[0], m[1], amp, share)
			if share < 0.95 || amp < 1800 || amp > 2900 {
				t.Errorf("direction %d: marker in [%d, %d): 1 kHz amplitude %.0f, %.3f of the power", d, m[0], m[1], amp, share)
			}
		}
		// Between the markers, once the decoder has let go of the first:
		// silence.
		peak := 0
		for _, v := range pcm[from+(2+g729MarkerSettle+g729MarkerTone+3)*f : to-(2+g729MarkerSettle+g729MarkerTone)*f] {
			peak = max(peak, int(v), -int(v))
		}
		if peak > 10 {
			t.Errorf("direction %d: the pause decodes with peaks of %d", d, peak)
		}
		for _, e := range detectG729(pcm) {
			if e.end > int64(from) && e.start < int64(to) {
				t.Errorf("direction %d: tone %+v in the pause [%d, %d)", d, e, from, to)
			}
		}
	}
}
