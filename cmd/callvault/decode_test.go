package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	corpus := corpusDir(t)
	out := filepath.Join(t.TempDir(), "two.wav")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"decode", filepath.Join(corpus, "generated", "pcapng_two_calls", "capture.pcapng"), "-o", out, "--json"}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Calls []struct {
			File       string
			DurationMs int64
			Streams    []struct {
				SSRC        string
				Codec       string
				PayloadType uint8
				Channel     string
				Packets     int
				Lost        int
				Duplicates  int
				Reordered   int
				DTMF        []any
			}
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(res.Calls) != 2 {
		t.Fatalf("want 2 calls, got %d", len(res.Calls))
	}
	codecs := map[string]bool{}
	for i, c := range res.Calls {
		want := out
		if i > 0 {
			want = strings.TrimSuffix(out, ".wav") + "-2.wav"
		}
		if c.File != want {
			t.Errorf("call %d written to %q, want %q", i, c.File, want)
		}
		st, err := os.Stat(c.File)
		if err != nil {
			t.Fatal(err)
		}
		// Stereo PCM16 at 8 kHz: 32 bytes a millisecond, plus the header.
		if got := (st.Size() - 44) / 32; got < c.DurationMs-1 || got > c.DurationMs+1 {
			t.Errorf("call %d: %d ms of WAV, JSON says %d ms", i, got, c.DurationMs)
		}
		if len(c.Streams) != 2 || c.Streams[0].Channel == c.Streams[1].Channel {
			t.Errorf("call %d: streams %+v", i, c.Streams)
		}
		for _, s := range c.Streams {
			codecs[s.Codec] = true
			if !strings.HasPrefix(s.SSRC, "0x") || s.Packets < 500 || s.Lost != 0 || s.DTMF == nil {
				t.Errorf("call %d: stream %+v", i, s)
			}
		}
	}
	if !codecs["PCMA"] || !codecs["PCMU"] {
		t.Errorf("codecs %v, want PCMA and PCMU", codecs)
	}
	// Not a capture: a clear error, no output.
	bad := filepath.Join(t.TempDir(), "notes.pcap")
	os.WriteFile(bad, []byte("hello, world, this is text"), 0o600)
	err = run(context.Background(), []string{"decode", bad, "-o", out + ".x"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a pcap") {
		t.Fatalf("decode of text: %v", err)
	}
}

// TestVerifyCommand: `callvault verify --data` on a stopped appliance.
func TestVerifyCommand(t *testing.T) {
	corpus := corpusDir(t)
	d := startDaemon(t, "")
	id := uploadCase(t, d, corpus, "pcmu_bidir", "0000000000000000000000000000eeee-009033302ab1-1--erin.pcap")
	d.stop()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--data", d.data, "--key-file", d.key}, &stdout, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), id+"\tok") || !strings.Contains(stdout.String(), "chain\tok") {
		t.Fatalf("output:\n%s", stdout.String())
	}
	stdout.Reset()
	err := run(context.Background(), []string{"verify", "--data", d.data, "--key-file", d.key, "00000000000000000000000000000000"}, &stdout, io.Discard)
	if err == nil || !strings.Contains(stdout.String(), "not found") {
		t.Fatalf("unknown id: %v\n%s", err, stdout.String())
	}
}
