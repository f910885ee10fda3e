package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recorder/capture"
)

// The shared capture corpus (../shared/testdata/pcap from the module root)
// with its reference decodes. See its README for what each capture is.

type placed struct {
	e codec.Entry
	n uint32
}

type corpusRun struct {
	data    []byte // the decompressed capture: entry offsets point into it
	entries []placed
	res     *Result
	err     error // the reader's final error, io.EOF for a clean end
}

func runDemux(t testing.TB, path string) *corpusRun {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dr, _, err := capture.Decompress(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(dr)
	if err != nil {
		t.Fatal(err)
	}
	run := &corpusRun{data: data}
	dm := NewDemux(DemuxOptions{Emit: func(e codec.Entry, n uint32) { run.entries = append(run.entries, placed{e, n}) }})
	rd, err := capture.NewReader(bytes.NewReader(data))
	if err != nil {
		run.err = err
		run.res = dm.Result()
		return run
	}
	dec := capture.NewDecoder()
	for {
		p, err := rd.Next()
		if err != nil {
			run.err = err
			break
		}
		dg, err := dec.Decode(p)
		if err != nil || dg == nil {
			continue
		}
		dm.Datagram(dg)
	}
	run.res = dm.Result()
	for _, pe := range run.entries {
		if pe.e.Off+int64(pe.e.Len) > int64(len(data)) {
			t.Fatalf("entry %+v points past the capture (%d bytes)", pe.e, len(data))
		}
	}
	return run
}

// ulaw and alaw are the ITU G.711 expansions, written out here so the test
// does not depend on the codec package's tables.
func ulaw(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func alaw(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	switch seg := int(a&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// render decodes the entries of the given streams onto [start, end): at
// 8 kHz, or at 16 kHz for G.722 (one decoder fed the entries in map order).
func (r *corpusRun) render(t testing.TB, streams []int, start, end uint32) []int16 {
	t.Helper()
	if s := r.res.Streams[streams[0]]; s.Codec == "G722" {
		out := make([]int16, 2*(end-start))
		d := codec.NewG722Decoder()
		var pcm []int16
		for _, pe := range r.entries {
			if !slices.Contains(streams, int(pe.e.Stream)) {
				continue
			}
			pcm = slices.Grow(pcm[:0], 2*int(pe.e.Len))[:2*int(pe.e.Len)]
			d.Decode(pcm, r.data[pe.e.Off:pe.e.Off+int64(pe.e.Len)])
			for i, v := range pcm {
				p := 2*(int64(pe.e.Pos)-int64(start)) + int64(i)
				if p >= 0 && p < int64(len(out)) {
					out[p] = v
				}
			}
		}
		return out
	}
	out := make([]int16, end-start)
	for _, pe := range r.entries {
		if !slices.Contains(streams, int(pe.e.Stream)) {
			continue
		}
		s := r.res.Streams[pe.e.Stream]
		var dec func(byte) int16
		switch s.Codec {
		case "PCMU":
			dec = ulaw
		case "PCMA":
			dec = alaw
		default:
			t.Fatalf("render of stream %d with codec %s", pe.e.Stream, s.Codec)
		}
		for i, b := range r.data[pe.e.Off : pe.e.Off+int64(pe.e.Len)] {
			p := int64(pe.e.Pos) + int64(i) - int64(start)
			if p >= 0 && p < int64(len(out)) {
				out[p] = dec(b)
			}
		}
	}
	return out
}

func readRefWAV(t testing.TB, path string) (samples []int16, rate int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8 : min(len(b), p+8+n)]
		switch id {
		case "fmt ":
			if binary.LittleEndian.Uint16(body[0:]) != 1 || binary.LittleEndian.Uint16(body[2:]) != 1 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				t.Fatalf("%s: not mono PCM16", path)
			}
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			samples = make([]int16, len(body)/2)
			for i := range samples {
				samples[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return samples, rate
		}
		p += 8 + n + n%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil, 0
}

// findStreams returns the indexes of the result's streams of one
// direction and SSRC.
func (r *corpusRun) findStreams(src, dst string, ssrc uint32) []int {
	var out []int
	for _, s := range r.res.Streams {
		if s.Src == src && s.Dst == dst && s.SSRC == ssrc {
			out = append(out, s.Index)
		}
	}
	return out
}

func digits(ds []DTMF) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Digit)
	}
	return b.String()
}

func logResult(t *testing.T, r *Result) {
	t.Helper()
	for _, s := range r.Streams {
		t.Logf("stream %d call %d ch %d %s->%s ssrc %08x pt %d %s sup=%v pk=%d lost=%d dup=%d reord=%d cn=%d ev=%d jit=%.2fms pos=[%d,%d) others=%v dtmf=%q",
			s.Index, s.Call, s.Channel, s.Src, s.Dst, s.SSRC, s.PayloadType, s.Codec, s.Supported, s.Packets, s.Lost, s.Duplicates,
			s.Reordered, s.CNPackets, s.EventPackets, s.JitterMs, s.FirstPos, s.EndPos, s.OtherPayloadTypes, digits(s.DTMF))
	}
	for _, c := range r.Calls {
		t.Logf("call %d id=%q from=%+v to=%+v streams=%v window=[%d,%d) %d ms dtmf=%q", c.Index, c.CallID, c.From, c.To, c.Streams, c.StartPos, c.EndPos, c.DurationMs, digits(c.DTMF))
	}
	t.Logf("packets=%d rtcp=%d sip=%d other=%d warnings=%q", r.Packets, r.RTCPPackets, r.SIPMessages, r.OtherPackets, r.Warnings)
}

// TestCorpusGenerated compares every generated case with its reference
// decode: per-stream packets, duplicates and loss, duration, and the
// decoded samples bit for bit where a reference WAV exists.
func TestCorpusGenerated(t *testing.T) {
	root := testcorpus.Dir(t)
	cases, err := os.ReadDir(filepath.Join(root, "generated"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		dir := filepath.Join(root, "generated", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			if c.Name() == "pcmu_long" && testing.Short() {
				t.Skip("long capture skipped in -short mode")
			}
			capName := "capture.pcap"
			if _, err := os.Stat(filepath.Join(dir, capName)); err != nil {
				capName = "capture.pcapng"
			}
			run := runDemux(t, filepath.Join(dir, capName))
			if !errors.Is(run.err, io.EOF) {
				t.Errorf("reader ended with %v", run.err)
			}
			logResult(t, run.res)
			refs := testcorpus.Streams(t, dir)
			if got := len(run.res.Streams); got != len(refs) {
				t.Errorf("%d streams, reference has %d", got, len(refs))
			}
			for _, ref := range refs {
				idx := run.findStreams(ref.Src, ref.Dst, ref.SSRC)
				if len(idx) != 1 {
					t.Errorf("stream %s (%s->%s %08x): found %d streams", ref.Num, ref.Src, ref.Dst, ref.SSRC, len(idx))
					continue
				}
				s := run.res.Streams[idx[0]]
				if s.Packets != ref.Packets || s.Duplicates != ref.Dups || s.Lost != ref.Lost {
					t.Errorf("stream %s: packets/duplicates/lost %d/%d/%d, reference %d/%d/%d", ref.Num, s.Packets, s.Duplicates, s.Lost, ref.Packets, ref.Dups, ref.Lost)
				}
				durMs := float64(s.EndPos-s.FirstPos) / 8
				if d := math.Abs(durMs - ref.DurationS*1000); d > 20 {
					t.Errorf("stream %s: duration %.1f ms, reference %.1f ms", ref.Num, durMs, ref.DurationS*1000)
				}
				if !strings.EqualFold(s.Codec, ref.Codec) {
					t.Errorf("stream %s: codec %s, reference %s", ref.Num, s.Codec, ref.Codec)
				}
				if s.Supported != (ref.Codec == "PCMU" || ref.Codec == "PCMA" || ref.Codec == "G722") {
					t.Errorf("stream %s: supported=%v for %s", ref.Num, s.Supported, ref.Codec)
				}
				if ref.Lost == 0 && ref.Dups == 0 {
					// A clean stream's entries tile its span: every payload
					// byte once, in sequence, no gap, no overlap.
					var mine []placed
					total := int64(0)
					for _, pe := range run.entries {
						if int(pe.e.Stream) == s.Index {
							mine = append(mine, pe)
							total += int64(pe.n)
						}
					}
					slices.SortFunc(mine, func(a, b placed) int { return int(a.e.Pos) - int(b.e.Pos) })
					gaps := 0
					for i := 1; i < len(mine); i++ {
						if mine[i].e.Pos != mine[i-1].e.Pos+mine[i-1].n {
							gaps++
						}
					}
					pos := mine
					if gaps != 0 || total != int64(s.EndPos-s.FirstPos) || len(pos) != ref.Packets {
						t.Errorf("stream %s: %d entries covering %d samples of [%d,%d), %d gaps or overlaps", ref.Num, len(pos), total, s.FirstPos, s.EndPos, gaps)
					}
				}
				if !s.Supported {
					continue
				}
				got := run.render(t, idx, s.FirstPos, s.EndPos)
				wavPath := filepath.Join(dir, "ref", "stream_"+ref.Num+".wav")
				if _, err := os.Stat(wavPath); err == nil {
					want, _ := readRefWAV(t, wavPath)
					n := min(len(got), len(want))
					diff := 0
					for i := range n {
						if got[i] != want[i] {
							diff++
						}
					}
					t.Logf("stream %s vs %s: %d samples (ref %d), %d differ", ref.Num, filepath.Base(wavPath), len(got), len(want), diff)
					if diff != 0 || abs(len(got)-len(want)) > 160 {
						t.Errorf("stream %s: %d of %d samples differ from the reference decode (lengths %d, %d)", ref.Num, diff, n, len(got), len(want))
					}
				} else {
					checkAgainstSource(t, dir, ref, s, got)
				}
			}
		})
	}
}

// checkAgainstSource compares a decode with the audio its sender was
// given (for cases whose reference ships no decode).
func checkAgainstSource(t *testing.T, dir string, ref testcorpus.Stream, s Stream, got []int16) {
	b, err := os.ReadFile(filepath.Join(dir, "ref", "check_vs_source.tsv"))
	if err != nil {
		t.Logf("stream %s: no reference decode and no source check", ref.Num)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 || f[0] != ref.Num {
			continue
		}
		src, _ := readRefWAV(t, filepath.Join(dir, f[1]))
		v := testcorpus.NCC(got, src)
		t.Logf("stream %s vs %s: ncc %.6f (%d samples, source %d)", ref.Num, f[1], v, len(got), len(src))
		if v < 0.9995 {
			t.Errorf("stream %s: ncc %.6f against %s", ref.Num, v, f[1])
		}
		if len(got) != len(src) {
			t.Errorf("stream %s: %d samples, source has %d", ref.Num, len(got), len(src))
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestCorpusSemantics checks what the corpus README says a correct
// recorder finds in particular captures.
func TestCorpusSemantics(t *testing.T) {
	root := testcorpus.Dir(t)
	gen := func(name string) string { return filepath.Join(root, "generated", name) }
	real := func(name string) string { return filepath.Join(root, "real", name) }

	t.Run("pcmu_bidir_tiles", func(t *testing.T) {
		run := runDemux(t, filepath.Join(gen("pcmu_bidir"), "capture.pcap"))
		for _, s := range run.res.Streams {
			var cover []int
			for _, pe := range run.entries {
				if int(pe.e.Stream) == s.Index {
					cover = append(cover, int(pe.e.Pos))
				}
			}
			slices.Sort(cover)
			for i := 1; i < len(cover); i++ {
				if cover[i]-cover[i-1] != 160 {
					t.Fatalf("stream %d: entries at %d and %d", s.Index, cover[i-1], cover[i])
				}
			}
		}
		if len(run.res.Calls) != 1 || run.res.Streams[0].Channel != 0 || run.res.Streams[1].Channel != 1 {
			t.Errorf("calls %d, channels %d %d", len(run.res.Calls), run.res.Streams[0].Channel, run.res.Streams[1].Channel)
		}
	})

	t.Run("pcmu_ssrc_change", func(t *testing.T) {
		dir := gen("pcmu_ssrc_change")
		run := runDemux(t, filepath.Join(dir, "capture.pcap"))
		logResult(t, run.res)
		var ab []int
		for _, s := range run.res.Streams {
			if s.Src == "127.160.94.245:13892" {
				ab = append(ab, s.Index)
			}
		}
		if len(ab) != 2 {
			t.Fatalf("A->B has %d streams, want 2", len(ab))
		}
		s0, s1 := run.res.Streams[ab[0]], run.res.Streams[ab[1]]
		if s0.SSRC == s1.SSRC || s0.Call != s1.Call || s0.Channel != s1.Channel {
			t.Errorf("A->B streams: %+v / %+v", s0, s1)
		}
		if len(run.res.Calls) != 1 {
			t.Errorf("%d calls", len(run.res.Calls))
		}
		// The direction as one, each SSRC placed by arrival time: the
		// reference rounds the second SSRC's start differently, so allow
		// each stream a lag of one sample, then require exact samples.
		want, _ := readRefWAV(t, filepath.Join(dir, "ref", "dir_02.wav"))
		start := min(s0.FirstPos, s1.FirstPos)
		for _, si := range ab {
			s := run.res.Streams[si]
			got := run.render(t, []int{si}, s.FirstPos, s.EndPos)
			off := int(s.FirstPos - start)
			best, bestLag := -1, 0
			for lag := -1; lag <= 1; lag++ {
				if off+lag < 0 || off+lag+len(got) > len(want)+1 {
					continue
				}
				diff := 0
				for i, v := range got {
					if j := off + lag + i; j >= len(want) || want[j] != v {
						diff++
					}
				}
				if best < 0 || diff < best {
					best, bestLag = diff, lag
				}
			}
			t.Logf("A->B stream %d (%d samples at %d) vs dir_02.wav: %d differ at lag %d", si, len(got), off, best, bestLag)
			if best != 0 {
				t.Errorf("A->B stream %d: %d samples differ from dir_02.wav (best lag %d)", si, best, bestLag)
			}
		}
	})

	t.Run("pcapng_two_calls", func(t *testing.T) {
		run := runDemux(t, filepath.Join(gen("pcapng_two_calls"), "capture.pcapng"))
		if len(run.res.Calls) != 2 {
			t.Fatalf("%d calls, want 2", len(run.res.Calls))
		}
		for _, c := range run.res.Calls {
			if len(c.Streams) != 2 {
				t.Errorf("call %d has streams %v", c.Index, c.Streams)
			}
		}
		if !run.res.Calls[0].Start.Before(run.res.Calls[1].Start) {
			t.Errorf("calls not ordered by start")
		}
	})

	t.Run("sip_pcmu", func(t *testing.T) {
		run := runDemux(t, filepath.Join(gen("sip_pcmu"), "capture.pcap"))
		logResult(t, run.res)
		if len(run.res.Calls) != 1 {
			t.Fatalf("%d calls", len(run.res.Calls))
		}
		c := run.res.Calls[0]
		if c.CallID != "1-1453@127.2.208.35" || c.From != (Party{Name: "mallory", Number: "mallory"}) || c.To != (Party{Number: "566"}) {
			t.Errorf("call from SIP: id %q from %+v to %+v", c.CallID, c.From, c.To)
		}
		if run.res.SIPMessages < 6 {
			t.Errorf("%d SIP messages", run.res.SIPMessages)
		}
	})

	// G.722 and G.729 are decoded: TestG722Generated, TestG722Real and
	// TestG729AgainstFFmpeg.
	t.Run("unsupported_codecs", func(t *testing.T) {
		for _, p := range []string{real("rtpproxy_dlt_null_gsm_ipv4_ipv6.pcap")} {
			run := runDemux(t, p)
			if len(run.res.Streams) == 0 {
				t.Errorf("%s: no streams", filepath.Base(p))
			}
			for _, s := range run.res.Streams {
				if s.Supported {
					t.Errorf("%s: stream %d (%s) marked supported", filepath.Base(p), s.Index, s.Codec)
				}
			}
			t.Logf("%s: %d streams, codecs %v, %d calls", filepath.Base(p), len(run.res.Streams), codecs(run.res), len(run.res.Calls))
		}
	})

	dtmfCases := []struct {
		file string
		want string
	}{
		{"rtpproxy_catch_dtmf.pcapng", "123456789*0#554321#"},
		{"projectrtp_ivr_dtmf_issue_9_1_9_9_3.pcap", "91993311112"},
		{"projectrtp_dtmf3presses.pcap", "111"},
		{"projectrtp_dtmfcapture1.pcap", "2"},
		{"projectrtp_sinora.pcap", "22222"},
	}
	for _, dc := range dtmfCases {
		t.Run(dc.file, func(t *testing.T) {
			run := runDemux(t, real(dc.file))
			logResult(t, run.res)
			var all []DTMF
			for _, c := range run.res.Calls {
				all = append(all, c.DTMF...)
			}
			if got, want := digits(all), strings.ReplaceAll(dc.want, " ", ""); got != want {
				t.Errorf("digits %q, want %q", got, want)
			}
		})
	}

	t.Run("sipp_dtmf_2833", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(root, "real", "sipp_dtmf_2833", "*.pcap"))
		if err != nil || len(files) != 12 {
			t.Fatalf("%d files, %v", len(files), err)
		}
		for _, f := range files {
			want := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "dtmf_2833_"), ".pcap")
			if sym, ok := map[string]string{"star": "*", "pound": "#"}[want]; ok {
				want = sym
			}
			run := runDemux(t, f)
			if len(run.res.Calls) != 1 || digits(run.res.Calls[0].DTMF) != want {
				logResult(t, run.res)
				t.Errorf("%s: want one call with digit %q", filepath.Base(f), want)
				continue
			}
			d := run.res.Calls[0].DTMF[0]
			if d.DurationMs <= 0 || d.StartMs < 0 {
				t.Errorf("%s: digit %+v", filepath.Base(f), d)
			}
			if len(run.entries) != 0 {
				t.Errorf("%s: %d map entries for an events-only capture", filepath.Base(f), len(run.entries))
			}
		}
	})

	t.Run("fax_nse_not_dtmf", func(t *testing.T) {
		run := runDemux(t, real("ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"))
		logResult(t, run.res)
		for _, s := range run.res.Streams {
			for _, d := range s.DTMF {
				t.Errorf("stream %d (PT %d, others %v): digit %+v", s.Index, s.PayloadType, s.OtherPayloadTypes, d)
			}
		}
		if len(run.res.Calls) != 1 || run.res.Calls[0].CallID == "" {
			t.Errorf("want one call with a SIP Call-ID")
		}
	})

	t.Run("all_files_no_panic", func(t *testing.T) {
		err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			if !strings.Contains(p, ".pcap") {
				return nil
			}
			if strings.Contains(p, "pcmu_long") && testing.Short() {
				return nil
			}
			run := runDemux(t, p)
			rel, _ := filepath.Rel(root, p)
			t.Logf("%s: end %v; %d streams, %d calls, %d entries, codecs %v, digits %q", rel, run.err, len(run.res.Streams), len(run.res.Calls), len(run.entries), codecs(run.res), allDigits(run.res))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func codecs(r *Result) []string {
	var out []string
	for _, s := range r.Streams {
		out = append(out, fmt.Sprintf("%s/%d", s.Codec, s.PayloadType))
	}
	return out
}

func allDigits(r *Result) string {
	var all []DTMF
	for _, c := range r.Calls {
		all = append(all, c.DTMF...)
	}
	return digits(all)
}
