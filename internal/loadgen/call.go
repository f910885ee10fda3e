package loadgen

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/callvault/callvault/internal/pcapwrite"
)

// call is one synthetic call: a device streaming both directions of one
// RTP session in one upload.
type call struct {
	name      string
	startTick int64
	nextTick  int64 // next packet pair's tick
	sent      int   // packet pairs written
	ssrc      [2]uint32
	seq0      [2]uint16
	ts0       [2]uint32
	ipid      [2]uint16
	patOff    int
	pair      []byte // both records, rewritten each tick
	body      *pipe
	started   bool
	backpress int64

	// Set by the upload goroutine.
	status   int
	err      error
	respAt   time.Time
	resp     putResponse
	respBody string
}

type putResponse struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Bytes    int64  `json:"bytes"`
	Location string `json:"location"`
}

func (l *run) newCall(k int, tag byte, rng *rand.Rand) *call {
	var guid [16]byte
	_, _ = crand.Read(guid[:])
	mac := [6]byte{0x00, 0x90, 0x33, tag, byte(k >> 8), byte(k)}
	c := &call{
		name:   fmt.Sprintf("%x-%x-LG%06d--loaduser%d.pcap", guid, mac, k%1000000, k),
		patOff: rng.IntN(patternFrames),
		pair:   make([]byte, pairLen),
	}
	c.ssrc[0] = rng.Uint32()
	c.ssrc[1] = c.ssrc[0] ^ (1 + rng.Uint32N(math.MaxUint32))
	for d := range 2 {
		c.seq0[d] = uint16(rng.Uint32())
		c.ts0[d] = rng.Uint32()
		c.ipid[d] = uint16(rng.Uint32())
	}
	devIP := [4]byte{127, 10, byte(k >> 8), byte(k)}
	remIP := [4]byte{127, 20, byte(k >> 8), byte(k)}
	remMAC := [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	for d := range 2 {
		r := c.pair[d*recLen : (d+1)*recLen]
		h := pcapwrite.UDP4{
			SrcMAC: mac, DstMAC: remMAC, Src: devIP, Dst: remIP, SrcPort: PortDevice, DstPort: PortRemote,
			TOS:          0xb8, // DSCP EF
			DontFragment: true,
		}
		if d == 1 {
			h.SrcMAC, h.DstMAC, h.Src, h.Dst, h.SrcPort, h.DstPort = remMAC, mac, remIP, devIP, PortRemote, PortDevice
		}
		pcapwrite.Ethernet.PutRecordHeader(r, time.Time{}, frameLen, frameLen)
		h.Put(r[pcapwrite.RecordHeaderLen:])
		rtp := r[pcapwrite.RecordHeaderLen+pcapwrite.UDP4FrameLen:]
		rtp[0] = 0x80
		binary.BigEndian.PutUint32(rtp[8:], c.ssrc[d])
	}
	return c
}

// fill rewrites the pair buffer for packet n of both directions.
func (c *call) fill(n int, now time.Time, pt byte, pattern *[2][]byte) {
	f := (c.patOff + n) % patternFrames
	for d := range 2 {
		r := c.pair[d*recLen : (d+1)*recLen]
		pcapwrite.Ethernet.PutTime(r, now)
		ip := r[pcapwrite.RecordHeaderLen+pcapwrite.EthernetLen:]
		binary.BigEndian.PutUint16(ip[4:], c.ipid[d])
		c.ipid[d]++
		pcapwrite.PutIPv4Checksum(ip)
		rtp := ip[pcapwrite.IPv4Len+pcapwrite.UDPLen:]
		rtp[1] = pt
		if n == 0 {
			rtp[1] |= 0x80 // marker: start of talk spurt
		}
		binary.BigEndian.PutUint16(rtp[2:], c.seq0[d]+uint16(n))
		binary.BigEndian.PutUint32(rtp[4:], c.ts0[d]+uint32(n)*samples)
		copy(rtp[12:], pattern[d][f*samples:(f+1)*samples])
		pcapwrite.PutUDPChecksum(ip)
	}
}
