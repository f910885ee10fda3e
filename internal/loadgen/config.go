package loadgen

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/callvault/callvault/internal/pcapwrite"
)

const (
	ptime          = 20 * time.Millisecond // packetization time
	samples        = 160                   // G.711 samples (bytes) per packet
	lateAfter      = 10 * time.Millisecond // a tick handled later than this is late
	frameLen       = pcapwrite.UDP4FrameLen + 12 + samples
	recLen         = pcapwrite.RecordHeaderLen + frameLen
	pairLen        = 2 * recLen       // one tick of one call
	patternFrames  = 100              // 2 s speech-like pattern
	backpressureAt = 2 * pairLen      // unread data older than a tick
	maxPendingTime = 10 * time.Second // unread media that aborts a call
	maxPending     = int(maxPendingTime/ptime) * pairLen
	clockTicks     = 100 // USER_HZ of /proc/PID/stat on Linux
)

// The UDP ports of a call: the device's side and the remote side.
const (
	PortDevice = 16386
	PortRemote = 16388
)

// Config is a load run's settings; the command line sets every field.
type Config struct {
	Streams         int           // RTP streams, two per call
	Duration        time.Duration // length of each call
	Ramp            time.Duration // call starts are spread over this time
	URL             string        // ingest collection URL
	User, Password  string        // ingest account
	Codec           string        // pcmu or pcma
	Verify          bool          // read each recording back through the API
	APIUser         string        // account for Verify
	APIPassword     string
	ReportFile      string // write the JSON summary here
	PID             int    // daemon process to measure, 0 for none
	Schedulers      int    // pacing goroutines
	Insecure        bool   // do not verify the appliance's TLS certificate
	ResponseTimeout time.Duration
	Version         string // of the User-Agent

	url *url.URL // URL, parsed, ending in a slash
}

// check validates c's settings (naming the command-line flags) and parses
// its URL.
func (c *Config) check() error {
	switch {
	case c.Streams <= 0 || c.Streams%2 != 0:
		return fmt.Errorf("loadgen: --streams must be a positive even number (2 per call), not %d", c.Streams)
	case c.Duration < ptime:
		return fmt.Errorf("loadgen: --duration must be at least %v", ptime)
	case c.Ramp < 0:
		return errors.New("loadgen: negative --ramp")
	case c.Codec != "pcmu" && c.Codec != "pcma":
		return fmt.Errorf("loadgen: --codec must be pcmu or pcma, not %q", c.Codec)
	case c.URL == "":
		return errors.New("loadgen: --url is required")
	case c.Password == "":
		return errors.New("loadgen: no ingest password: use --password or CALLVAULT_INGEST_PASSWORD")
	case c.Verify && c.APIUser == "":
		return errors.New("loadgen: --verify needs --api-user (an account that may read recordings)")
	case c.PID < 0:
		return errors.New("loadgen: bad --pid")
	case c.ResponseTimeout <= 0:
		return errors.New("loadgen: --response-timeout must be positive")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadgen: --url %q: want http(s)://host[:port]/path/", c.URL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	c.url = u
	if c.Schedulers < 1 {
		c.Schedulers = 1
	}
	return nil
}
