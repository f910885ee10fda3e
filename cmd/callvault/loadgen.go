package main

// callvault loadgen: synthetic devices that stream calls to an appliance the
// way innovaphone phones do, one long chunked PUT of a growing PCAP per call.
//
// Pacing does not use a goroutine and ticker per call: a few scheduler
// goroutines (one per CPU by default) each own many calls and, on every
// 20 ms tick, append each call's two RTP packets to the call's request body.
// The body is an unbounded in-memory pipe (lgBody), so a write never blocks
// the scheduler; data the transport has not taken by the next ticks counts
// as backpressure, and a call whose daemon stops reading for
// lgMaxPendingTime is aborted. net/http still needs a goroutine per request
// (plus its own two per connection); those only wait on the network.

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	lgPtime          = 20 * time.Millisecond // packetization time
	lgSamples        = 160                   // G.711 samples (bytes) per packet
	lgLateAfter      = 10 * time.Millisecond // a tick handled later than this is late
	lgFrameLen       = 14 + 20 + 8 + 12 + lgSamples
	lgRecLen         = 16 + lgFrameLen // pcap record header + frame
	lgPairLen        = 2 * lgRecLen    // one tick of one call
	lgPcapHdrLen     = 24
	lgPortDevice     = 16386
	lgPortRemote     = 16388
	lgPatternFrames  = 100              // 2 s speech-like pattern
	lgBackpressure   = 2 * lgPairLen    // unread data older than a tick
	lgMaxPendingTime = 10 * time.Second // unread media that aborts a call
	lgMaxPending     = int(lgMaxPendingTime/lgPtime) * lgPairLen
	lgClockTicks     = 100 // USER_HZ of /proc/PID/stat on Linux
)

type lgConfig struct {
	streams     int
	duration    time.Duration
	ramp        time.Duration
	url         *url.URL
	user        string
	password    string
	codec       string
	verify      bool
	apiUser     string
	apiPassword string
	report      string
	pid         int
	schedulers  int
	insecure    bool
	respTimeout time.Duration
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg lgConfig
	var rawURL string
	fs.IntVar(&cfg.streams, "streams", 2, "RTP streams; each call carries 2 (one per direction), so N/2 calls; must be even")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "length of each call")
	fs.StringVar(&rawURL, "url", "", "ingest collection URL, e.g. http://127.0.0.1:8080/recordings/Files/")
	fs.StringVar(&cfg.user, "user", "ingest", "ingest account")
	fs.StringVar(&cfg.password, "password", "", "ingest password (default $CALLVAULT_INGEST_PASSWORD)")
	fs.DurationVar(&cfg.ramp, "ramp", 5*time.Second, "spread call starts over this time")
	fs.StringVar(&cfg.codec, "codec", "pcmu", "payload: pcmu or pcma")
	fs.BoolVar(&cfg.verify, "verify", false, "after the uploads, read each recording back through the API and compare packet counts (needs --api-user)")
	fs.StringVar(&cfg.apiUser, "api-user", "", "account (admin) for --verify")
	fs.StringVar(&cfg.apiPassword, "api-password", "", "password for --api-user (default $CALLVAULT_ADMIN_PASSWORD)")
	fs.StringVar(&cfg.report, "report", "", "write a JSON summary to this file")
	fs.IntVar(&cfg.pid, "pid", 0, "daemon process to measure (CPU, RSS) during the steady state")
	fs.IntVar(&cfg.schedulers, "schedulers", runtime.NumCPU(), "pacing goroutines")
	fs.BoolVar(&cfg.insecure, "insecure", false, "do not verify the appliance's TLS certificate")
	fs.DurationVar(&cfg.respTimeout, "response-timeout", time.Minute, "wait this long for the answer after a body ends")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("loadgen: unexpected argument %q", pos[0])
	}
	if cfg.password == "" {
		cfg.password = os.Getenv("CALLVAULT_INGEST_PASSWORD")
	}
	if cfg.apiPassword == "" {
		cfg.apiPassword = os.Getenv("CALLVAULT_ADMIN_PASSWORD")
	}
	switch {
	case cfg.streams <= 0 || cfg.streams%2 != 0:
		return fmt.Errorf("loadgen: --streams must be a positive even number (2 per call), not %d", cfg.streams)
	case cfg.duration < lgPtime:
		return fmt.Errorf("loadgen: --duration must be at least %v", lgPtime)
	case cfg.ramp < 0:
		return errors.New("loadgen: negative --ramp")
	case cfg.codec != "pcmu" && cfg.codec != "pcma":
		return fmt.Errorf("loadgen: --codec must be pcmu or pcma, not %q", cfg.codec)
	case rawURL == "":
		return errors.New("loadgen: --url is required")
	case cfg.password == "":
		return errors.New("loadgen: no ingest password: use --password or CALLVAULT_INGEST_PASSWORD")
	case cfg.verify && cfg.apiUser == "":
		return errors.New("loadgen: --verify needs --api-user (an account that may read recordings)")
	case cfg.pid < 0:
		return errors.New("loadgen: bad --pid")
	case cfg.respTimeout <= 0:
		return errors.New("loadgen: --response-timeout must be positive")
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadgen: --url %q: want http(s)://host[:port]/path/", rawURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	cfg.url = u
	if cfg.schedulers < 1 {
		cfg.schedulers = 1
	}
	return loadgen(ctx, cfg, stdout, stderr)
}

