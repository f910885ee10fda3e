package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recinfo"
)

// apiStream is a stream as the API reports it: the recording-info stream.
type apiStream = recinfo.Stream

type apiRecording struct {
	ID         string      `json:"id"`
	State      string      `json:"state"`
	DurationMs int64       `json:"durationMs"`
	Size       int64       `json:"size"`
	SHA256     string      `json:"sha256"`
	Streams    []apiStream `json:"streams"`
	CallList   []struct {
		CallID  string `json:"callId"`
		Streams []int  `json:"streams"`
		From    struct{ Name, Number string }
		To      struct{ Name, Number string }
	} `json:"callList"`
	Seal *struct {
		Seq uint64 `json:"seq"`
	} `json:"seal"`
}

// callStart is the first sample position of call c: where its WAV starts.
func (r *apiRecording) callStart(c int) uint32 {
	start := uint32(math.MaxUint32)
	for _, si := range r.CallList[c].Streams {
		start = min(start, r.Streams[si].FirstPos)
	}
	return start
}

func (r *apiRecording) streamFor(src, dst string, ssrc uint32) *apiStream {
	for i := range r.Streams {
		s := &r.Streams[i]
		if s.Src == src && s.Dst == dst && s.SSRC == ssrc {
			return s
		}
	}
	return nil
}

// TestIngestCorpus PUTs every capture of the shared corpus and checks what
// comes back against the reference decodes.
func TestIngestCorpus(t *testing.T) {
	corpus := corpusDir(t)
	d := startDaemon(t, "")
	var files []string
	for _, pat := range []string{"generated/*/capture.pcap*", "real/*.pcap*", "real/*/*.pcap*", "edge/*.pcap"} {
		m, _ := filepath.Glob(filepath.Join(corpus, pat))
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("corpus looks incomplete: %d captures", len(files))
	}
	for i, f := range files {
		rel, _ := filepath.Rel(corpus, f)
		t.Run(rel, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%032x-009033302ab1-%d--user%d%s", i+1, i, i, filepath.Ext(f))
			var body io.Reader = bytes.NewReader(b)
			size := int64(len(b))
			if i%3 == 1 { // every third one chunked, in small slow pieces
				body, size = &slowReader{r: bytes.NewReader(b), piece: 1500 + i*7, pause: time.Millisecond}, -1
			}
			resp, js := d.put(t, name, body, size)
			if strings.Contains(rel, "without_pcap_header") {
				if resp.StatusCode != http.StatusUnsupportedMediaType {
					t.Fatalf("headerless file: %s %v, want 415", resp.Status, js)
				}
				return
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT: %s %v", resp.Status, js)
			}
			id, _ := js["id"].(string)
			if resp.Header.Get("Location") != "/api/v1/recordings/"+id {
				t.Fatalf("Location %q for id %q", resp.Header.Get("Location"), id)
			}
			var rec apiRecording
			d.getJSON(t, "/api/v1/recordings/"+id, &rec)
			if rec.State != "complete" {
				t.Errorf("state %q", rec.State)
			}
			if rec.Seal == nil {
				t.Error("not sealed")
			}
			// The original round-trips byte for byte.
			_, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap")
			if !bytes.Equal(orig, b) {
				t.Errorf("original differs: %d bytes back, %d sent", len(orig), len(b))
			}
			sum := sha256.Sum256(b)
			if rec.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 %s, want %x", rec.SHA256, sum)
			}
			var v struct {
				Valid    bool     `json:"valid"`
				Problems []string `json:"problems"`
			}
			d.getJSON(t, "/api/v1/recordings/"+id+"/verify", &v)
			if !v.Valid {
				t.Errorf("verify: %v", v.Problems)
			}
			if strings.HasPrefix(rel, "generated") {
				checkGenerated(t, d, filepath.Dir(f), &rec)
			}
		})
	}
}

