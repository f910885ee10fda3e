package recorder

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder/capture"
)

// dtmfCall is a synthetic PCMU call with DTMF: direction 0 (local) sends
// speech with in-band tones, direction 1 (remote) sends speech, a 1 kHz
// tone under two RFC 4733 events, and the events on their own SSRC.
type dtmfCall struct {
	pcap      []byte
	sent      [2][]byte // µ-law sent per direction, 8 kHz from the call's start
	inband    string    // digits sent in-band by direction 0
	toneSpans [][2]int  // their sample ranges in sent[0]
	events    string    // digits sent as RFC 4733 events by direction 1
	evSpans   [][2]int  // their sample ranges in sent[1]
}

const (
	dtmfLocal  = "10.0.0.1:16386"
	dtmfRemote = "10.0.0.2:16388"
)

// makeDTMFCall builds the call from the speech of the corpus's pcmu_bidir
// sources: 12 s, in-band digits (80 ms on, 80 ms off, -10 dBm0 per tone)
// from 4 s, events at 7 s and 8 s (120 ms each).
func makeDTMFCall(t testing.TB) *dtmfCall {
	dir := filepath.Join(testcorpus.Dir(t), "generated", "pcmu_bidir")
	a, _ := readRefWAV(t, filepath.Join(dir, "src_a.wav"))
	b, _ := readRefWAV(t, filepath.Join(dir, "src_b.wav"))
	const seconds = 12
	n := seconds * 8000
	pcm := [2][]int16{append([]int16(nil), a[:n]...), append([]int16(nil), b[:n]...)}
	c := &dtmfCall{inband: "4111111111111111", events: "59"}
	rng := rand.New(rand.NewPCG(7, 8))
	at := 4 * 8000
	for _, d := range []byte(c.inband) {
		tone := appendTone(t, nil, d, 80, -10, 2, rng)
		copy(pcm[0][at:], tone)
		clear(pcm[0][at+len(tone) : at+len(tone)+640])
		c.toneSpans = append(c.toneSpans, [2]int{at, at + len(tone)})
		at += len(tone) + 640
	}
	for i := range c.events {
		at := (7 + i) * 8000
		c.evSpans = append(c.evSpans, [2]int{at, at + 960})
		for k := range 960 { // a plain 1 kHz tone under the event
			pcm[1][at+k] = int16(8000 * sinTable(k))
		}
	}
	for d := range 2 {
		c.sent[d] = make([]byte, n)
		for i, v := range pcm[d] {
			c.sent[d][i] = g711.EncodeUlawFrame(v)
		}
	}
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	evSeq := uint16(500)
	for k := range seconds * 50 {
		t0 := addBidirPacket(w, start, k, 0, &c.sent)
		// Events of direction 1: one packet every 20 ms while a digit
		// lasts, the end packet three times.
		for i, sp := range c.evSpans {
			if 160*k < sp[0] || 160*k >= sp[1] {
				continue
			}
			dur := 160*k - sp[0] + 160
			end := 160*k+160 >= sp[1]
			reps := 1
			if end {
				reps = 3
			}
			for range reps {
				pl := []byte{c.events[i] - '0', 10, byte(dur >> 8), byte(dur)}
				if end {
					pl[1] |= 0x80
				}
				rtp := capturetest.RTP{PT: 101, Seq: evSeq, TS: uint32(sp[0]), SSRC: 0x2001, Payload: pl}
				evSeq++
				w.AddUDP(t0.Add(23*time.Millisecond), remote, local, rtp.Bytes())
			}
		}
	}
	c.pcap = w.Bytes()
	return c
}

// addBidirPacket adds packet k (20 ms: 160 ticks, 160 payload bytes) of
// both directions of sent, payload type pt, between dtmfLocal and
// dtmfRemote (SSRC 0x1000 + direction), and returns its time.
func addBidirPacket(w *capturetest.Pcap, start time.Time, k int, pt uint8, sent *[2][]byte) time.Time {
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	t0 := start.Add(time.Duration(k) * 20 * time.Millisecond)
	for d := range 2 {
		src, dst := local, remote
		if d == 1 {
			src, dst = remote, local
		}
		rtp := capturetest.RTP{PT: pt, Seq: uint16(k + 1000*d), TS: uint32(160 * k), SSRC: 0x1000 + uint32(d), Payload: sent[d][160*k : 160*k+160]}
		w.AddUDP(t0.Add(time.Duration(d)*3*time.Millisecond), src, dst, rtp.Bytes())
	}
	return t0
}