// lgRun is one load run.
type lgRun struct {
	cfg      lgConfig
	calls    []*lgCall
	npk      int // packets per direction per call
	pt       byte
	pattern  [2][]byte
	client   *http.Client
	reqCtx   context.Context
	uploads  sync.WaitGroup
	t0       time.Time
	pcapHead []byte
}

func loadgen(ctx context.Context, cfg lgConfig, stdout, stderr io.Writer) error {
	ncalls := cfg.streams / 2
	l := &lgRun{
		cfg:      cfg,
		npk:      int((cfg.duration + lgPtime/2) / lgPtime),
		pattern:  lgPattern(cfg.codec),
		pcapHead: lgPcapHeader(),
	}
	if cfg.codec == "pcma" {
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
		ResponseHeaderTimeout: cfg.respTimeout, // counted from the end of the body
		// HTTP/1.1 only: HTTP/2 would multiplex every call on one connection.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if cfg.insecure {
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

	nsched := min(cfg.schedulers, ncalls)
	fmt.Fprintf(stdout, "loadgen: %d calls (%d streams) of %v, %s, ramp %v, %d schedulers -> %s\n",
		ncalls, cfg.streams, cfg.duration, cfg.codec, cfg.ramp, nsched, cfg.url.Redacted())

	l.t0 = time.Now().Add(50 * time.Millisecond).Truncate(time.Millisecond)
	var procDone chan *lgDaemonReport
	if cfg.pid > 0 {
		baseline, err := lgReadProc(cfg.pid)
		if err != nil {
			return fmt.Errorf("loadgen: --pid: %w", err)
		}
		procDone = make(chan *lgDaemonReport, 1)
		start := l.t0.Add(cfg.ramp + lgPtime + 100*time.Millisecond)
		end := l.t0.Add(cfg.duration - lgPtime)
		go func() { procDone <- lgSampleProc(ctx, cfg.pid, baseline, start, end, ncalls) }()
	}

	scheds := make([]*lgSched, nsched)
	for i := range scheds {
		scheds[i] = &lgSched{run: l, phase0: l.t0.Add(time.Duration(i) * lgPtime / time.Duration(nsched))}
	}
	for i, c := range l.calls {
		var off time.Duration
		if ncalls > 1 {
			off = cfg.ramp * time.Duration(i) / time.Duration(ncalls)
		}
		c.startTick = int64((off + lgPtime/2) / lgPtime)
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
		fmt.Fprintf(stderr, "loadgen: interrupted; ended the open calls, waiting up to %v for their answers\n", cfg.respTimeout)
		stop := time.AfterFunc(cfg.respTimeout+5*time.Second, reqCancel)
		defer stop.Stop()
	}
	l.uploads.Wait()
	end := time.Now()

	rep := l.summarize(scheds, nsched, interrupted)
	rep.WallMs = lgMs(end.Sub(l.t0))
	if procDone != nil {
		rep.Daemon = <-procDone
	}
	if cfg.verify && !interrupted {
		rep.Verify = l.verifyAll(ctx)
	}
	l.print(stdout, stderr, rep)
	if cfg.report != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(cfg.report, append(b, '\n'), 0o644)
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

// lgCall is one synthetic call: a device streaming both directions of one
// RTP session in one upload.
type lgCall struct {
	name      string
	startTick int64
	nextTick  int64 // next packet pair's tick
	sent      int   // packet pairs written
	ssrc      [2]uint32
	seq0      [2]uint16
	ts0       [2]uint32
	ipid      [2]uint16
	patOff    int
	pair      []byte // both records, rewritten each tick
	body      *lgBody
	started   bool
	backpress int64

	// Set by the upload goroutine.
	status   int
	err      error
	respAt   time.Time
	resp     lgPutResponse
	respBody string
}

type lgPutResponse struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Bytes    int64  `json:"bytes"`
	Location string `json:"location"`
}

func (l *lgRun) newCall(k int, tag byte, rng *rand.Rand) *lgCall {
	var guid [16]byte
	_, _ = crand.Read(guid[:])
	mac := [6]byte{0x00, 0x90, 0x33, tag, byte(k >> 8), byte(k)}
	c := &lgCall{
		name:   fmt.Sprintf("%x-%x-LG%06d--loaduser%d.pcap", guid, mac, k%1000000, k),
		patOff: rng.IntN(lgPatternFrames),
		pair:   make([]byte, lgPairLen),
	}
	c.ssrc[0] = rng.Uint32()
	c.ssrc[1] = c.ssrc[0] ^ (1 + rng.Uint32N(math.MaxUint32))
	for d := range 2 {
		c.seq0[d] = uint16(rng.Uint32())
		c.ts0[d] = rng.Uint32()
		c.ipid[d] = uint16(rng.Uint32())
	}
	devIP := [4]byte{127, 10, byte(k >> 8), byte(k)}
	remIP := [4]byte{127, 20, byte(k >> 8), byte(k)}
	remMAC := [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	for d := range 2 {
		r := c.pair[d*lgRecLen : (d+1)*lgRecLen]
		binary.LittleEndian.PutUint32(r[8:], lgFrameLen)
		binary.LittleEndian.PutUint32(r[12:], lgFrameLen)
		eth := r[16:]
		srcMAC, dstMAC, srcIP, dstIP, sport, dport := mac, remMAC, devIP, remIP, lgPortDevice, lgPortRemote
		if d == 1 {
			srcMAC, dstMAC, srcIP, dstIP, sport, dport = remMAC, mac, remIP, devIP, lgPortRemote, lgPortDevice
		}
		copy(eth[0:6], dstMAC[:])
		copy(eth[6:12], srcMAC[:])
		binary.BigEndian.PutUint16(eth[12:], 0x0800)
		ip := eth[14:]
		ip[0] = 0x45
		ip[1] = 0xb8 // DSCP EF
		binary.BigEndian.PutUint16(ip[2:], 20+8+12+lgSamples)
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
		ip[8] = 64
		ip[9] = 17
		copy(ip[12:16], srcIP[:])
		copy(ip[16:20], dstIP[:])
		udp := ip[20:]
		binary.BigEndian.PutUint16(udp[0:], uint16(sport))
		binary.BigEndian.PutUint16(udp[2:], uint16(dport))
		binary.BigEndian.PutUint16(udp[4:], 8+12+lgSamples)
		rtp := udp[8:]
		rtp[0] = 0x80
		binary.BigEndian.PutUint32(rtp[8:], c.ssrc[d])
	}
	return c
}

// fill rewrites the pair buffer for packet n of both directions.
func (c *lgCall) fill(n int, now time.Time, pt byte, pattern *[2][]byte) {
	sec, usec := uint32(now.Unix()), uint32(now.Nanosecond()/1000)
	f := (c.patOff + n) % lgPatternFrames
	for d := range 2 {
		r := c.pair[d*lgRecLen : (d+1)*lgRecLen]
		binary.LittleEndian.PutUint32(r[0:], sec)
		binary.LittleEndian.PutUint32(r[4:], usec)
		ip := r[16+14:]
		binary.BigEndian.PutUint16(ip[4:], c.ipid[d])
		c.ipid[d]++
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^lgFold(lgSum(0, ip[:20])))
		udp := ip[20:]
		rtp := udp[8:]
		rtp[1] = pt
		if n == 0 {
			rtp[1] |= 0x80 // marker: start of talk spurt
		}
		binary.BigEndian.PutUint16(rtp[2:], c.seq0[d]+uint16(n))
		binary.BigEndian.PutUint32(rtp[4:], c.ts0[d]+uint32(n)*lgSamples)
		copy(rtp[12:], pattern[d][f*lgSamples:(f+1)*lgSamples])
		udp[6], udp[7] = 0, 0
		s := lgSum(0, ip[12:20]) + 17 + uint32(len(udp))
		cs := ^lgFold(lgSum(s, udp))
		if cs == 0 {
			cs = 0xffff
		}
		binary.BigEndian.PutUint16(udp[6:], cs)
	}
}

func lgSum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func lgFold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

func lgPcapHeader() []byte {
	h := make([]byte, lgPcapHdrLen)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4) // microsecond timestamps
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(h[20:], 1)     // LINKTYPE_ETHERNET
	return h
}

