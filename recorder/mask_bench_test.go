package recorder

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkAnalyzeMasked is BenchmarkAnalyze with DTMF masking on: the
// capture goes through the hold buffer, and every audio packet through the
// masking ring.
func BenchmarkAnalyzeMasked(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 600, pt: 0})
	packets := 600 * 50 * 2
	var m bytes.Buffer
	b.SetBytes(int64(len(capture)))
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		hold := newHoldBuffer(io.Discard, nil)
		if _, err := analyze(io.TeeReader(bytes.NewReader(capture), hold), &m, analyzeOpts{inband: true, hold: hold, mask: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
