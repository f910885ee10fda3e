package loadgen

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/callvault/callvault/internal/pcapwrite"
)

// run is one load run.
type run struct {
	cfg      Config
	calls    []*call
	npk      int // packets per direction per call
	pt       byte
	pattern  [2][]byte
	client   *http.Client
	reqCtx   context.Context
	uploads  sync.WaitGroup
	t0       time.Time
	pcapHead []byte
}

// Run checks cfg, runs the load, prints the summary to stdout (problems to
// stderr) and writes the JSON report if cfg asks for one. It fails when the
// settings are wrong, the run was interrupted, an upload failed, or
// verification found a recording unreadable or packets lost.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	ncalls := cfg.Streams / 2
	l := &run{
		cfg:      cfg,
		npk:      int((cfg.Duration + ptime/2) / ptime),
		pattern:  Pattern(cfg.Codec),
		pcapHead: pcapwrite.Ethernet.FileHeader(),
	}
	if cfg.Codec == "pcma" {
		l.pt = 8
	}
	tr := &http.Transport{
		// No proxy: the load is meant for the appliance itself.
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:       0, // unlimited: every open call holds a connection
		MaxIdleConns:          ncalls + 16,
		MaxIdleConnsPerHost:   ncalls + 16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.ResponseTimeout, // counted from the end of the body
		// HTTP/1.1 only: HTTP/2 would multiplex every call on one connection.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if cfg.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	defer tr.CloseIdleConnections()
	l.client = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Interrupting the run ends the calls early but lets their uploads
	// finish; reqCancel bounds that wait.
	reqCtx, reqCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer reqCancel()
	l.reqCtx = reqCtx

	runTag := make([]byte, 1)
	_, _ = crand.Read(runTag)
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for k := 1; k <= ncalls; k++ {
		l.calls = append(l.calls, l.newCall(k, runTag[0], rng))
	}

	nsched := min(cfg.Schedulers, ncalls)
	fmt.Fprintf(stdout, "loadgen: %d calls (%d streams) of %v, %s, ramp %v, %d schedulers -> %s\n",
		ncalls, cfg.Streams, cfg.Duration, cfg.Codec, cfg.Ramp, nsched, cfg.url.Redacted())

	l.t0 = time.Now().Add(50 * time.Millisecond).Truncate(time.Millisecond)
	var procDone chan *DaemonReport
	if cfg.PID > 0 {
		baseline, err := readProc(cfg.PID)
		if err != nil {
			return fmt.Errorf("loadgen: --pid: %w", err)
		}
		procDone = make(chan *DaemonReport, 1)
		start := l.t0.Add(cfg.Ramp + ptime + 100*time.Millisecond)
		end := l.t0.Add(cfg.Duration - ptime)
		go func() { procDone <- sampleProc(ctx, cfg.PID, baseline, start, end, ncalls) }()
	}

	scheds := make([]*scheduler, nsched)
	for i := range scheds {
		scheds[i] = &scheduler{run: l, phase0: l.t0.Add(time.Duration(i) * ptime / time.Duration(nsched))}
	}
	for i, c := range l.calls {
		var off time.Duration
		if ncalls > 1 {
			off = cfg.Ramp * time.Duration(i) / time.Duration(ncalls)
		}
		c.startTick = int64((off + ptime/2) / ptime)
		s := scheds[i%nsched]
		s.pending = append(s.pending, c)
	}
	var schedWG sync.WaitGroup
	for _, s := range scheds {
		schedWG.Add(1)
		go func() { defer schedWG.Done(); s.loop(ctx) }()
	}
	schedWG.Wait()
	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintf(stderr, "loadgen: interrupted; ended the open calls, waiting up to %v for their answers\n", cfg.ResponseTimeout)
		stop := time.AfterFunc(cfg.ResponseTimeout+5*time.Second, reqCancel)
		defer stop.Stop()
	}
	l.uploads.Wait()
	end := time.Now()

	rep := l.summarize(scheds, nsched, interrupted)
	rep.WallMs = ms(end.Sub(l.t0))
	if procDone != nil {
		rep.Daemon = <-procDone
	}
	if cfg.Verify && !interrupted {
		rep.Verify = l.verifyAll(ctx)
	}
	l.print(stdout, stderr, rep)
	if cfg.ReportFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(cfg.ReportFile, append(b, '\n'), 0o644)
		}
		if err != nil {
			return fmt.Errorf("loadgen: report: %w", err)
		}
	}
	var errs []error
	if interrupted {
		errs = append(errs, fmt.Errorf("loadgen: interrupted: %w", ctx.Err()))
	}
	if rep.Failed > 0 {
		errs = append(errs, fmt.Errorf("loadgen: %d of %d uploads failed", rep.Failed, rep.Started))
	}
	if v := rep.Verify; v != nil {
		if v.Errors > 0 {
			errs = append(errs, fmt.Errorf("loadgen: %d recordings could not be verified", v.Errors))
		}
		if v.Lost > 0 {
			errs = append(errs, fmt.Errorf("loadgen: %d packets lost", v.Lost))
		}
	}
	return errors.Join(errs...)
}

// start opens the call's upload.
func (l *run) start(c *call) {
	c.started = true
	c.nextTick = c.startTick
	c.body = newPipe()
	_, _ = c.body.write(l.pcapHead)
	l.uploads.Add(1)
	go func() {
		defer l.uploads.Done()
		l.upload(c)
	}()
}

func (l *run) upload(c *call) {
	defer c.body.abort(errBodyClosed) // stop the scheduler writing
	u := l.cfg.url.ResolveReference(&url.URL{Path: c.name})
	req, err := http.NewRequestWithContext(l.reqCtx, http.MethodPut, u.String(), c.body)
	if err != nil {
		c.err = err
		return
	}
	req.ContentLength = -1 // chunked, as long as the call
	req.SetBasicAuth(l.cfg.User, l.cfg.Password)
	req.Header.Set("Content-Type", "application/vnd.tcpdump.pcap")
	req.Header.Set("User-Agent", "callvault-loadgen/"+l.cfg.Version)
	resp, err := l.client.Do(req)
	c.respAt = time.Now()
	if err != nil {
		c.err = err
		return
	}
	defer resp.Body.Close()
	c.status = resp.StatusCode
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		c.err = fmt.Errorf("reading the answer: %w", err)
		return
	}
	if resp.StatusCode != http.StatusCreated {
		c.respBody = strings.TrimSpace(string(b))
		return
	}
	if err := json.Unmarshal(b, &c.resp); err != nil {
		c.err = fmt.Errorf("answer is not JSON: %w", err)
	}
}