// lgPattern returns 2 s of speech-like G.711 per direction, generated once:
// a harmonic voice with a syllable envelope, the two parties taking turns,
// over faint noise.
func lgPattern(codec string) [2][]byte {
	enc := lgULaw
	if codec == "pcma" {
		enc = lgALaw
	}
	var out [2][]byte
	for d := range 2 {
		f0 := [2]float64{125, 210}[d]
		tbl := make([]byte, lgPatternFrames*lgSamples)
		noise := uint32(d + 1)
		for i := range tbl {
			t := float64(i) / 8000
			var v float64
			if (t < 1) == (d == 0) {
				env := math.Pow(math.Sin(4*math.Pi*t), 2)
				for h := 1; h <= 8; h++ {
					v += math.Sin(2*math.Pi*f0*float64(h)*t) / float64(h)
				}
				v *= 6000 * env
			}
			noise = noise*1664525 + 1013904223
			v += float64(int32(noise>>16)%64 - 32)
			tbl[i] = enc(int16(v))
		}
		out[d] = tbl
	}
	return out
}

// lgULaw and lgALaw are the G.711 encoders (after the Sun reference code).
func lgULaw(pcm int16) byte {
	v := int32(pcm) >> 2
	mask := byte(0xff)
	if v < 0 {
		v = -v
		mask = 0x7f
	}
	v = min(v, 8159) + 0x21
	seg := 0
	for end := int32(0x3f); seg < 8 && v > end; seg++ {
		end = end<<1 | 1
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	return byte(seg<<4|int((v>>(seg+1))&0xf)) ^ mask
}

func lgALaw(pcm int16) byte {
	v := int32(pcm) >> 3
	mask := byte(0xd5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := 0
	for end := int32(0x1f); seg < 8 && v > end; seg++ {
		end = end<<1 | 1
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	a := seg << 4
	if seg < 2 {
		a |= int(v>>1) & 0xf
	} else {
		a |= int(v>>seg) & 0xf
	}
	return byte(a) ^ mask
}

// lgBody is a call's request body: an unbounded pipe whose writes never
// block. The scheduler appends, the transport reads.
type lgBody struct {
	mu      sync.Mutex
	buf     []byte
	off     int
	written int64
	eof     bool
	endAt   time.Time // when eof was set
	err     error     // abort: Read fails with it
	closed  bool      // the transport is done with the body
	ready   chan struct{}
}

var errLgBodyClosed = errors.New("loadgen: request body closed")

func newLgBody() *lgBody { return &lgBody{ready: make(chan struct{}, 1)} }

func (b *lgBody) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// write appends p and returns how much is unread before p.
func (b *lgBody) write(p []byte) (pending int, err error) {
	b.mu.Lock()
	if b.closed || b.err != nil || b.eof {
		b.mu.Unlock()
		return 0, errLgBodyClosed
	}
	pending = len(b.buf) - b.off
	b.buf = append(b.buf, p...)
	b.written += int64(len(p))
	b.mu.Unlock()
	b.signal()
	return pending, nil
}

func (b *lgBody) unread() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf) - b.off
}

func (b *lgBody) finish(now time.Time) {
	b.mu.Lock()
	if !b.eof {
		b.eof, b.endAt = true, now
	}
	b.mu.Unlock()
	b.signal()
}

func (b *lgBody) abort(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.buf, b.off = nil, 0
	b.mu.Unlock()
	b.signal()
}

func (b *lgBody) state() (written int64, endAt time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written, b.endAt
}

func (b *lgBody) Read(p []byte) (int, error) {
	for {
		b.mu.Lock()
		switch {
		case b.err != nil:
			b.mu.Unlock()
			return 0, b.err
		case b.closed:
			b.mu.Unlock()
			return 0, errLgBodyClosed
		case b.off < len(b.buf):
			n := copy(p, b.buf[b.off:])
			b.off += n
			if b.off == len(b.buf) {
				b.buf, b.off = b.buf[:0], 0
				if cap(b.buf) > 64<<10 {
					b.buf = nil // drop what a backlog grew
				}
			}
			b.mu.Unlock()
			return n, nil
		case b.eof:
			b.mu.Unlock()
			return 0, io.EOF
		}
		b.mu.Unlock()
		<-b.ready
	}
}

func (b *lgBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
	return nil
}

// lgSched paces the calls it owns on a 20 ms grid starting at phase0.
type lgSched struct {
	run     *lgRun
	phase0  time.Time
	pending []*lgCall // by startTick
	active  []*lgCall

	ticks     int64
	late      int64
	maxLate   time.Duration
	backpress int64
	aborted   int
}

func (s *lgSched) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var tick int64
	for len(s.pending) > 0 || len(s.active) > 0 {
		deadline := s.phase0.Add(time.Duration(tick) * lgPtime)
		if d := time.Until(deadline); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				s.stop()
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			s.stop()
			return
		}
		now := time.Now()
		cur := max(tick, int64(now.Sub(s.phase0)/lgPtime))
		// Ticks tick..cur are handled now; count those more than lgLateAfter behind.
		lateness := now.Sub(deadline)
		s.maxLate = max(s.maxLate, lateness)
		for i := tick; i <= cur; i++ {
			s.ticks++
			if lateness-time.Duration(i-tick)*lgPtime > lgLateAfter {
				s.late++
			}
		}
		for len(s.pending) > 0 && s.pending[0].startTick <= cur {
			c := s.pending[0]
			s.pending = s.pending[1:]
			s.run.start(c)
			s.active = append(s.active, c)
		}
		for i := 0; i < len(s.active); {
			if s.advance(s.active[i], cur, now) {
				i++
				continue
			}
			last := len(s.active) - 1
			s.active[i] = s.active[last]
			s.active[last] = nil
			s.active = s.active[:last]
		}
		tick = cur + 1
	}
}