// enableMasking turns the appliance's DTMF masking on in arc and returns
// a recorder over it.
func enableMasking(t testing.TB, arc *archive.Archive) *Recorder {
	t.Helper()
	ctx := context.Background()
	s, _ := arc.Settings(ctx)
	s.MaskDTMF = true
	if err := arc.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkTonesMasked checks that every sample of the tones (spans of
// direction 0) is masked in both directions.
func checkTonesMasked(t testing.TB, tones [][2]int, masked *[2][]bool) {
	t.Helper()
	for _, sp := range tones {
		for p := sp[0]; p < sp[1]; p++ {
			if !masked[0][p] || !masked[1][p] {
				t.Fatalf("tone sample %d not masked in both directions", p)
			}
		}
	}
}

func sinTable(k int) float64 {
	// 1 kHz at 8 kHz: eight samples a period.
	return [8]float64{0, 0.7071, 1, 0.7071, 0, -0.7071, -1, -0.7071}[k%8]
}

// eachPacket calls fn with every packet of a capture and its datagram
// (nil when it does not decode), until fn returns false.
func eachPacket(t testing.TB, capt []byte, fn func(p capture.Packet, dg *capture.Datagram) bool) {
	t.Helper()
	rd, err := capture.NewReader(bytes.NewReader(capt))
	if err != nil {
		t.Fatal(err)
	}
	dec := capture.NewDecoder()
	for {
		p, err := rd.Next()
		if err != nil {
			return
		}
		dg, err := dec.Decode(p)
		if err != nil {
			dg = nil
		}
		if !fn(p, dg) {
			return
		}
	}
}

// storedPayloads reads a stored capture back: the µ-law of each
// direction's audio SSRC by its RTP timestamp, and the event codes of
// the event packets.
func storedPayloads(t testing.TB, capt []byte, n int) (audio [2][]byte, codes []byte) {
	t.Helper()
	for d := range 2 {
		audio[d] = make([]byte, n)
	}
	eachPacket(t, capt, func(_ capture.Packet, dg *capture.Datagram) bool {
		if dg == nil || len(dg.Payload) < 12 {
			return true
		}
		pl := dg.Payload
		switch ssrc := binary.BigEndian.Uint32(pl[8:12]); ssrc {
		case 0x1000, 0x1001:
			ts := int(binary.BigEndian.Uint32(pl[4:8]))
			copy(audio[ssrc-0x1000][ts:], pl[12:])
		case 0x2001:
			codes = append(codes, pl[12])
		}
		return true
	})
	return audio, codes
}

func decodeULaw(b []byte) []int16 {
	out := make([]int16, len(b))
	codec.PCMU.Decode(out, b)
	return out
}

// openMaskingRecorder is a recorder over a fresh archive whose appliance
// setting masks DTMF.
func openMaskingRecorder(t testing.TB, log *slog.Logger) (*Recorder, *archive.Archive) {
	t.Helper()
	arc := archivetest.OpenTest(t)
	r := enableMasking(t, arc)
	if log != nil {
		r.log = log
	}
	return r, arc
}

// logBuffer collects what the recorder logs, at every level.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// TestIngestMasksDTMF: with the appliance's mask setting on, the stored
// original holds no DTMF: the detector finds no tone in either direction
// of the stored capture nor in the WAV, the event packets lost their
// digit, the speech outside the masked spans is the speech sent, the
// masked spans lie around the tones, no digit is in the info document,
// the logs or the database file, and the seal verifies with the hash of
// the upload as received in the sealed info.
func TestIngestMasksDTMF(t *testing.T) {
	c := makeDTMFCall(t)
	log, logs := logBuffer()
	r, arc := openMaskingRecorder(t, log)
	ctx := context.Background()
	rec, err := r.Ingest(ctx, "masked.pcap", bytes.NewReader(c.pcap))
	if err != nil {
		t.Fatal(err)
	}
	stored := readBlob(t, arc, rec.ID, archive.BlobOriginal)
	if len(stored) != len(c.pcap) || bytes.Equal(stored, c.pcap) {
		t.Fatalf("stored %d bytes, upload %d; equal: %v", len(stored), len(c.pcap), bytes.Equal(stored, c.pcap))
	}
	n := len(c.sent[0])
	audio, codes := storedPayloads(t, stored, n)
	for d := range 2 {
		if got := detect(decodeULaw(audio[d])); len(got) != 0 {
			t.Errorf("direction %d: %d tones in the stored capture: %+v", d, len(got), got)
		}
	}
	if len(codes) == 0 {
		t.Fatal("no event packets stored")
	}
	for _, code := range codes {
		if code != recinfo.MaskedEventCode {
			t.Fatalf("stored event codes %v", codes)
		}
	}

	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	m := in.Masking
	if m == nil || len(m.Spans) == 0 {
		t.Fatalf("masking %+v", m)
	}
	if ok, err := r.MatchesReceived(rec, bytes.NewReader(c.pcap)); !ok || err != nil {
		t.Errorf("the upload does not match its received hash %s: %v", m.ReceivedHMAC, err)
	}
	if m.Missed != 0 || m.EventPackets != len(codes) {
		t.Errorf("missed %d, event packets %d of %d", m.Missed, m.EventPackets, len(codes))
	}
	for _, cl := range in.Result.Calls {
		if len(cl.DTMF) != 0 {
			t.Errorf("call keeps digits %+v", cl.DTMF)
		}
	}

	// Every masked sample lies near a tone (guard and a block of slack),
	// every tone sample is masked, and the rest is the speech sent.
	masked := [2][]bool{make([]bool, n), make([]bool, n)}
	for _, sp := range m.Spans {
		d := in.Result.Streams[sp.Stream].SSRC - 0x1000
		if d > 1 {
			t.Fatalf("span on stream %d", sp.Stream)
		}
		origin := in.Result.Streams[sp.Stream].FirstPos // the direction's first packet, timestamp 0
		for p := int(sp.StartPos - origin); p < int(sp.EndPos-origin); p++ {
			masked[d][p] = true
		}
	}
	near := func(spans [][2]int, p int) bool {
		for _, sp := range spans {
			if p >= sp[0]-toneGuard-toneBlock && p < sp[1]+toneGuard+toneBlock+maskGrace {
				return true
			}
		}
		return false
	}
	all := append(append([][2]int(nil), c.toneSpans...), c.evSpans...)
	for d := range 2 {
		var keptGot, keptSent []int16
		for p := range n {
			switch {
			case masked[d][p]:
				if !near(all, p) {
					t.Fatalf("direction %d: sample %d masked, far from any tone", d, p)
				}
				if audio[d][p] != 0xFF {
					t.Fatalf("direction %d: masked sample %d holds %#x", d, p, audio[d][p])
				}
			default:
				keptGot = append(keptGot, int16(audio[d][p]))
				keptSent = append(keptSent, int16(c.sent[d][p]))
			}
		}
		gotPCM, sentPCM := decodeULaw(bytesOf(keptGot)), decodeULaw(bytesOf(keptSent))
		if ncc := testcorpus.NCC(gotPCM, sentPCM); ncc < 0.999 {
			t.Errorf("direction %d: speech outside the masks ncc %.5f", d, ncc)
		}
	}
	checkTonesMasked(t, c.toneSpans, &masked)
	for _, sp := range c.evSpans {
		for p := sp[0]; p < sp[1]; p++ {
			if !masked[1][p] {
				t.Fatalf("event sample %d not masked", p)
			}
		}
	}

	wav, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ch, pcm := range readWAV(t, wav) {
		if got := detect(pcm); len(got) != 0 {
			t.Errorf("WAV channel %d: tones %+v", ch, got)
		}
	}

	res, err := arc.Verify(ctx, rec.ID, func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) })
	if err != nil || !res.Valid || !res.Sealed {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	if strings.Contains(logs.String(), c.inband[:6]) || strings.Contains(logs.String(), "digit") {
		t.Errorf("logs mention digits:\n%s", logs.String())
	}
	if strings.Contains(string(rec.Info), `"digit"`) {
		t.Error("info document keeps digits")
	}
	assertNotInDB(t, arc, c.inband, `"digit":"4"`, `"digit":"5"`, `"digit":"9"`)
}

func bytesOf(v []int16) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func readBlob(t testing.TB, arc *archive.Archive, id archive.ID, kind archive.BlobKind) []byte {
	t.Helper()
	bl, err := arc.OpenBlob(context.Background(), id, kind)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(bl, 0, bl.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNotInDB scans the raw bytes of the archive's database file for
// each of the strings.
func assertNotInDB(t *testing.T, arc *archive.Archive, strs ...string) {
	t.Helper()
	raw, err := os.ReadFile(arc.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range strs {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("database file holds %q", s)
		}
	}
}

// TestIngestInBandDigits: without masking the stored original is the
// upload, and the in-band digits are recorded like the RFC 4733 ones.
func TestIngestInBandDigits(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	rec, err := r.Ingest(ctx, "plain.pcap", bytes.NewReader(c.pcap))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, arc, rec.ID, archive.BlobOriginal), c.pcap) {
		t.Fatal("stored original differs from the upload")
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	if in.Masking != nil {
		t.Errorf("masking %+v", in.Masking)
	}
	var inband, events string
	for _, d := range in.Result.Calls[0].DTMF {
		if d.InBand {
			inband += d.Digit
			if d.DurationMs < 50 || d.DurationMs > 110 {
				t.Errorf("in-band digit %+v: duration", d)
			}
		} else {
			events += d.Digit
		}
	}
	if inband != c.inband || events != c.events {
		t.Errorf("in-band digits %q, events %q; want %q, %q", inband, events, c.inband, c.events)
	}
}

// smallDTMFCapture is a capture small enough to seed a fuzzer with (the
// fuzzer minimizes every input that finds new code with up to n² runs for
// n bytes, and does not fuzz meanwhile): 5 ms PCMU packets of one
// direction with a DTMF tone of 40 ms, an RFC 4733 digit in the other.
func smallDTMFCapture(t testing.TB) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	pcm := appendTone(t, make([]int16, 40), '5', 40, -10, 2, rng)
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	for k := range len(pcm) / 40 {
		pl := make([]byte, 40)
		for i := range pl {
			pl[i] = g711.EncodeUlawFrame(pcm[40*k+i])
		}
		at := start.Add(time.Duration(k) * 5 * time.Millisecond)
		w.AddUDP(at, local, remote, capturetest.RTP{PT: 0, Seq: uint16(k), TS: uint32(40 * k), SSRC: 1, Payload: pl}.Bytes())
		if k == 4 {
			ev := []byte{9, 10, 0, byte(40 * k)}
			w.AddUDP(at, remote, local, capturetest.RTP{PT: 101, Seq: uint16(k), TS: 80, SSRC: 2, Payload: ev}.Bytes())
		}
	}
	return w.Bytes()
}

// tinyEventCapture is the smallest capture that masking acts on: two
// PCMU packets of 8 bytes and an RFC 4733 digit over them.
func tinyEventCapture() []byte {
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	for k := range 2 {
		w.AddUDP(start.Add(time.Duration(k)*time.Millisecond), local, remote, capturetest.RTP{PT: 0, Seq: uint16(k), TS: uint32(8 * k), SSRC: 1, Payload: bytes.Repeat([]byte{0x55}, 8)}.Bytes())
	}
	w.AddUDP(start.Add(2*time.Millisecond), local, remote, capturetest.RTP{PT: 101, Seq: 9, TS: 0, SSRC: 1, Payload: []byte{1, 10, 0, 16}}.Bytes())
	return w.Bytes()
}

// FuzzMaskedAnalyze reads arbitrary bytes as a capture with masking on:
// it never panics, every byte of a capture reaches the store, in order,
// with only masked bytes changed to a silence or event-code value, the
// hold buffer holds back no more than its bound (lowered to 2 KiB here)
// and no stream's ring more than maxRing entries.
func FuzzMaskedAnalyze(f *testing.F) {
	f.Add(tinyEventCapture())
	f.Add(smallDTMFCapture(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 2 << 10
		var out bytes.Buffer
		hold := newHoldBuffer(&out, nil)
		inspect := func(d *Demux, off int64) {
			if held := off - hold.base; held > limit+holdSlack {
				t.Fatalf("at offset %d the hold buffer holds back %d bytes", off, held)
			}
			for _, s := range d.streams {
				if len(s.ring) > maxRing {
					t.Fatalf("stream %d: %d ring entries", s.idx, len(s.ring))
				}
			}
		}
		_, err := analyze(io.TeeReader(bytes.NewReader(in), hold), io.Discard, analyzeOpts{inband: true, hold: hold, mask: true, heldLimit: limit, inspect: inspect})
		if errors.Is(err, ErrNotCapture) {
			return // read no further; ingest refuses it before analysis
		}
		got := out.Bytes()
		if len(got) != len(in) {
			t.Fatalf("stored %d bytes of %d", len(got), len(in))
		}
		for i := range got {
			if got[i] != in[i] && got[i] != 0xFF && got[i] != 0xD5 && got[i] != 0 && !bytes.Contains(g729Silence[:], got[i:i+1]) {
				t.Fatalf("byte %d: %#x became %#x", i, in[i], got[i])
			}
		}
	})
}

// TestIngestMasksForOwner: with the appliance setting off, the uploads of
// a user whose own setting is on are masked, and only theirs; the file
// name may write the login in any case, as the recording is the user's
// all the same (archive.MayRead).
func TestIngestMasksForOwner(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	if err := arc.PutUser(ctx, archive.User{Login: "desk", Role: archive.RoleUser, MaskDTMF: true}, ""); err != nil {
		t.Fatal(err)
	}
	if err := arc.PutUser(ctx, archive.User{Login: "sales", Role: archive.RoleUser}, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user   string
		masked bool
	}{{"desk", true}, {"sales", false}, {"nobody", false}, {"Desk", true}, {"DESK", true}, {"Sales", false}} {
		name := "f9e5956e47d460010630009033302ab1-009033302ab1-11--" + tc.user + ".pcap"
		rec, err := r.Ingest(ctx, name, bytes.NewReader(c.pcap))
		if err != nil {
			t.Fatal(err)
		}
		if rec.User != tc.user {
			t.Fatalf("upload name %s gave user %q", name, rec.User)
		}
		in, err := recinfo.Parse(rec.Info)
		if err != nil {
			t.Fatal(err)
		}
		stored := readBlob(t, arc, rec.ID, archive.BlobOriginal)
		if got := in.Masking != nil && !bytes.Equal(stored, c.pcap); got != tc.masked {
			t.Errorf("user %s: masked %v, want %v", tc.user, got, tc.masked)
		}
		if got := len(in.Result.Calls[0].DTMF) == 0; got != tc.masked {
			t.Errorf("user %s: digits %+v", tc.user, in.Result.Calls[0].DTMF)
		}
	}
}

// failAfter reads n bytes of b and then fails, as a client that went away.
type failAfter struct {
	r *bytes.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	p = p[:min(len(p), f.n)]
	n, _ := f.r.Read(p)
	f.n -= n
	return n, nil
}

// TestIngestMasksCutOffUpload: an upload cut off in the middle of a tone
// is kept as interrupted with every byte that arrived, and what is stored
// of the tone is masked all the same.
func TestIngestMasksCutOffUpload(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openMaskingRecorder(t, nil)
	ctx := context.Background()
	// Cut 20 ms into the third tone: after the local side's packet that
	// starts it, before that tone is confirmed.
	cut := packetEnd(t, c.pcap, 0x1000, uint32(c.toneSpans[2][0]))
	rec, err := r.Ingest(ctx, "cut.pcap", &failAfter{r: bytes.NewReader(c.pcap), n: cut})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != archive.StateInterrupted || rec.OrigSize != int64(cut) {
		t.Fatalf("state %s, %d bytes stored of %d", rec.State, rec.OrigSize, cut)
	}
	stored := readBlob(t, arc, rec.ID, archive.BlobOriginal)
	audio, _ := storedPayloads(t, stored, len(c.sent[0]))
	if got := detect(decodeULaw(audio[0])); len(got) != 0 {
		t.Errorf("tones in the stored capture: %+v", got)
	}
	for p := c.toneSpans[2][0]; p < c.toneSpans[2][0]+100; p++ {
		if audio[0][p] != 0xFF {
			t.Fatalf("sample %d of the cut-off tone stored as %#x", p, audio[0][p])
		}
	}
	in, _ := recinfo.Parse(rec.Info)
	if in.Masking == nil || len(in.Masking.Spans) == 0 {
		t.Fatalf("masking %+v", in.Masking)
	}
}

// packetEnd returns the capture offset after the RTP packet of ssrc with
// timestamp ts.
func packetEnd(t *testing.T, capt []byte, ssrc, ts uint32) int {
	end := -1
	eachPacket(t, capt, func(p capture.Packet, dg *capture.Datagram) bool {
		if dg != nil && len(dg.Payload) >= 12 &&
			binary.BigEndian.Uint32(dg.Payload[8:]) == ssrc && binary.BigEndian.Uint32(dg.Payload[4:]) == ts {
			end = int(p.Off) + len(p.Data)
			return false
		}
		return true
	})
	if end < 0 {
		t.Fatalf("no packet of %#x at %d", ssrc, ts)
	}
	return end
}
