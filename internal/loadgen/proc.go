package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Measuring the daemon through /proc.

type procSample struct {
	at    time.Time
	ticks uint64 // utime + stime, in clock ticks
	rss   uint64 // KiB
	anon  uint64 // KiB of RssAnon: heap, stacks, buffers (not the mmap'd archive file)
}

type DaemonReport struct {
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

func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
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

// sampleProc samples pid at start, every second, and at end, and reports
// its CPU use over [start, end] and its peak RSS then.
func sampleProc(ctx context.Context, pid int, before procSample, start, end time.Time, calls int) *DaemonReport {
	r := &DaemonReport{PID: pid, NumCPU: runtime.NumCPU(), RSSBeforeKiB: before.rss, AnonBeforeKiB: before.anon}
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
	var samples []procSample
	for at := start; ; {
		if !wait(at) {
			r.Error = "interrupted"
			return r
		}
		s, err := readProc(pid)
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
	r.SteadyMs = ms(last.at.Sub(first.at))
	if secs := last.at.Sub(first.at).Seconds(); secs > 0 {
		r.CPUOneCore = math.Round(float64(last.ticks-first.ticks)/clockTicks/secs*1000) / 10
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