// advance writes the call's packets up to tick cur and reports whether the
// call stays active.
func (s *lgSched) advance(c *lgCall, cur int64, now time.Time) bool {
	l := s.run
	if c.nextTick <= cur {
		if un := c.body.unread(); un > lgBackpressure {
			c.backpress++
			s.backpress++
			if un > lgMaxPending {
				s.aborted++
				c.body.abort(fmt.Errorf("loadgen: appliance read nothing for %v (%d bytes unread)", lgMaxPendingTime, un))
				return false
			}
		}
	}
	for c.nextTick <= cur && c.sent < l.npk {
		c.fill(c.sent, now, l.pt, &l.pattern)
		if _, err := c.body.write(c.pair); err != nil {
			return false // the upload ended early; the upload goroutine has the reason
		}
		c.sent++
		c.nextTick++
	}
	if c.sent >= l.npk {
		c.body.finish(time.Now())
		return false
	}
	return true
}

// stop ends the open calls early (their uploads complete) and leaves the
// pending ones unstarted.
func (s *lgSched) stop() {
	now := time.Now()
	for _, c := range s.active {
		c.body.finish(now)
	}
	s.active, s.pending = nil, nil
}

// start opens the call's upload.
func (l *lgRun) start(c *lgCall) {
	c.started = true
	c.nextTick = c.startTick
	c.body = newLgBody()
	_, _ = c.body.write(l.pcapHead)
	l.uploads.Add(1)
	go func() {
		defer l.uploads.Done()
		l.upload(c)
	}()
}

