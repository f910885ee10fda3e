package main

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recorder"
)

// metrics is the daemon's Prometheus registry. The libraries know nothing
// of it: it reads their Stats and Usage snapshots at scrape time, and the
// archive's commit hook and the HTTP middleware feed its histograms.
type metrics struct {
	reg *prometheus.Registry

	commitOps     prometheus.Histogram
	commitBytes   prometheus.Histogram
	commitSeconds prometheus.Histogram
	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.commitOps = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callvault_commit_batch_ops", Help: "Operations (chunks, metadata updates) per group commit.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	m.commitBytes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callvault_commit_batch_bytes", Help: "Chunk bytes written per group commit.",
		Buckets: prometheus.ExponentialBuckets(64<<10, 2, 10),
	})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callvault_commit_duration_seconds", Help: "Time of a group commit, fsync included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callvault_http_requests_total", Help: "HTTP requests by listener, route pattern and status code.",
	}, []string{"listener", "route", "code"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callvault_http_request_duration_seconds", Help: "HTTP request time by listener and route pattern (uploads last as long as the call).",
		Buckets: []float64{.005, .025, .1, .5, 2.5, 10, 60, 600, 3600},
	}, []string{"listener", "route"})
	m.reg.MustRegister(m.commitOps, m.commitBytes, m.commitSeconds, m.requests, m.requestTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// onCommit is the archive's Options.OnCommit.
func (m *metrics) onCommit(ops int, bytes int64, d time.Duration) {
	m.commitOps.Observe(float64(ops))
	m.commitBytes.Observe(float64(bytes))
	m.commitSeconds.Observe(d.Seconds())
}

// watch registers the collectors that read the archive and the recorder.
func (m *metrics) watch(arc *archive.Archive, rec *recorder.Recorder) {
	m.reg.MustRegister(&snapshotCollector{arc: arc, rec: rec})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// instrument counts a listener's requests by the pattern that served them.
func (m *metrics) instrument(listener string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := r.Pattern // set by the mux that served the request
			if route == "" {
				route = "unmatched"
			}
			code := sw.code.Load()
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(listener, route, strconv.Itoa(int(code))).Inc()
			m.requestTime.WithLabelValues(listener, route).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status code; Unwrap keeps
// http.ResponseController (deadlines, flush) working through it.
type statusWriter struct {
	http.ResponseWriter
	code atomic.Int32
}

func (w *statusWriter) WriteHeader(code int) {
	w.code.CompareAndSwap(0, int32(code))
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.code.CompareAndSwap(0, http.StatusOK)
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var (
	descOpen        = prometheus.NewDesc("callvault_uploads_open", "Uploads being received now.", nil, nil)
	descUploads     = prometheus.NewDesc("callvault_uploads_total", "Uploads accepted since start.", nil, nil)
	descRefused     = prometheus.NewDesc("callvault_uploads_refused_total", "Uploads refused (bad name, not a capture) since start.", nil, nil)
	descFailed      = prometheus.NewDesc("callvault_uploads_failed_total", "Uploads that failed in storage since start.", nil, nil)
	descBytes       = prometheus.NewDesc("callvault_ingest_bytes_total", "Capture bytes stored since start.", nil, nil)
	descPackets     = prometheus.NewDesc("callvault_ingest_packets_total", "RTP packets taken into streams since start.", nil, nil)
	descLost        = prometheus.NewDesc("callvault_ingest_lost_packets_total", "RTP packets lost (sequence gaps) in recordings stored since start.", nil, nil)
	descStored      = prometheus.NewDesc("callvault_recordings_stored_total", "Recordings stored since start, by final state.", []string{"state"}, nil)
	descRecordings  = prometheus.NewDesc("callvault_recordings", "Recordings in the archive by state: recording (upload open or cut off), unsealed, sealed.", []string{"state"}, nil)
	descSealQueue   = prometheus.NewDesc("callvault_seal_queue", "Recordings finished but not yet sealed.", nil, nil)
	descSealing     = prometheus.NewDesc("callvault_sealing", "Recordings whose seal is being computed now.", nil, nil)
	descExportsDue  = prometheus.NewDesc("callvault_exports_queue", "Recordings sealed whose export hashes (sealed after the upload's answer) are not sealed yet.", nil, nil)
	descWhoQueue    = prometheus.NewDesc("callvault_who_index_queue", "Recordings finished whose who and search index keys the background indexer has not written yet (they are listed all the same).", nil, nil)
	descFileSize    = prometheus.NewDesc("callvault_db_file_bytes", "Size of the archive file.", nil, nil)
	descChunkFile   = prometheus.NewDesc("callvault_chunk_file_bytes", "Disk space the archive's chunk file takes (its released ranges take none).", nil, nil)
	descFreePages   = prometheus.NewDesc("callvault_db_free_pages", "Free pages in the archive file (reused before it grows; see callvault compact).", nil, nil)
	descPageSize    = prometheus.NewDesc("callvault_db_page_bytes", "Page size of the archive file.", nil, nil)
	descCommits     = prometheus.NewDesc("callvault_commits_total", "Group commits since start.", nil, nil)
	descChunkBytes  = prometheus.NewDesc("callvault_commit_bytes_total", "Sealed chunk bytes committed since start.", nil, nil)
	descUsageErrors = prometheus.NewDesc("callvault_db_usage_errors", "1 when the archive usage could not be read at this scrape.", nil, nil)
)

// snapshotCollector turns Stats and Usage into metrics at scrape time.
type snapshotCollector struct {
	arc *archive.Archive
	rec *recorder.Recorder
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpen, descUploads, descRefused, descFailed, descBytes, descPackets, descLost,
		descStored, descRecordings, descSealQueue, descSealing, descExportsDue, descWhoQueue, descFileSize, descChunkFile, descFreePages, descPageSize,
		descCommits, descChunkBytes, descUsageErrors} {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.rec.Stats()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge(descOpen, float64(s.OpenUploads))
	gauge(descSealing, float64(s.Sealing))
	counter(descUploads, s.Uploads)
	counter(descRefused, s.Refused)
	counter(descFailed, s.Failed)
	counter(descBytes, s.Bytes)
	counter(descPackets, s.Packets)
	counter(descLost, s.Lost)
	counter(descStored, s.Complete, "complete")
	counter(descStored, s.Interrupted, "interrupted")
	as := c.arc.Stats()
	counter(descCommits, as.Commits)
	counter(descChunkBytes, as.Bytes)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := c.arc.Usage(ctx)
	if err != nil {
		gauge(descUsageErrors, 1)
		return
	}
	gauge(descUsageErrors, 0)
	gauge(descFileSize, float64(u.FileSize))
	gauge(descChunkFile, float64(u.ChunkFileBytes))
	gauge(descFreePages, float64(u.FreePages))
	gauge(descPageSize, float64(u.PageSize))
	gauge(descSealQueue, float64(u.Unsealed))
	gauge(descExportsDue, float64(u.ExportsDue))
	gauge(descWhoQueue, float64(u.WhoQueue))
	gauge(descRecordings, float64(u.Unfinished), "recording")
	gauge(descRecordings, float64(u.Unsealed), "unsealed")
	gauge(descRecordings, float64(max(u.Recordings-u.Unfinished-u.Unsealed, 0)), "sealed")
}
