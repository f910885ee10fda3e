package pcapwrite_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/recorder/capture"
)

// What pcapwrite writes, recorder/capture reads back, and its checksums
// verify.
func TestRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 30, 0, 123456000, time.UTC)
	h := pcapwrite.UDP4{
		SrcMAC: [6]byte{2, 0, 0, 0, 0, 1}, DstMAC: [6]byte{2, 0, 0, 0, 0, 2},
		Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}, SrcPort: 16386, DstPort: 16388,
		TOS: 0xb8, DontFragment: true, ID: 0x1234,
	}
	payloads := [][]byte{[]byte("odd"), bytes.Repeat([]byte{0xa5}, 172)}
	for _, f := range []pcapwrite.Format{pcapwrite.Ethernet, {BigEndian: true, Nano: true, LinkType: pcapwrite.LinkEthernet, SnapLen: 9000}} {
		file := f.FileHeader()
		for i, p := range payloads {
			frame := h.AppendFrame(nil, p)
			ip := frame[pcapwrite.EthernetLen:]
			if pcapwrite.Fold(pcapwrite.Sum(0, ip[:pcapwrite.IPv4Len])) != 0xffff {
				t.Errorf("payload %d: IPv4 header checksum does not verify", i)
			}
			pcapwrite.PutUDPChecksum(ip)
			udp := ip[pcapwrite.IPv4Len:]
			if binary.BigEndian.Uint16(udp[6:]) == 0 ||
				pcapwrite.Fold(pcapwrite.Sum(0, ip[12:20])+17+uint32(len(udp))+pcapwrite.Sum(0, udp)) != 0xffff {
				t.Errorf("payload %d: UDP checksum does not verify", i)
			}
			file = f.AppendRecord(file, t0.Add(time.Duration(i)*time.Millisecond), frame)
		}
		r, err := capture.NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		d := capture.NewDecoder()
		for i, want := range payloads {
			p, err := r.Next()
			if err != nil {
				t.Fatalf("%+v: packet %d: %v", f, i, err)
			}
			dg, err := d.Decode(p)
			if err != nil || dg == nil {
				t.Fatalf("%+v: packet %d: %v", f, i, err)
			}
			if !dg.Time.Equal(t0.Add(time.Duration(i)*time.Millisecond)) || dg.Proto != capture.UDP ||
				dg.Src != netip.MustParseAddrPort("10.0.0.1:16386") || dg.Dst != netip.MustParseAddrPort("10.0.0.2:16388") ||
				!bytes.Equal(dg.Payload, want) {
				t.Errorf("%+v: packet %d: %v %v %v→%v %q", f, i, dg.Time, dg.Proto, dg.Src, dg.Dst, dg.Payload)
			}
		}
	}
}
