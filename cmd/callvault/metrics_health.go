package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/callvault/callvault/archive"
)

// health answers /healthz (the archive takes writes and the disk has room)
// and /readyz (recovery is done and the daemon is not shutting down).
type health struct {
	arc     *archive.Archive
	dir     string // data directory, for free space
	minFree uint64 // bytes
	ready   atomic.Bool

	mu      sync.Mutex
	checked time.Time
	lastErr error
}

// probeEvery bounds the write probes: checks in between reuse the result.
const probeEvery = 2 * time.Second

func (h *health) check(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) < probeEvery {
		return h.lastErr
	}
	h.lastErr = h.checkNow(ctx)
	h.checked = time.Now()
	return h.lastErr
}

func (h *health) checkNow(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.arc.Probe(ctx); err != nil {
		return fmt.Errorf("archive not writable: %w", err)
	}
	free, err := freeBytes(h.dir)
	if err != nil {
		return fmt.Errorf("free space of the data directory: %w", err)
	}
	if free < h.minFree {
		return fmt.Errorf("disk almost full: %d MiB free for the data directory, health.min_free_mb is %d", free>>20, h.minFree>>20)
	}
	return nil
}

// roomForUploads reports the data directory's disk below its minimum of
// free space, the condition /healthz reports, for the recorder to refuse
// new uploads (507) before reading their bodies. It looks on every call
// (one statfs), so uploads are taken again as soon as space is freed. When
// the free space cannot be read it does not refuse: the archive's own
// write errors still answer for a full disk.
func (h *health) roomForUploads() error {
	free, err := freeBytes(h.dir)
	if err != nil || free >= h.minFree {
		return nil
	}
	return fmt.Errorf("disk almost full: %d MiB free for the data directory, health.min_free_mb is %d", free>>20, h.minFree>>20)
}

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

func (h *health) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.check(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "unhealthy:", err)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !h.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
		return
	}
	fmt.Fprintln(w, "ready")
}
