package recorder

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/recinfo"
)

// gzipBomb streams a gzip body that decompresses to a pcap header and then
// zeros, up to zeros bytes, without holding them in memory. It reports
// how many compressed bytes it wrote through sent when the reader is closed
// or the end is reached.
func gzipBomb(zeros int64) (io.ReadCloser, <-chan int64) {
	pr, pw := io.Pipe()
	sent := make(chan int64, 1)
	go func() {
		cw := &countWriter{w: pw}
		zw, _ := gzip.NewWriterLevel(cw, gzip.BestCompression)
		hdr := makeCallPcap(testCall{seconds: 0, pt: 0})[:24]
		_, err := zw.Write(hdr)
		block := make([]byte, 1<<20)
		for left := zeros; err == nil && left > 0; {
			n := min(left, int64(len(block)))
			_, err = zw.Write(block[:n])
			left -= n
		}
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
		sent <- cw.n
	}()
	return pr, sent
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func openLimitedRecorder(t *testing.T, limit int64) (*Recorder, *archive.Archive) {
	t.Helper()
	arc := archivetest.OpenTest(t)
	r, err := New(arc, Config{Prefix: "/recordings/Files/", MaxUploadBytes: limit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, arc
}

// TestIngestGzipBomb: a gzip body that would decompress to 10 GiB stops at
// the limit: its first MaxUploadBytes are kept as an interrupted, sealed,
// verifying recording, Ingest reports ErrTooLarge, and only a little of
// the compressed stream is read.
func TestIngestGzipBomb(t *testing.T) {
	const limit = 1 << 20
	r, arc := openLimitedRecorder(t, limit)
	body, sent := gzipBomb(10 << 30)
	rec, err := r.Ingest(context.Background(), "bomb.pcap.gz", body)
	body.Close() // stops the generator
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("gzip bomb: %v, want ErrTooLarge", err)
	}
	if rec == nil || rec.State != archive.StateInterrupted || rec.OrigSize != limit || rec.Seal == nil {
		t.Fatalf("gzip bomb kept %+v, want an interrupted sealed recording of %d bytes", rec, limit)
	}
	n := <-sent
	if n > 64<<10 {
		t.Fatalf("read %d compressed bytes of a bomb whose first MiB compresses to about 1 KiB", n)
	}
	t.Logf("stopped after %d bytes stored, %d compressed bytes sent", rec.OrigSize, n)
	res, err := arc.Verify(context.Background(), rec.ID, func(rec *archive.Recording) ([][32]byte, error) {
		return r.Exports(context.Background(), rec)
	})
	if err != nil || !res.Valid {
		t.Fatalf("kept part does not verify: %v %+v", err, res)
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil || in.Damage == "" {
		t.Fatalf("the recording does not say it was cut at the limit: %v %+v", err, in)
	}
}

// TestIngestSizeLimit: the limit counts the stored bytes of a plain body
// too; an upload of exactly the limit is complete, one byte more is not.
func TestIngestSizeLimit(t *testing.T) {
	capture := makeCallPcap(testCall{seconds: 2, pt: 8})
	limit := int64(len(capture))
	r, _ := openLimitedRecorder(t, limit)
	rec, err := r.Ingest(context.Background(), "exact.pcap", bytes.NewReader(capture))
	if err != nil || rec.State != archive.StateComplete || rec.OrigSize != limit {
		t.Fatalf("upload of exactly the limit: %v %+v", err, rec)
	}
	over := append(bytes.Clone(capture), 0)
	rec, err = r.Ingest(context.Background(), "over.pcap", bytes.NewReader(over))
	if !errors.Is(err, ErrTooLarge) || rec == nil || rec.State != archive.StateInterrupted || rec.OrigSize != limit {
		t.Fatalf("upload one byte over the limit: %v %+v", err, rec)
	}
	if rec.OrigSHA256 != sha256.Sum256(capture) {
		t.Fatal("kept part is not the first bytes sent")
	}
}
