package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress reports an import: on a terminal a bar redrawn in place (bytes,
// files, rate, ETA); elsewhere one plain line per file.
type progress struct {
	w        io.Writer
	tty      bool
	files    int
	total    int64
	start    time.Time
	mu       sync.Mutex
	done     int64 // bytes of finished files
	cur      int64 // bytes read of the file in progress
	nfiles   int
	lastDraw time.Time
	unit     string // what nfiles counts: "files" (import), "records" (migrate)
}

func newProgress(w io.Writer, files int, total int64) *progress {
	p := &progress{w: w, files: files, total: total, start: time.Now(), unit: "files"}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// reader counts what the current file's upload has read.
func (p *progress) reader(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.mu.Lock()
	r.p.cur += int64(n)
	r.p.drawLocked(false)
	r.p.mu.Unlock()
	return n, err
}

func (p *progress) fileDone(f captureFile, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += f.size
	p.cur = 0
	p.nfiles++
	if p.tty {
		if strings.HasPrefix(status, "FAILED") {
			fmt.Fprintf(p.w, "\r\033[K%s: %s\n", f.path, status)
		}
		p.drawLocked(true)
		return
	}
	fmt.Fprintf(p.w, "[%d/%d %s] %s: %s\n", p.nfiles, p.files, p.summaryLocked(), f.path, status)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.drawLocked(true)
		fmt.Fprintln(p.w)
	}
}

// summaryLocked is "45% 120.3 MiB/270.0 MiB 15.2 MiB/s ETA 10s".
func (p *progress) summaryLocked() string {
	done := p.done + p.cur
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%3.0f%% %s/%s %s/s ETA %s", pct, humanBytes(done), humanBytes(p.total), humanBytes(int64(rate)), eta)
}

func (p *progress) drawLocked(force bool) {
	if !p.tty || (!force && time.Since(p.lastDraw) < 200*time.Millisecond) {
		return
	}
	p.lastDraw = time.Now()
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done+p.cur) / float64(p.total)
	}
	n := min(int(frac*width), width)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d %s %s", strings.Repeat("#", n), strings.Repeat(" ", width-n), p.nfiles, p.files, p.unit, p.summaryLocked())
}

// set moves a whole-store operation (migrate) to done bytes and n items:
// the bar on a terminal, one plain line elsewhere.
func (p *progress) set(done int64, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.cur, p.nfiles = done, 0, n
	if p.tty {
		p.drawLocked(false)
		return
	}
	fmt.Fprintf(p.w, "[%d/%d %s %s]\n", p.nfiles, p.files, p.unit, p.summaryLocked())
}