// checkGenerated compares a generated case's decode with its references.
func checkGenerated(t *testing.T, d *daemon, dir string, rec *apiRecording) {
	refs := testcorpus.Streams(t, dir)
	sources := readSourceChecks(t, dir)
	wavs := map[int][][]int16{} // call index → channels
	for _, ref := range refs {
		s := rec.streamFor(ref.Src, ref.Dst, ref.SSRC)
		if s == nil {
			t.Errorf("stream %s %s→%s ssrc %08x not found; have %+v", ref.Num, ref.Src, ref.Dst, ref.SSRC, rec.Streams)
			continue
		}
		if s.Packets != ref.Packets || s.Duplicates != ref.Dups || s.Lost != ref.Lost {
			t.Errorf("stream %s: packets/dups/lost %d/%d/%d, ref %d/%d/%d", ref.Num, s.Packets, s.Duplicates, s.Lost,
				ref.Packets, ref.Dups, ref.Lost)
		}
		k := 1 // WAV samples per 8 kHz tick
		switch ref.Codec {
		case "PCMU", "PCMA":
		case "G722":
			k = 2 // 16 kHz
		default:
			if s.Supported {
				t.Errorf("stream %s (%s) marked supported", ref.Num, ref.Codec)
			}
			continue
		}
		if !s.Supported {
			t.Errorf("stream %s (%s) not marked supported", ref.Num, ref.Codec)
		}
		gotDur := float64(s.EndPos-s.FirstPos) / 8000
		if math.Abs(gotDur-ref.DurationS) > 0.021 {
			t.Errorf("stream %s lasts %.3f s, ref %.3f s", ref.Num, gotDur, ref.DurationS)
		}
		chans, ok := wavs[s.Call]
		if !ok {
			resp, b := d.get(t, fmt.Sprintf("/api/v1/recordings/%s/audio.wav?call=%d", rec.ID, s.Call+1))
			if resp.StatusCode != 200 {
				t.Fatalf("audio: %s", resp.Status)
			}
			chans = wavSamples(t, b)
			wavs[s.Call] = chans
		}
		if len(chans) != 2 {
			t.Fatalf("want stereo, got %d channels", len(chans))
		}
		got := chans[s.Channel][k*int(s.FirstPos-rec.callStart(s.Call)):]
		got = got[:min(len(got), k*int(s.EndPos-s.FirstPos))]
		if src, ok := sources[ref.Num]; ok && k == 2 {
			// G.722: the decode lags its source by the codec's delay.
			b, err := os.ReadFile(filepath.Join(dir, src.wav))
			if err != nil {
				t.Fatal(err)
			}
			lag, c, snr := testcorpus.Align(wavSamples(t, b)[0], got, 400)
			if c < src.ncc-0.002 || c < 0.99 || snr < 20 {
				t.Errorf("stream %s vs %s: ncc %.5f, SNR %.1f dB at lag %d; the reference decode reached ncc %.5f", ref.Num, src.wav, c, snr, lag, src.ncc)
			}
		} else if ok {
			b, err := os.ReadFile(filepath.Join(dir, src.wav))
			if err != nil {
				t.Fatal(err)
			}
			want := wavSamples(t, b)[0]
			skip := int(-src.lagMs * 8) // the stream starts this far into its source
			if skip < 0 || skip >= len(want) {
				t.Fatalf("stream %s: bad lag %v", ref.Num, src.lagMs)
			}
			want = want[skip:]
			n := min(len(want), len(got))
			if n < len(got)*9/10 {
				t.Errorf("stream %s: only %d of %d samples overlap the source", ref.Num, n, len(got))
			}
			if c := testcorpus.NCC(got[:n], want[:n]); c < src.ncc-0.002 || c < 0.9 {
				t.Errorf("stream %s vs %s: ncc %.5f, reference decode reached %.5f", ref.Num, src.wav, c, src.ncc)
			}
		}
		if ref.WAV != "" {
			rb, err := os.ReadFile(filepath.Join(dir, "ref", ref.WAV))
			if os.IsNotExist(err) {
				continue // some cases ship only the sources
			}
			if err != nil {
				t.Fatal(err)
			}
			want := wavSamples(t, rb)[0]
			if len(got) < len(want) {
				t.Errorf("stream %s: %d samples in the WAV, ref has %d", ref.Num, len(got), len(want))
				continue
			}
			if k == 2 {
				// The reference decodes G.722 in one run; the appliance
				// in windows, which converge to it.
				if c := testcorpus.NCC(got[:len(want)], want); c < 0.999 {
					t.Errorf("stream %s: ncc %.6f against the reference decode", ref.Num, c)
				}
				continue
			}
			if diff := firstDiff(got[:len(want)], want); diff >= 0 {
				t.Errorf("stream %s: differs from the reference decode at sample %d of %d", ref.Num, diff, len(want))
			}
		}
	}
}

type sourceCheck struct {
	wav   string
	ncc   float64
	lagMs float64
}

// readSourceChecks reads ref/check_vs_source.tsv: which source WAV each
// stream was sent from, the lag, and the ncc the reference decode reached.
func readSourceChecks(t *testing.T, dir string) map[string]sourceCheck {
	b, err := os.ReadFile(filepath.Join(dir, "ref", "check_vs_source.tsv"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sourceCheck{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Split(l, "\t")
		if len(f) < 7 {
			continue
		}
		n, _ := strconv.ParseFloat(f[2], 64)
		lag, _ := strconv.ParseFloat(f[6], 64)
		out[f[0]] = sourceCheck{wav: f[1], ncc: n, lagMs: lag}
	}
	return out
}

func firstDiff(a, b []int16) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func TestGzipUpload(t *testing.T) {
	corpus := corpusDir(t)
	d := startDaemon(t, "")
	b, err := os.ReadFile(filepath.Join(corpus, "generated", "pcmu_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b)
	zw.Close()
	resp, js := d.put(t, "call.pcap.gz", bytes.NewReader(gz.Bytes()), int64(gz.Len()))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %v", resp.Status, js)
	}
	id := js["id"].(string)
	var rec struct {
		Gzip       bool   `json:"gzip"`
		GzipSHA256 string `json:"gzipSha256"`
		DurationMs int64  `json:"durationMs"`
	}
	d.getJSON(t, "/api/v1/recordings/"+id, &rec)
	sum := sha256.Sum256(gz.Bytes())
	if !rec.Gzip || rec.GzipSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("gzip %v %s, want hash %x", rec.Gzip, rec.GzipSHA256, sum)
	}
	if rec.DurationMs < 17000 {
		t.Fatalf("duration %d ms", rec.DurationMs)
	}
	_, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap")
	if !bytes.Equal(orig, b) {
		t.Fatal("gzip upload: stored original is not the decompressed capture")
	}
}
