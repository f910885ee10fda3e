package testcorpus

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FFmpegG722 decodes a raw G.722 stream (the payloads of one stream in
// order) with ffmpeg's G.722 decoder into 16 kHz samples: an independent
// reference for the appliance's decoder. Without ffmpeg the test is
// skipped, loudly; under CI=true it fails, since CI installs ffmpeg.
func FFmpegG722(tb testing.TB, g722 []byte) []int16 {
	tb.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("ffmpeg not found (%v): CI must install it", err)
		}
		tb.Skipf("SKIPPING FFMPEG COMPARISON: ffmpeg not found (%v)", err)
	}
	in := filepath.Join(tb.TempDir(), "in.g722")
	if err := os.WriteFile(in, g722, 0o600); err != nil {
		tb.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(ff, "-nostdin", "-loglevel", "error", "-f", "g722", "-i", in, "-f", "s16le", "-")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("ffmpeg: %v: %s", err, errb.String())
	}
	pcm := make([]int16, out.Len()/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(out.Bytes()[2*i:]))
	}
	return pcm
}

// FFmpegEncodeG722 encodes 16 kHz samples with ffmpeg's G.722 encoder into
// a raw G.722 stream (one octet per two samples), for tests that need
// G.722 audio of their own making. Without ffmpeg the test is skipped,
// loudly; under CI=true it fails.
func FFmpegEncodeG722(tb testing.TB, pcm []int16) []byte {
	tb.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("ffmpeg not found (%v): CI must install it", err)
		}
		tb.Skipf("SKIPPING G.722 ENCODING: ffmpeg not found (%v)", err)
	}
	raw := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	in := filepath.Join(tb.TempDir(), "in.s16")
	if err := os.WriteFile(in, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(ff, "-nostdin", "-loglevel", "error", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", in, "-c:a", "g722", "-f", "g722", "-")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("ffmpeg: %v: %s", err, errb.String())
	}
	return out.Bytes()
}