func (l *lgRun) upload(c *lgCall) {
	defer c.body.abort(errLgBodyClosed) // stop the scheduler writing
	u := l.cfg.url.ResolveReference(&url.URL{Path: c.name})
	req, err := http.NewRequestWithContext(l.reqCtx, http.MethodPut, u.String(), c.body)
	if err != nil {
		c.err = err
		return
	}
	req.ContentLength = -1 // chunked, as long as the call
	req.SetBasicAuth(l.cfg.user, l.cfg.password)
	req.Header.Set("Content-Type", "application/vnd.tcpdump.pcap")
	req.Header.Set("User-Agent", "callvault-loadgen/"+version)
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

// lgReport is the run's summary (also --report).
type lgReport struct {
	Calls             int              `json:"calls"`
	Streams           int              `json:"streams"`
	DurationMs        float64          `json:"durationMs"`
	RampMs            float64          `json:"rampMs"`
	Codec             string           `json:"codec"`
	Schedulers        int              `json:"schedulers"`
	URL               string           `json:"url"`
	Interrupted       bool             `json:"interrupted,omitempty"`
	WallMs            float64          `json:"wallMs"`
	Started           int              `json:"started"`
	OK                int              `json:"ok"`
	Failed            int              `json:"failed"`
	NotStarted        int              `json:"notStarted,omitempty"`
	PacketsSent       int64            `json:"packetsSent"`
	BytesSent         int64            `json:"bytesSent"`
	Ticks             int64            `json:"ticks"`
	LateTicks         int64            `json:"lateTicks"`
	MaxLateMs         float64          `json:"maxLateMs"`
	BackpressureTicks int64            `json:"backpressureTicks"`
	CallsBackpressed  int              `json:"callsBackpressured"`
	Aborted           int              `json:"abortedNotReading"`
	HTTPStatus        map[string]int   `json:"httpStatus"`
	States            map[string]int   `json:"states,omitempty"`
	LatencyMs         *lgLatency       `json:"uploadLatencyMs,omitempty"`
	Errors            []string         `json:"errors,omitempty"`
	Verify            *lgVerifyReport  `json:"verify,omitempty"`
	Daemon            *lgDaemonReport  `json:"daemon,omitempty"`
	Uploads           []lgUploadReport `json:"uploads"`
}

type lgLatency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type lgUploadReport struct {
	Name      string  `json:"name"`
	Status    int     `json:"status,omitempty"`
	ID        string  `json:"id,omitempty"`
	State     string  `json:"state,omitempty"`
	Packets   int     `json:"packetsPerStream"`
	Bytes     int64   `json:"bytes"`
	LatencyMs float64 `json:"latencyMs,omitempty"`
	Error     string  `json:"error,omitempty"`
}

func lgMs(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

const lgMaxErrors = 20

func (l *lgRun) summarize(scheds []*lgSched, nsched int, interrupted bool) *lgReport {
	rep := &lgReport{
		Calls: len(l.calls), Streams: l.cfg.streams, DurationMs: lgMs(l.cfg.duration), RampMs: lgMs(l.cfg.ramp),
		Codec: l.cfg.codec, Schedulers: nsched, URL: l.cfg.url.Redacted(), Interrupted: interrupted,
		HTTPStatus: map[string]int{}, States: map[string]int{}, Uploads: []lgUploadReport{},
	}
	var maxLate time.Duration
	for _, s := range scheds {
		rep.Ticks += s.ticks
		rep.LateTicks += s.late
		maxLate = max(maxLate, s.maxLate)
		rep.BackpressureTicks += s.backpress
		rep.Aborted += s.aborted
	}
	rep.MaxLateMs = lgMs(maxLate)
	var lat []time.Duration
	for _, c := range l.calls {
		if !c.started {
			rep.NotStarted++
			continue
		}
		rep.Started++
		written, endAt := c.body.state()
		rep.PacketsSent += 2 * int64(c.sent)
		rep.BytesSent += written
		if c.backpress > 0 {
			rep.CallsBackpressed++
		}
		u := lgUploadReport{Name: c.name, Status: c.status, ID: c.resp.ID, State: c.resp.State, Packets: c.sent, Bytes: written}
		var problem string
		switch {
		case c.err != nil:
			rep.HTTPStatus["error"]++
			problem = c.err.Error()
		case c.status != http.StatusCreated:
			rep.HTTPStatus[strconv.Itoa(c.status)]++
			problem = fmt.Sprintf("HTTP %d %s", c.status, lgShorten(c.respBody, 200))
		default:
			rep.HTTPStatus[strconv.Itoa(c.status)]++
			if c.resp.State != "" {
				rep.States[c.resp.State]++
			}
			switch {
			case endAt.IsZero() || c.respAt.Before(endAt):
				problem = "answered before the call ended"
			case c.resp.ID == "" && c.resp.Location == "":
				problem = "answer has neither id nor location"
			case c.resp.Bytes != written:
				problem = fmt.Sprintf("appliance stored %d bytes of %d sent", c.resp.Bytes, written)
			default:
				d := c.respAt.Sub(endAt)
				lat = append(lat, d)
				u.LatencyMs = lgMs(d)
			}
		}
		if problem != "" {
			rep.Failed++
			u.Error = problem
			if len(rep.Errors) < lgMaxErrors {
				rep.Errors = append(rep.Errors, c.name+": "+problem)
			}
		} else {
			rep.OK++
		}
		rep.Uploads = append(rep.Uploads, u)
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		rep.LatencyMs = &lgLatency{P50: lgMs(lgPercentile(lat, 0.50)), P99: lgMs(lgPercentile(lat, 0.99)), Max: lgMs(lat[len(lat)-1])}
	}
	return rep
}

// lgPercentile is the nearest-rank percentile of sorted d.
func lgPercentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func lgShorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (l *lgRun) print(stdout, stderr io.Writer, r *lgReport) {
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintf(w, "calls:        started %d, ok %d, failed %d", r.Started, r.OK, r.Failed)
	if r.NotStarted > 0 {
		fmt.Fprintf(w, ", not started %d", r.NotStarted)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "sent:         %d packets, %d bytes in %.1fs\n", r.PacketsSent, r.BytesSent, r.WallMs/1000)
	fmt.Fprintf(w, "pacing:       %d of %d ticks late (>%v), worst %.1fms; backpressure %d call-ticks on %d calls",
		r.LateTicks, r.Ticks, lgLateAfter, r.MaxLateMs, r.BackpressureTicks, r.CallsBackpressed)
	if r.Aborted > 0 {
		fmt.Fprintf(w, ", %d calls aborted (appliance not reading)", r.Aborted)
	}
	fmt.Fprintln(w)
	codes := make([]string, 0, len(r.HTTPStatus))
	for k := range r.HTTPStatus {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	var parts []string
	for _, k := range codes {
		parts = append(parts, fmt.Sprintf("%s x%d", k, r.HTTPStatus[k]))
	}
	fmt.Fprintf(w, "http:         %s\n", strings.Join(parts, ", "))
	if r.LatencyMs != nil {
		fmt.Fprintf(w, "latency:      after body end p50 %.1fms, p99 %.1fms, max %.1fms\n", r.LatencyMs.P50, r.LatencyMs.P99, r.LatencyMs.Max)
	}
	if v := r.Verify; v != nil {
		fmt.Fprintf(w, "verify:       %d recordings read (%d errors), streams %d of %d, packets %d of %d, lost %d",
			v.Checked, v.Errors, v.StreamsFound, v.StreamsSent, v.PacketsReceived, v.PacketsSent, v.Lost)
		fmt.Fprintf(w, " (appliance reports lost %d, duplicates %d)\n", v.ApplianceLost, v.Duplicates)
	}
	if d := r.Daemon; d != nil {
		if d.Error != "" {
			fmt.Fprintf(w, "daemon:       pid %d: %s\n", d.PID, d.Error)
		} else {
			fmt.Fprintf(w, "daemon:       pid %d over %.1fs steady state (%d samples): CPU %.1f%% of one core, %.2f%% of %d CPUs; RSS %.1f MiB before, peak %.1f MiB, %.1f KiB per open call\n",
				d.PID, d.SteadyMs/1000, d.Samples, d.CPUOneCore, d.CPUMachine, d.NumCPU,
				float64(d.RSSBeforeKiB)/1024, float64(d.RSSPeakKiB)/1024, d.RSSPerCallKiB)
			fmt.Fprintf(w, "memory:       anonymous (heap, stacks, buffers) %.1f MiB before, peak %.1f MiB, %.1f KiB per open call\n",
				float64(d.AnonBeforeKiB)/1024, float64(d.AnonPeakKiB)/1024, d.AnonPerCallKiB)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintln(stderr, "loadgen:", e)
	}
	if v := r.Verify; v != nil {
		for _, e := range v.Problems {
			fmt.Fprintln(stderr, "loadgen: verify:", e)
		}
	}
}

// Verification: read each recording back through the API.

type lgVerifyReport struct {
	Checked         int      `json:"checked"`
	Errors          int      `json:"errors"`
	StreamsSent     int      `json:"streamsSent"`
	StreamsFound    int      `json:"streamsFound"`
	PacketsSent     int64    `json:"packetsSent"`
	PacketsReceived int64    `json:"packetsReceived"`
	Lost            int64    `json:"lost"`
	ApplianceLost   int64    `json:"applianceLost"`
	Duplicates      int64    `json:"duplicates"`
	Problems        []string `json:"problems,omitempty"`
}

type lgStreamView struct {
	SSRC       json.RawMessage `json:"ssrc"`
	Packets    int64           `json:"packets"`
	Lost       int64           `json:"lost"`
	Duplicates int64           `json:"duplicates"`
}

type lgVerifyOne struct {
	err                  error
	found                int
	received, lost       int64
	appLost, duplicates  int64
	unmatched, noStreams bool
}

func (l *lgRun) verifyAll(ctx context.Context) *lgVerifyReport {
	v := &lgVerifyReport{}
	var todo []*lgCall
	for _, c := range l.calls {
		if c.started && c.err == nil && c.status == http.StatusCreated && (c.resp.ID != "" || c.resp.Location != "") {
			todo = append(todo, c)
		}
	}
	results := make([]lgVerifyOne, len(todo))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(8, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = l.verifyOne(ctx, todo[i])
			}
		}()
	}
	for i := range todo {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, c := range todo {
		r := results[i]
		v.StreamsSent += 2
		v.PacketsSent += 2 * int64(c.sent)
		if r.err != nil {
			v.Errors++
			v.Problems = lgAppendProblem(v.Problems, fmt.Sprintf("%s: %v", c.name, r.err))
			continue
		}
		v.Checked++
		v.StreamsFound += r.found
		v.PacketsReceived += r.received
		v.Lost += r.lost
		v.ApplianceLost += r.appLost
		v.Duplicates += r.duplicates
		switch {
		case r.noStreams:
			v.Problems = lgAppendProblem(v.Problems, c.name+": recording has no streams")
		case r.unmatched:
			v.Problems = lgAppendProblem(v.Problems, c.name+": no stream matched a sent SSRC; compared totals")
		}
		if r.lost > 0 {
			v.Problems = lgAppendProblem(v.Problems, fmt.Sprintf("%s: %d of %d packets missing", c.name, r.lost, 2*c.sent))
		}
	}
	return v
}

func lgAppendProblem(p []string, s string) []string {
	if len(p) < lgMaxErrors {
		p = append(p, s)
	}
	return p
}

func (l *lgRun) verifyOne(ctx context.Context, c *lgCall) lgVerifyOne {
	var out lgVerifyOne
	loc := c.resp.Location
	if loc == "" {
		loc = "/api/v1/recordings/" + url.PathEscape(c.resp.ID)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		out.err = fmt.Errorf("bad location %q", loc)
		return out
	}
	u := l.cfg.url.ResolveReference(ref)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		out.err = err
		return out
	}
	req.SetBasicAuth(l.cfg.apiUser, l.cfg.apiPassword)
	req.Header.Set("Accept", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		out.err = err
		return out
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		out.err = err
		return out
	}
	if resp.StatusCode != http.StatusOK {
		out.err = fmt.Errorf("GET %s: HTTP %d %s", u.Path, resp.StatusCode, lgShorten(strings.TrimSpace(string(b)), 200))
		return out
	}
	var doc struct {
		Streams []lgStreamView `json:"streams"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		out.err = fmt.Errorf("GET %s: %w", u.Path, err)
		return out
	}
	sent := int64(c.sent)
	recv := map[uint32]int64{}
	matched := false
	var total int64
	for _, s := range doc.Streams {
		total += s.Packets
		out.appLost += s.Lost
		out.duplicates += s.Duplicates
		if ssrc, ok := lgParseSSRC(s.SSRC); ok && (ssrc == c.ssrc[0] || ssrc == c.ssrc[1]) {
			recv[ssrc] += s.Packets
			matched = true
		}
	}
	out.noStreams = len(doc.Streams) == 0
	if matched {
		for _, ssrc := range c.ssrc {
			if n, ok := recv[ssrc]; ok {
				out.found++
				out.received += n
				out.lost += max(0, sent-n)
			} else {
				out.lost += sent
			}
		}
		return out
	}
	// No SSRC to match on: compare totals.
	out.unmatched = !out.noStreams
	out.found = min(2, len(doc.Streams))
	out.received = total
	out.lost = max(0, 2*sent-total)
	return out
}

// lgParseSSRC reads an SSRC given as a JSON number, or as a string in hex
// ("0x1234abcd") or decimal.
func lgParseSSRC(raw json.RawMessage) (uint32, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
		if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
			n, err := strconv.ParseUint(h, 16, 32)
			return uint32(n), err == nil
		}
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err == nil
	}
	n, err := strconv.ParseUint(string(raw), 10, 32)
	return uint32(n), err == nil
}

// Daemon measurement through /proc.

type lgProcSample struct {
	at    time.Time
	ticks uint64 // utime + stime, in clock ticks
	rss   uint64 // KiB
	anon  uint64 // KiB of RssAnon: heap, stacks, buffers (not the mmap'd archive file)
}

type lgDaemonReport struct {
	PID           int     `json:"pid"`
	Error         string  `json:"error,omitempty"`
	SteadyMs      float64 `json:"steadyMs"`
	Samples       int     `json:"samples"`
	CPUOneCore    float64 `json:"cpuPercentOneCore"`
	CPUMachine    float64 `json:"cpuPercentMachine"`
	NumCPU        int     `json:"numCPU"`
	RSSBeforeKiB  uint64  `json:"rssBeforeKiB"`
	RSSPeakKiB    uint64  `json:"rssPeakKiB"`
	RSSPerCallKiB float64 `json:"rssPerOpenCallKiB"`
	// Anonymous memory (RssAnon): what open calls really cost. RSS also
	// counts the archive file's pages mapped into the process, which grow
	// with the data written and are the kernel's to reclaim.
	AnonBeforeKiB  uint64  `json:"anonBeforeKiB"`
	AnonPeakKiB    uint64  `json:"anonPeakKiB"`
	AnonPerCallKiB float64 `json:"anonPerOpenCallKiB"`
}

func lgReadProc(pid int) (lgProcSample, error) {
	s := lgProcSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	s.ticks = ut + st
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	found := false
	for line := range strings.Lines(string(status)) {
		var dst *uint64
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if ok {
			dst, found = &s.rss, true
		} else if rest, ok = strings.CutPrefix(line, "RssAnon:"); ok {
			dst = &s.anon
		} else {
			continue
		}
		f := strings.Fields(rest)
		if len(f) >= 1 {
			*dst, err = strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return s, err
			}
			if len(f) > 1 && strings.EqualFold(f[1], "mB") {
				*dst *= 1024
			}
		}
	}
	if !found {
		return s, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return s, nil
}

// lgSampleProc samples pid at start, every second, and at end, and reports
// its CPU use over [start, end] and its peak RSS then.
func lgSampleProc(ctx context.Context, pid int, before lgProcSample, start, end time.Time, calls int) *lgDaemonReport {
	r := &lgDaemonReport{PID: pid, NumCPU: runtime.NumCPU(), RSSBeforeKiB: before.rss, AnonBeforeKiB: before.anon}
	if end.Sub(start) < 200*time.Millisecond {
		r.Error = "no steady state to measure: --duration must exceed --ramp"
		return r
	}
	wait := func(t time.Time) bool {
		tm := time.NewTimer(time.Until(t))
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-tm.C:
			return true
		}
	}
	var samples []lgProcSample
	for at := start; ; {
		if !wait(at) {
			r.Error = "interrupted"
			return r
		}
		s, err := lgReadProc(pid)
		if err != nil {
			r.Error = err.Error()
			return r
		}
		samples = append(samples, s)
		if !at.Before(end) {
			break
		}
		if at = at.Add(time.Second); at.After(end) {
			at = end
		}
	}
	first, last := samples[0], samples[len(samples)-1]
	r.Samples = len(samples)
	r.SteadyMs = lgMs(last.at.Sub(first.at))
	if secs := last.at.Sub(first.at).Seconds(); secs > 0 {
		r.CPUOneCore = math.Round(float64(last.ticks-first.ticks)/lgClockTicks/secs*1000) / 10
		r.CPUMachine = math.Round(r.CPUOneCore/float64(r.NumCPU)*100) / 100
	}
	for _, s := range samples {
		r.RSSPeakKiB = max(r.RSSPeakKiB, s.rss)
		r.AnonPeakKiB = max(r.AnonPeakKiB, s.anon)
	}
	if calls > 0 && r.AnonPeakKiB > before.anon {
		r.AnonPerCallKiB = math.Round(float64(r.AnonPeakKiB-before.anon)/float64(calls)*10) / 10
	}
	if calls > 0 && r.RSSPeakKiB > before.rss {
		r.RSSPerCallKiB = math.Round(float64(r.RSSPeakKiB-before.rss)/float64(calls)*10) / 10
	}
	return r
}
