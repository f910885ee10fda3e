package codec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// g722MarkerTable encodes the marker tone with the test encoder, from the
// state G722MarkerSettle octets of 0xFF leave a decoder in after a reset.
func g722MarkerTable() []byte {
	d := NewG722Decoder()
	settle := make([]byte, G722MarkerSettle)
	for i := range settle {
		settle[i] = 0xFF
	}
	d.Decode(make([]int16, 2*len(settle)), settle)
	e := &g722Encoder{lo: d.lo, hi: d.hi}
	pcm := make([]int16, 2*len(G722Marker))
	for i := range pcm {
		pcm[i] = int16(math.Round(g722MarkerAmp * math.Sin(2*math.Pi*1000*float64(i)/16000)))
	}
	return e.encode(pcm)
}

// g722MarkerAmp is the marker's amplitude: about -20 dBm0, as the G.711
// marker.
const g722MarkerAmp = 2300

// TestG722MarkerTable: G722Marker is what its generator makes, and from
// whatever a stream held before (speech, noise), the settling octets and
// the marker decode to a 1 kHz tone within 3 dB of the marker's level (the
// zero-section coefficients the stream left still differ a little) that
// holds nearly all the power of the marker's decode.
func TestG722MarkerTable(t *testing.T) {
	want := g722MarkerTable()
	if string(want) != string(G722Marker[:]) {
		var b strings.Builder
		for i, c := range want {
			if i%16 == 0 {
				b.WriteString("\n\t")
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "0x%02x,", c)
		}
		t.Fatalf("G722Marker differs from its generator; it is:%s", b.String())
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 40 {
		d := NewG722Decoder()
		before := make([]byte, 400+trial*7)
		if trial%2 == 0 {
			before = newG722Encoder().encode(testSignal(2 * len(before)))
		} else {
			for i := range before {
				before[i] = byte(rng.IntN(256))
			}
		}
		d.Decode(make([]int16, 2*len(before)), before)
		var stream []byte
		for range G722MarkerSettle {
			stream = append(stream, 0xFF)
		}
		stream = append(stream, G722Marker[:]...)
		out := make([]int16, 2*len(stream))
		d.Decode(out, stream)
		// The tone, past its first 5 ms, against a 1 kHz sine fitted to it.
		tone := out[2*G722MarkerSettle+160:]
		var ss, sc, total float64
		for i, v := range tone {
			x := float64(v)
			w := 2 * math.Pi * 1000 * float64(i) / 16000
			ss += x * math.Sin(w)
			sc += x * math.Cos(w)
			total += x * x
		}
		n := float64(len(tone))
		amp := 2 * math.Hypot(ss, sc) / n
		share := amp * amp / 2 / (total / n)
		if share < 0.9 || amp < g722MarkerAmp*0.7 || amp > g722MarkerAmp*1.4 {
			t.Errorf("trial %d: 1 kHz amplitude %.0f, %.3f of the power", trial, amp, share)
		}
		if trial < 3 {
			t.Logf("trial %d: 1 kHz amplitude %.0f, %.3f of the power", trial, amp, share)
		}
	}
}
