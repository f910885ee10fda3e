package testcorpus

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Stream is one row of a generated case's ref/streams.tsv: an RTP stream
// the case's capture holds, as the reference decoder saw it.
type Stream struct {
	Num                 string
	Src, Dst            string // ip:port
	SSRC                uint32
	Codec               string
	Packets, Dups, Lost int
	DurationS           float64
	WAV                 string // the reference decode, relative to ref/
	FirstTime           string
}

// Streams reads dir/ref/streams.tsv, the reference streams of the case in
// dir; a file that cannot be read or a malformed number ends the test.
func Streams(tb testing.TB, dir string) []Stream {
	tb.Helper()
	path := filepath.Join(dir, "ref", "streams.tsv")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cols []string
	var out []Stream
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = fields
			continue
		}
		m := map[string]string{}
		for i, c := range cols {
			if i < len(fields) {
				m[c] = fields[i]
			}
		}
		atoi := func(k string) int {
			n, err := strconv.Atoi(m[k])
			if err != nil {
				tb.Fatalf("%s: %s=%q: %v", path, k, m[k], err)
			}
			return n
		}
		ssrc, err := strconv.ParseUint(strings.TrimPrefix(m["ssrc"], "0x"), 16, 32)
		if err != nil {
			tb.Fatal(err)
		}
		dur, _ := strconv.ParseFloat(m["duration_s"], 64)
		out = append(out, Stream{
			Num: m["stream"], Src: m["src"] + ":" + m["sport"], Dst: m["dst"] + ":" + m["dport"],
			SSRC: uint32(ssrc), Codec: m["codec"], Packets: atoi("packets"), Dups: atoi("duplicates"),
			Lost: atoi("lost_by_seq"), DurationS: dur, WAV: m["wav"], FirstTime: m["first_time"],
		})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
