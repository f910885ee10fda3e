package codec

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

func TestTmpG729(t *testing.T) {
	in, err := os.ReadFile("/tmp/g729ref/stream.g729")
	if err != nil {
		t.Skip(err)
	}
	ff, _ := os.ReadFile("/tmp/g729ref/ff.raw")
	d := NewG729Decoder()
	out := make([]int16, len(in)/10*80)
	n := d.Decode(out, in)
	b := make([]byte, 2*n)
	for i, v := range out[:n] {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	os.WriteFile("/tmp/g729ref/mine.raw", b, 0o644)
	var sxy, sxx, syy float64
	for i := 0; i < n && 2*i+1 < len(ff); i++ {
		x := float64(out[i])
		y := float64(int16(binary.LittleEndian.Uint16(ff[2*i:])))
		sxy += x * y
		sxx += x * x
		syy += y * y
	}
	t.Logf("n=%d ff=%d ncc=%.4f rms mine=%.1f ff=%.1f", n, len(ff)/2, sxy/math.Sqrt(sxx*syy), math.Sqrt(sxx/float64(n)), math.Sqrt(syy/float64(n)))
	for f := 0; f < n/80; f += 1 {
		var sxy, sxx, syy float64
		for i := f * 80; i < f*80+80; i++ {
			x := float64(out[i])
			y := float64(int16(binary.LittleEndian.Uint16(ff[2*i:])))
			sxy += x * y
			sxx += x * x
			syy += y * y
		}
		if f < 40 || f%10 == 0 {
			t.Logf("frame %d ncc=%.3f %.0f %.0f", f, sxy/math.Sqrt(sxx*syy), math.Sqrt(sxx/80), math.Sqrt(syy/80))
		}
	}
}
