package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
)

// dialogPcap writes a capture of SIP dialogs and their RTP (Ethernet,
// IPv4, UDP) and remembers the payloads each direction of each call sent.
type dialogPcap struct {
	w    *capturetest.Pcap
	t0   time.Time
	sent map[string][]byte // "call/src" → payload bytes in order
}

func newDialogPcap() *dialogPcap {
	return &dialogPcap{
		w:    capturetest.NewPcapFormat(pcapwrite.Ethernet),
		t0:   time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		sent: map[string][]byte{},
	}
}

func (p *dialogPcap) packet(at time.Duration, src, dst string, payload []byte) {
	p.w.AddUDP(p.t0.Add(at), netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), payload)
}

// sip sends a SIP message between the two signalling addresses.
func (p *dialogPcap) sip(at time.Duration, request bool, first, callID string, cseq int, method, sdp string) {
	m := capturetest.SIP{
		First: first, Via: "10.0.0.1:5060", Branch: "z9hG4bK-" + fmt.Sprint(cseq), Domain: "pbx.test",
		From: capturetest.Party{Display: "Alice", User: "201", Tag: "a"}, To: capturetest.Party{Display: "Bob", User: "202", Tag: "b"},
		CallID: callID, CSeq: cseq, Method: method, Body: sdp,
	}
	src, dst := "10.0.0.1:5060", "10.0.0.2:5060"
	if !request {
		src, dst = dst, src
	}
	p.packet(at, src, dst, m.Bytes())
}

// call writes one dialog: INVITE and 200 with SDP announcing a and b,
// seconds of RTP each way every 20 ms, then BYE and 200. With size > 160
// the payloads are random bytes of that size (SRTP: encrypted audio and
// an authentication tag); otherwise G.711 bytes.
func (p *dialogPcap) call(at time.Duration, callID, a, b string, pt uint8, proto, attr string, seconds, size int) {
	sdp := func(addr string) string {
		var attrs []string
		if attr != "" {
			attrs = append(attrs, attr)
		}
		return capturetest.SDP(netip.MustParseAddrPort(addr), proto, pt, false, attrs...)
	}
	p.sip(at, true, "INVITE sip:202@pbx.test SIP/2.0", callID, 1, "INVITE", sdp(a))
	p.sip(at+5*time.Millisecond, false, "SIP/2.0 200 OK", callID, 1, "INVITE", sdp(b))
	rng := rand.New(rand.NewPCG(uint64(len(callID)), uint64(at)))
	pl := make([]byte, max(size, 160))
	for k := range seconds * 50 {
		for d, ends := range [2][2]string{{a, b}, {b, a}} {
			for i := range pl {
				pl[i] = byte(rng.Uint32())
				if size <= 160 && (pl[i]&0x7f == 0x7f) {
					pl[i] ^= 1 // no G.711 code that decodes to zero: audio is told from silence
				}
			}
			rtp := capturetest.RTP{
				PT: pt, Seq: uint16(1000*d + k), TS: uint32(160*k + 3333*d),
				SSRC:    0xCA110000, // one SSRC for everything, as SIPp does
				Payload: pl,
			}.Bytes()
			p.packet(at+20*time.Millisecond+time.Duration(k)*20*time.Millisecond+time.Duration(d)*3*time.Millisecond, ends[0], ends[1], rtp)
			key := callID + "/" + ends[0]
			p.sent[key] = append(p.sent[key], pl...)
		}
	}
	end := at + 40*time.Millisecond + time.Duration(seconds)*time.Second
	p.sip(end, true, "BYE sip:202@pbx.test SIP/2.0", callID, 2, "BYE", "")
	p.sip(end+2*time.Millisecond, false, "SIP/2.0 200 OK", callID, 2, "BYE", "")
}

// TestDecodeDialogsAndEncryption: `callvault decode` on a capture of two
// successive calls whose SDP announce the same address and port (A in
// PCMU, then B in PCMA) and of a third call whose SDP says SRTP. Each
// Call-ID is a call with its own WAV, A's and B's audio are the G.711
// decode of what was sent, and the SRTP call is marked encrypted and its
// WAV is silent.
func TestDecodeDialogsAndEncryption(t *testing.T) {
	const a, b = "10.0.0.1:4000", "10.0.0.2:5000"
	p := newDialogPcap()
	p.call(0, "call-A@pbx.test", a, b, 0, "RTP/AVP", "", 2, 160)
	p.call(3*time.Second, "call-B@pbx.test", a, b, 8, "RTP/AVP", "", 2, 160)
	p.call(6*time.Second, "call-S@pbx.test", "10.0.0.1:4010", "10.0.0.2:5010", 0, "RTP/SAVP",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", 2, 170)
	dir := t.TempDir()
	in := filepath.Join(dir, "calls.pcap")
	if err := os.WriteFile(in, p.w.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"decode", in, "-o", filepath.Join(dir, "out.wav"), "--json"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var res decodeJSON
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	var ids []string
	for _, c := range res.Calls {
		ids = append(ids, c.CallID)
	}
	if !slices.Equal(ids, []string{"call-A@pbx.test", "call-B@pbx.test", "call-S@pbx.test"}) {
		t.Fatalf("calls %q, want A, B and S", ids)
	}
	for i, c := range res.Calls {
		wantCodec, wantEnc := []string{"PCMU", "PCMA", "PCMU"}[i], i == 2
		if len(c.Streams) != 2 {
			t.Fatalf("call %s: streams %+v", c.CallID, c.Streams)
		}
		for _, s := range c.Streams {
			if s.Codec != wantCodec || s.Encrypted != wantEnc || s.Supported == wantEnc || s.Packets != 100 {
				t.Errorf("call %s: stream %+v, want %s encrypted=%v", c.CallID, s, wantCodec, wantEnc)
			}
			if wantEnc && s.Encryption != "srtp" {
				t.Errorf("call %s: encryption %q", c.CallID, s.Encryption)
			}
		}
		wav := readWAVFile(t, c.File)
		if wantEnc {
			for k, v := range wav {
				if v != 0 {
					t.Fatalf("encrypted call's WAV: sample %d is %d, want silence", k, v)
				}
			}
			continue
		}
		// Left: the first direction seen (a → b) from the first sample;
		// right: b → a, 3 ms (24 samples) later.
		for ch, src := range []string{a, b} {
			sent := p.sent[c.CallID+"/"+src]
			want := make([]int16, len(sent))
			if wantCodec == "PCMA" {
				codec.DecodeAlaw(want, sent)
			} else {
				codec.DecodeUlaw(want, sent)
			}
			got := make([]int16, 0, len(wav)/2)
			for k := ch; k < len(wav); k += 2 {
				got = append(got, wav[k])
			}
			off := 24 * ch
			if len(got) < off+len(want) || !slices.Equal(got[off:off+len(want)], want) {
				t.Errorf("call %s channel %d: audio is not the decode of what %s sent", c.CallID, ch, src)
			}
		}
	}
}

// readWAVFile returns the interleaved samples of a PCM16 WAV file.
func readWAVFile(t *testing.T, name string) []int16 {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" {
		t.Fatalf("%s: not a WAV", name)
	}
	out := make([]int16, (len(b)-44)/2)
	for k := range out {
		out[k] = int16(binary.LittleEndian.Uint16(b[44+2*k:]))
	}
	return out
}
