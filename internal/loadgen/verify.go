package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Verification: read each recording back through the API.

type VerifyReport struct {
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

type streamView struct {
	SSRC       json.RawMessage `json:"ssrc"`
	Packets    int64           `json:"packets"`
	Lost       int64           `json:"lost"`
	Duplicates int64           `json:"duplicates"`
}

type verifyResult struct {
	err                  error
	found                int
	received, lost       int64
	appLost, duplicates  int64
	unmatched, noStreams bool
}

func (l *run) verifyAll(ctx context.Context) *VerifyReport {
	v := &VerifyReport{}
	var todo []*call
	for _, c := range l.calls {
		if c.started && c.err == nil && c.status == http.StatusCreated && (c.resp.ID != "" || c.resp.Location != "") {
			todo = append(todo, c)
		}
	}
	results := make([]verifyResult, len(todo))
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
			v.Problems = appendProblem(v.Problems, fmt.Sprintf("%s: %v", c.name, r.err))
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
			v.Problems = appendProblem(v.Problems, c.name+": recording has no streams")
		case r.unmatched:
			v.Problems = appendProblem(v.Problems, c.name+": no stream matched a sent SSRC; compared totals")
		}
		if r.lost > 0 {
			v.Problems = appendProblem(v.Problems, fmt.Sprintf("%s: %d of %d packets missing", c.name, r.lost, 2*c.sent))
		}
	}
	return v
}

func appendProblem(p []string, s string) []string {
	if len(p) < maxErrors {
		p = append(p, s)
	}
	return p
}

func (l *run) verifyOne(ctx context.Context, c *call) verifyResult {
	var out verifyResult
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
	req.SetBasicAuth(l.cfg.APIUser, l.cfg.APIPassword)
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
		out.err = fmt.Errorf("GET %s: HTTP %d %s", u.Path, resp.StatusCode, shorten(strings.TrimSpace(string(b)), 200))
		return out
	}
	var doc struct {
		Streams []streamView `json:"streams"`
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
		if ssrc, ok := parseSSRC(s.SSRC); ok && (ssrc == c.ssrc[0] || ssrc == c.ssrc[1]) {
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

// parseSSRC reads an SSRC given as a JSON number, or as a string in hex
// ("0x1234abcd") or decimal.
func parseSSRC(raw json.RawMessage) (uint32, bool) {
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
