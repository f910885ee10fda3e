package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is the run's summary (also --report).
type Report struct {
	Calls             int            `json:"calls"`
	Streams           int            `json:"streams"`
	DurationMs        float64        `json:"durationMs"`
	RampMs            float64        `json:"rampMs"`
	Codec             string         `json:"codec"`
	Schedulers        int            `json:"schedulers"`
	URL               string         `json:"url"`
	Interrupted       bool           `json:"interrupted,omitempty"`
	WallMs            float64        `json:"wallMs"`
	Started           int            `json:"started"`
	OK                int            `json:"ok"`
	Failed            int            `json:"failed"`
	NotStarted        int            `json:"notStarted,omitempty"`
	PacketsSent       int64          `json:"packetsSent"`
	BytesSent         int64          `json:"bytesSent"`
	Ticks             int64          `json:"ticks"`
	LateTicks         int64          `json:"lateTicks"`
	MaxLateMs         float64        `json:"maxLateMs"`
	BackpressureTicks int64          `json:"backpressureTicks"`
	CallsBackpressed  int            `json:"callsBackpressured"`
	Aborted           int            `json:"abortedNotReading"`
	HTTPStatus        map[string]int `json:"httpStatus"`
	States            map[string]int `json:"states,omitempty"`
	LatencyMs         *Latency       `json:"uploadLatencyMs,omitempty"`
	Errors            []string       `json:"errors,omitempty"`
	Verify            *VerifyReport  `json:"verify,omitempty"`
	Daemon            *DaemonReport  `json:"daemon,omitempty"`
	Uploads           []UploadReport `json:"uploads"`
}

type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type UploadReport struct {
	Name      string  `json:"name"`
	Status    int     `json:"status,omitempty"`
	ID        string  `json:"id,omitempty"`
	State     string  `json:"state,omitempty"`
	Packets   int     `json:"packetsPerStream"`
	Bytes     int64   `json:"bytes"`
	LatencyMs float64 `json:"latencyMs,omitempty"`
	Error     string  `json:"error,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

const maxErrors = 20

func (l *run) summarize(scheds []*scheduler, nsched int, interrupted bool) *Report {
	rep := &Report{
		Calls: len(l.calls), Streams: l.cfg.Streams, DurationMs: ms(l.cfg.Duration), RampMs: ms(l.cfg.Ramp),
		Codec: l.cfg.Codec, Schedulers: nsched, URL: l.cfg.url.Redacted(), Interrupted: interrupted,
		HTTPStatus: map[string]int{}, States: map[string]int{}, Uploads: []UploadReport{},
	}
	var maxLate time.Duration
	for _, s := range scheds {
		rep.Ticks += s.ticks
		rep.LateTicks += s.late
		maxLate = max(maxLate, s.maxLate)
		rep.BackpressureTicks += s.backpress
		rep.Aborted += s.aborted
	}
	rep.MaxLateMs = ms(maxLate)
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
		u := UploadReport{Name: c.name, Status: c.status, ID: c.resp.ID, State: c.resp.State, Packets: c.sent, Bytes: written}
		var problem string
		switch {
		case c.err != nil:
			rep.HTTPStatus["error"]++
			problem = c.err.Error()
		case c.status != http.StatusCreated:
			rep.HTTPStatus[strconv.Itoa(c.status)]++
			problem = fmt.Sprintf("HTTP %d %s", c.status, shorten(c.respBody, 200))
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
				u.LatencyMs = ms(d)
			}
		}
		if problem != "" {
			rep.Failed++
			u.Error = problem
			if len(rep.Errors) < maxErrors {
				rep.Errors = append(rep.Errors, c.name+": "+problem)
			}
		} else {
			rep.OK++
		}
		rep.Uploads = append(rep.Uploads, u)
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		rep.LatencyMs = &Latency{P50: ms(percentile(lat, 0.50)), P99: ms(percentile(lat, 0.99)), Max: ms(lat[len(lat)-1])}
	}
	return rep
}

// percentile is the nearest-rank percentile of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (l *run) print(stdout, stderr io.Writer, r *Report) {
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintf(w, "calls:        started %d, ok %d, failed %d", r.Started, r.OK, r.Failed)
	if r.NotStarted > 0 {
		fmt.Fprintf(w, ", not started %d", r.NotStarted)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "sent:         %d packets, %d bytes in %.1fs\n", r.PacketsSent, r.BytesSent, r.WallMs/1000)
	fmt.Fprintf(w, "pacing:       %d of %d ticks late (>%v), worst %.1fms; backpressure %d call-ticks on %d calls",
		r.LateTicks, r.Ticks, lateAfter, r.MaxLateMs, r.BackpressureTicks, r.CallsBackpressed)
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
