package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder"
	"github.com/callvault/callvault/recorder/capture"
	"golang.org/x/sync/errgroup"
)

type decodeJSON struct {
	Calls    []decodeCall `json:"calls"`
	Warnings []string     `json:"warnings,omitempty"`
	Damage   string       `json:"damage,omitempty"`
}

type decodeCall struct {
	File       string         `json:"file"`
	CallID     string         `json:"callId,omitempty"`
	From       recinfo.Party  `json:"from"`
	To         recinfo.Party  `json:"to"`
	DurationMs int64          `json:"durationMs"`
	Streams    []decodeStream `json:"streams"`
}

type decodeStream struct {
	SSRC        string         `json:"ssrc"`
	Codec       string         `json:"codec"`
	Supported   bool           `json:"supported"`
	Encrypted   bool           `json:"encrypted"`
	Encryption  string         `json:"encryption,omitempty"`
	PayloadType uint8          `json:"payloadType"`
	Channel     string         `json:"channel"`
	Src         string         `json:"src"`
	Dst         string         `json:"dst"`
	Packets     int            `json:"packets"`
	Lost        int            `json:"lost"`
	Duplicates  int            `json:"duplicates"`
	Reordered   int            `json:"reordered"`
	JitterMs    float64        `json:"jitterMs"`
	DTMF        []recinfo.DTMF `json:"dtmf"`
}

func runDecode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output WAV (default: IN with .wav); further calls get -2, -3, ...")
	mono := fs.Bool("mono", false, "mix both parties into one channel")
	asJSON := fs.Bool("json", false, "print what was found as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("decode: usage: callvault decode IN [-o OUT.wav] [--mono] [--json]")
	}
	in := pos[0]
	if *out == "" {
		*out = strings.TrimSuffix(strings.TrimSuffix(in, ".gz"), filepath.Ext(strings.TrimSuffix(in, ".gz"))) + ".wav"
	}
	res, err := decodeFile(in, *out, codec.WAVOptions{Mono: *mono})
	if err != nil {
		return fmt.Errorf("decode %s: %w", in, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	for _, c := range res.Calls {
		note := ""
		for _, s := range c.Streams {
			if s.Encrypted {
				note = "\tencrypted media (silent)"
			}
		}
		fmt.Fprintf(stdout, "%s\t%d ms\t%d streams%s\n", c.File, c.DurationMs, len(c.Streams), note)
	}
	if len(res.Calls) == 0 {
		fmt.Fprintln(stderr, "decode: no calls with RTP found")
	}
	return nil
}

// decodeFile analyses the capture at in and writes one WAV per call found.
func decodeFile(in, out string, opt codec.WAVOptions) (*decodeJSON, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	plain, gz, err := capture.Decompress(f)
	if err != nil {
		return nil, err
	}
	var orig io.ReaderAt = f
	if gz {
		b, err := io.ReadAll(io.LimitReader(plain, 8<<30))
		if err != nil {
			return nil, err
		}
		orig, plain = bytes.NewReader(b), bytes.NewReader(b)
	}
	var mapBuf bytes.Buffer
	a, err := recorder.Analyze(plain, &mapBuf)
	if err != nil {
		return nil, err
	}
	res := &decodeJSON{Calls: []decodeCall{}, Warnings: a.Result.Warnings, Damage: a.Damage}
	mp := bytes.NewReader(mapBuf.Bytes())
	for i, c := range a.Result.Calls {
		name := out
		if i > 0 {
			name = strings.TrimSuffix(out, ".wav") + fmt.Sprintf("-%d.wav", i+1)
		}
		segs := []codec.Segment{{Orig: orig, Map: mp, MapSize: mp.Size(), Layout: a.Result.Layout(i, a.Spans)}}
		if err := writeWAVFile(name, func() (*codec.WAVReader, error) { return codec.NewWAVReader(segs, opt) }); err != nil {
			return nil, err
		}
		dc := decodeCall{File: name, CallID: c.CallID, From: c.From, To: c.To, DurationMs: c.DurationMs, Streams: []decodeStream{}}
		for _, si := range c.Streams {
			s := a.Result.Streams[si]
			ch := "left"
			if s.Channel == 1 {
				ch = "right"
			}
			dtmf := s.DTMF
			if dtmf == nil {
				dtmf = []recinfo.DTMF{}
			}
			dc.Streams = append(dc.Streams, decodeStream{
				SSRC: fmt.Sprintf("0x%08x", s.SSRC), Codec: s.Codec, Supported: s.Supported, PayloadType: s.PayloadType,
				Encrypted: s.Encrypted, Encryption: s.Encryption,
				Channel: ch, Src: s.Src, Dst: s.Dst, Packets: s.Packets, Lost: s.Lost, Duplicates: s.Duplicates,
				Reordered: s.Reordered, JitterMs: s.JitterMs, DTMF: dtmf,
			})
		}
		res.Calls = append(res.Calls, dc)
	}
	return res, nil
}

// writeWAVFile renders a WAV into name, atomically. Long files are rendered
// in parts, one per CPU, each by its own reader into its own file range.
func writeWAVFile(name string, open func() (*codec.WAVReader, error)) error {
	first, err := open()
	if err != nil {
		return err
	}
	size := first.Size()
	tmp, err := os.CreateTemp(filepath.Dir(name), ".callvault-*.wav")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	parts := int64(runtime.GOMAXPROCS(0))
	if size < 4<<20 {
		parts = 1
	}
	var g errgroup.Group
	for i := range parts {
		from, to := size*i/parts, size*(i+1)/parts
		g.Go(func() error {
			r := first
			if i > 0 {
				var err error
				if r, err = open(); err != nil {
					return err
				}
			}
			if _, err := r.Seek(from, io.SeekStart); err != nil {
				return err
			}
			buf := make([]byte, 1<<20)
			_, err := io.CopyBuffer(io.NewOffsetWriter(tmp, from), io.LimitReader(r, to-from), buf)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
