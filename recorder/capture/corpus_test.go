package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/callvault/callvault/internal/testcorpus"
)

type corpusResult struct {
	packets, decErrs int
	udp              map[[2]netip.AddrPort]int
	err              error
}

func readCorpusFile(t *testing.T, path string) corpusResult {
	t.Helper()
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := corpusResult{udp: map[[2]netip.AddrPort]int{}}
	// Stream the file (as the product does) and check every packet and
	// piece against the bytes of the file.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, _, err := Decompress(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(src)
	if err != nil {
		res.err = err
		return res
	}
	d := NewDecoder()
	for {
		p, err := r.Next()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			return res
		}
		res.packets++
		if !bytes.Equal(p.Data, in[p.Off:p.Off+int64(len(p.Data))]) {
			t.Fatalf("%s: packet %d: data not at offset %d", path, res.packets, p.Off)
		}
		dg, err := d.Decode(p)
		if err != nil {
			res.decErrs++
			continue
		}
		if dg == nil {
			continue
		}
		checkPieces(t, in, dg)
		if dg.Proto == UDP {
			res.udp[[2]netip.AddrPort{dg.Src, dg.Dst}]++
		}
	}
}

func TestCorpus(t *testing.T) {
	dir := testcorpus.Dir(t)
	var files []string
	for _, sub := range []string{"generated", "real", "edge"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && (strings.Contains(e.Name(), ".pcap")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 20 {
		t.Fatalf("only %d captures under %s", len(files), dir)
	}
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		t.Run(rel, func(t *testing.T) {
			res := readCorpusFile(t, path)
			t.Logf("%d packets, %d UDP flows, %d undecodable, end: %v", res.packets, len(res.udp), res.decErrs, res.err)
			switch {
			case strings.HasPrefix(rel, filepath.Join("real", "corrupt")):
				// A clean error (or a clean short read): never a panic.
				if res.err != nil && !errors.Is(res.err, ErrCorrupt) && !errors.Is(res.err, ErrTruncated) && !errors.Is(res.err, ErrUnknownFormat) {
					t.Errorf("unclean error %v", res.err)
				}
			case rel == filepath.Join("edge", "truncated_mid_packet.pcap"):
				if res.packets != 871 || !errors.Is(res.err, ErrTruncated) {
					t.Errorf("%d packets, %v; want 871 then ErrTruncated", res.packets, res.err)
				}
			case rel == filepath.Join("edge", "empty.pcap"):
				if res.packets != 0 || res.err != nil {
					t.Errorf("%d packets, %v", res.packets, res.err)
				}
			default:
				if res.err != nil {
					t.Errorf("read error after %d packets: %v", res.packets, res.err)
				}
				if res.packets == 0 {
					t.Error("no packets")
				}
			}
			ref := filepath.Join(filepath.Dir(path), "ref", "streams.tsv")
			if _, err := os.Stat(ref); err != nil {
				return
			}
			for flow, want := range refStreams(t, ref) {
				if got := res.udp[flow]; got < want {
					t.Errorf("%v -> %v: %d UDP datagrams, ref/streams.tsv lists %d", flow[0], flow[1], got, want)
				}
			}
		})
	}
}

// refStreams sums the packets column of a ref/streams.tsv per
// (src, sport, dst, dport).
func refStreams(t *testing.T, path string) map[[2]netip.AddrPort]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[[2]netip.AddrPort]int{}
	sc := bufio.NewScanner(f)
	var col map[string]int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if col == nil {
			col = map[string]int{}
			for i, name := range fields {
				col[name] = i
			}
			for _, name := range []string{"src", "sport", "dst", "dport", "packets"} {
				if _, ok := col[name]; !ok {
					t.Fatalf("%s: no %s column", path, name)
				}
			}
			continue
		}
		get := func(name string) string {
			if i := col[name]; i < len(fields) {
				return fields[i]
			}
			return ""
		}
		ap := func(a, p string) netip.AddrPort {
			ap, err := netip.ParseAddrPort(fmt.Sprintf("%s:%s", a, p))
			if err != nil {
				ap, err = netip.ParseAddrPort(fmt.Sprintf("[%s]:%s", a, p))
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return ap
		}
		n, err := strconv.Atoi(get("packets"))
		if err != nil {
			t.Fatalf("%s: packets %q", path, get("packets"))
		}
		out[[2]netip.AddrPort{ap(get("src"), get("sport")), ap(get("dst"), get("dport"))}] += n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no streams", path)
	}
	return out
}
