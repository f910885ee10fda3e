// Command bulkcapture writes one long two-way PCMU call as a pcap file,
// for the bulk ingest measurements in scripts/bench-pg-live.sh: every
// 20 ms one RTP packet from each side, carrying the load generator's
// speech pattern. Different seeds give different addresses, SSRCs and
// start times, so two files are two distinct calls.
//
//	go run ./scripts/bulkcapture -seconds 13000 -seed 1 >call.pcap
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/callvault/callvault/internal/loadgen"
	"github.com/callvault/callvault/internal/pcapwrite"
)

const samples = 160 // per 20 ms packet

func main() {
	seconds := flag.Int("seconds", 13000, "length of the call; 13,000 s is about 300 MB")
	seed := flag.Int("seed", 1, "1 to 250: varies addresses, SSRCs and the start time")
	flag.Parse()
	if *seconds <= 0 || *seed < 1 || *seed > 250 {
		fmt.Fprintln(os.Stderr, "bulkcapture: -seconds must be positive, -seed 1 to 250")
		os.Exit(2)
	}
	if err := write(os.Stdout, *seconds, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "bulkcapture:", err)
		os.Exit(1)
	}
}

func write(f *os.File, seconds, seed int) error {
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.Write(pcapwrite.Ethernet.FileHeader()); err != nil {
		return err
	}
	pattern := loadgen.Pattern("pcmu")
	local := netip.AddrFrom4([4]byte{10, 1, byte(seed), 1})
	remote := netip.AddrFrom4([4]byte{10, 2, byte(seed), 1})
	hdr := [2]pcapwrite.UDP4{
		{Src: local.As4(), Dst: remote.As4(), SrcPort: 16384, DstPort: 20000},
		{Src: remote.As4(), Dst: local.As4(), SrcPort: 20000, DstPort: 16384},
	}
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)
	frames := len(pattern[0]) / samples
	rtp := make([]byte, 12+samples)
	var frame, rec []byte
	for k := range seconds * 50 {
		for d := range 2 {
			rtp[0], rtp[1] = 0x80, 0 // version 2, PCMU
			binary.BigEndian.PutUint16(rtp[2:], uint16(1000*d+k))
			binary.BigEndian.PutUint32(rtp[4:], uint32(7777*d+samples*k))
			binary.BigEndian.PutUint32(rtp[8:], uint32(seed)<<8|uint32(d))
			f := k % frames
			copy(rtp[12:], pattern[d][f*samples:(f+1)*samples])
			h := hdr[d]
			h.ID = uint16(k)
			frame = h.AppendFrame(frame[:0], rtp)
			at := start.Add(time.Duration(k)*20*time.Millisecond + time.Duration(d)*3*time.Millisecond)
			rec = pcapwrite.Ethernet.AppendRecord(rec[:0], at, frame)
			if _, err := w.Write(rec); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}
