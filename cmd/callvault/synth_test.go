package main

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/loadgen"
	"github.com/callvault/callvault/internal/pcapwrite"
)

// synthParty is one end of a synthesized call as SIP names it.
type synthParty struct{ display, user string }

// synthCall describes a synthetic two-way PCMU call with SIP signalling:
// an INVITE and a 200 OK with SDP, then RTP every 20 ms each way with
// speech-like audio (the parties take turns), local side on port 16386,
// remote on 16388, as a phone's Record-to-URL capture has them.
type synthCall struct {
	seconds  int
	start    time.Time
	callID   string
	from, to synthParty
	pt       uint8 // the audio's payload type: 0 PCMU, or 9 G.722 (any octets are G.722 codes)
}

// synthPcap writes the call as a pcap (Ethernet, IPv4, UDP).
func synthPcap(c synthCall) []byte {
	if c.start.IsZero() {
		c.start = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	}
	if c.callID == "" {
		c.callID = "synth-1@pbx.test"
	}
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	local, remote := netip.MustParseAddrPort("10.0.0.1:16386"), netip.MustParseAddrPort("10.0.0.2:16388")
	sig := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:5060"), netip.MustParseAddrPort("10.0.0.2:5060")}
	msg := func(first string, media netip.AddrPort) []byte {
		return capturetest.SIP{
			First: first, Via: "10.0.0.1:5060", Branch: "z9hG4bK-1", Domain: "pbx.test",
			From:   capturetest.Party{Display: c.from.display, User: c.from.user, Tag: "a1"},
			To:     capturetest.Party{Display: c.to.display, User: c.to.user},
			CallID: c.callID, CSeq: 1, Method: "INVITE", Contact: c.from.user + "@10.0.0.1",
			Body: capturetest.SDP(media, "RTP/AVP", c.pt, true, "a=sendrecv"),
		}.Bytes()
	}
	w.AddUDP(c.start, sig[0], sig[1], msg("INVITE sip:"+c.to.user+"@pbx.test SIP/2.0", local))
	w.AddUDP(c.start.Add(5*time.Millisecond), sig[1], sig[0], msg("SIP/2.0 200 OK", remote))

	pattern := loadgen.Pattern("pcmu")
	capturetest.Call{
		Seconds: c.seconds, Start: c.start.Add(20 * time.Millisecond), PT: c.pt,
		Local: local, Remote: remote, Skew: 2 * time.Millisecond,
		Seq: [2]uint16{1000, 3000}, TS: [2]uint32{0, 5555}, SSRC: [2]uint32{0x51000, 0x51001},
		Payload: func(d, k int, p []byte) {
			src := pattern[d]
			off := (k * 160) % len(src)
			copy(p, src[off:off+160])
		},
	}.AddTo(w)
	return w.Bytes()
}

// ingestSynth uploads a synthesized call as the recording of login and
// returns its id. guid is the call id of the upload name (32 hex digits).
func (d *daemon) ingestSynth(t *testing.T, guid, login string, c synthCall) string {
	t.Helper()
	body := synthPcap(c)
	name := guid + "-009033302ab1-11--" + login + ".pcap"
	resp, js := d.put(t, name, bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != 201 {
		t.Fatalf("PUT %s: %s %v", name, resp.Status, js)
	}
	id, _ := js["id"].(string)
	return id
}
