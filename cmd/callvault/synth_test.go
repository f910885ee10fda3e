package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

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
}

// synthPcap writes the call as a pcap (Ethernet, IPv4, UDP).
func synthPcap(c synthCall) []byte {
	if c.start.IsZero() {
		c.start = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	}
	if c.callID == "" {
		c.callID = "synth-1@pbx.test"
	}
	var b bytes.Buffer
	b.Write(pcapwrite.Ethernet.FileHeader())
	local, remote := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	const lport, rport = 16386, 16388
	sdp := func(ip [4]byte, port int) string {
		return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %d.%d.%d.%d\r\ns=-\r\nc=IN IP4 %d.%d.%d.%d\r\nt=0 0\r\n"+
			"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
			ip[0], ip[1], ip[2], ip[3], ip[0], ip[1], ip[2], ip[3], port)
	}
	hdrs := func(first string, body string) []byte {
		msg := first + "\r\n" +
			"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n" +
			fmt.Sprintf("From: \"%s\" <sip:%s@pbx.test>;tag=a1\r\n", c.from.display, c.from.user) +
			fmt.Sprintf("To: \"%s\" <sip:%s@pbx.test>\r\n", c.to.display, c.to.user) +
			"Call-ID: " + c.callID + "\r\nCSeq: 1 INVITE\r\nContact: <sip:" + c.from.user + "@10.0.0.1>\r\n" +
			"Content-Type: application/sdp\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
		return []byte(msg)
	}
	write := func(ts time.Time, src, dst [4]byte, sport, dport int, payload []byte) {
		writeUDPRecord(&b, ts, src, dst, uint16(sport), uint16(dport), payload)
	}
	write(c.start, local, remote, 5060, 5060, hdrs("INVITE sip:"+c.to.user+"@pbx.test SIP/2.0", sdp(local, lport)))
	write(c.start.Add(5*time.Millisecond), remote, local, 5060, 5060, hdrs("SIP/2.0 200 OK", sdp(remote, rport)))

	pattern := loadgen.Pattern("pcmu")
	t0 := c.start.Add(20 * time.Millisecond)
	rtp := make([]byte, 12+160)
	for k := 0; k < c.seconds*50; k++ {
		for d := range 2 {
			ts := t0.Add(time.Duration(k)*20*time.Millisecond + time.Duration(d)*2*time.Millisecond)
			rtp[0], rtp[1] = 0x80, 0
			binary.BigEndian.PutUint16(rtp[2:], uint16(1000+2000*d+k))
			binary.BigEndian.PutUint32(rtp[4:], uint32(160*k+5555*d))
			binary.BigEndian.PutUint32(rtp[8:], uint32(0x51000+d))
			src := pattern[d]
			off := (k * 160) % len(src)
			copy(rtp[12:], src[off:off+160])
			if d == 0 {
				write(ts, local, remote, lport, rport, rtp)
			} else {
				write(ts, remote, local, rport, lport, rtp)
			}
		}
	}
	return b.Bytes()
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

// writeUDPRecord appends to b a pcap record (Ethernet, IPv4, UDP) of
// payload sent at ts from src:sport to dst:dport.
func writeUDPRecord(b *bytes.Buffer, ts time.Time, src, dst [4]byte, sport, dport uint16, payload []byte) {
	pkt := make([]byte, 14+20+8+len(payload))
	binary.BigEndian.PutUint16(pkt[12:], 0x0800)
	ip := pkt[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^pcapwrite.Fold(pcapwrite.Sum(0, ip[:20])))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
	binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(pkt)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(pkt)))
	b.Write(rec)
	b.Write(pkt)
}
