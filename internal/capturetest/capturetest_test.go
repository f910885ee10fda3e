package capturetest_test

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/recorder/capture"
	"github.com/callvault/callvault/recorder/sip"
)

// A synthesized call reads back through recorder/capture as the SIP and
// RTP datagrams written, in order, with their addresses and times, and its
// SIP parses as the message described.
func TestCallReadsBack(t *testing.T) {
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	t0 := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	local, remote := netip.MustParseAddrPort("10.0.0.1:16386"), netip.MustParseAddrPort("10.0.0.2:16388")
	sigA, sigB := netip.MustParseAddrPort("10.0.0.1:5060"), netip.MustParseAddrPort("10.0.0.2:5060")
	invite := capturetest.SIP{
		First: "INVITE sip:202@pbx.test SIP/2.0", Via: "10.0.0.1:5060", Branch: "z9hG4bK-1", Domain: "pbx.test",
		From: capturetest.Party{Display: "Alice", User: "201", Tag: "a"}, To: capturetest.Party{Display: "Bob", User: "202"},
		CallID: "c1@pbx.test", CSeq: 1, Method: "INVITE", Contact: "201@10.0.0.1",
		Body: capturetest.SDP(local, "RTP/AVP", 8, true, "a=sendrecv"),
	}.Bytes()
	w.AddUDP(t0, sigA, sigB, invite)
	capturetest.Call{
		Seconds: 1, Start: t0.Add(20 * time.Millisecond), PT: 8, Local: local, Remote: remote, Skew: 2 * time.Millisecond,
		Seq: [2]uint16{10, 20}, TS: [2]uint32{100, 200}, SSRC: [2]uint32{0xa, 0xb},
		Payload: func(d, k int, p []byte) {
			for i := range p {
				p[i] = byte(d*100 + k + i)
			}
		},
	}.AddTo(w)

	m, err := sip.Parse(invite)
	if err != nil {
		t.Fatalf("INVITE does not parse: %v", err)
	}
	if !m.Request || m.Method != "INVITE" || m.CallID != "c1@pbx.test" || m.CSeq != 1 || m.CSeqMethod != "INVITE" ||
		m.From.Display != "Alice" || m.From.User != "201" || m.From.Tag != "a" || m.To.User != "202" || m.To.Tag != "" || m.SDP == nil {
		t.Errorf("INVITE parses as %+v", m)
	}

	r, err := capture.NewReader(bytes.NewReader(w.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	dec := capture.NewDecoder()
	var dgs []capture.Datagram
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dg, err := dec.Decode(p)
		if err != nil || dg == nil {
			t.Fatalf("packet %d: %v", len(dgs), err)
		}
		if p.Off != w.Offs[len(dgs)] {
			t.Errorf("packet %d at %d, written at %d", len(dgs), p.Off, w.Offs[len(dgs)])
		}
		c := *dg // the decoder reuses dg
		c.Payload = bytes.Clone(dg.Payload)
		dgs = append(dgs, c)
	}
	if len(dgs) != 1+2*50 {
		t.Fatalf("%d datagrams, want 101", len(dgs))
	}
	if dgs[0].Src != sigA || dgs[0].Dst != sigB || !dgs[0].Time.Equal(t0) || !bytes.Equal(dgs[0].Payload, invite) {
		t.Errorf("INVITE: %v→%v at %v %q", dgs[0].Src, dgs[0].Dst, dgs[0].Time, dgs[0].Payload)
	}
	for k := range 50 {
		for d := range 2 {
			dg := dgs[1+2*k+d]
			src, dst := local, remote
			if d == 1 {
				src, dst = remote, local
			}
			at := t0.Add(20*time.Millisecond + time.Duration(k)*20*time.Millisecond + time.Duration(d)*2*time.Millisecond)
			want := capturetest.RTP{PT: 8, Seq: uint16(10*(d+1) + k), TS: uint32(100*(d+1) + 160*k), SSRC: uint32(0xa + d), Payload: make([]byte, 160)}
			for i := range want.Payload {
				want.Payload[i] = byte(d*100 + k + i)
			}
			if dg.Src != src || dg.Dst != dst || !dg.Time.Equal(at) || !bytes.Equal(dg.Payload, want.Bytes()) {
				t.Fatalf("packet %d of direction %d: %v→%v at %v, payload %x", k, d, dg.Src, dg.Dst, dg.Time, dg.Payload[:12])
			}
		}
	}
}

// capturetest is test support: no package of the product imports it.
func TestOnlyTestsImport(t *testing.T) {
	args := []string{"list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/callvault/callvault/..."}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	const self = "github.com/callvault/callvault/internal/capturetest"
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list names %d packages:\n%s", len(lines), out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if imp == self {
				t.Errorf("%s imports %s, which is for tests only", f[0], self)
			}
		}
	}
}
