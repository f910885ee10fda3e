package capturetest

import (
	"net/netip"
	"time"
)

// Call is the media of a two-way G.711 call as a phone's Record-to-URL
// capture has it: every 20 ms one RTP packet of 160 samples from the local
// side, then one from the remote side Skew later.
type Call struct {
	Seconds       int
	Start         time.Time // of the first packet
	PT            uint8
	Local, Remote netip.AddrPort // direction 0 is sent by Local
	Skew          time.Duration
	Seq           [2]uint16 // of the first packet, per direction
	TS            [2]uint32
	SSRC          [2]uint32
	Payload       func(d, k int, p []byte) // fills packet k of direction d
}

// AddTo writes the call's packets to w.
func (c Call) AddTo(w *Pcap) {
	pl := make([]byte, 160)
	for k := range c.Seconds * 50 {
		for d := range 2 {
			at := c.Start.Add(time.Duration(k)*20*time.Millisecond + time.Duration(d)*c.Skew)
			c.Payload(d, k, pl)
			rtp := RTP{PT: c.PT, Seq: c.Seq[d] + uint16(k), TS: c.TS[d] + uint32(160*k), SSRC: c.SSRC[d], Payload: pl}
			src, dst := c.Local, c.Remote
			if d == 1 {
				src, dst = dst, src
			}
			w.AddUDP(at, src, dst, rtp.Bytes())
		}
	}
}
