package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recorder"
)

// settingsWatcher applies the admin settings at runtime: trace levels go
// to the subsystems' loggers at once, and turning sealing on seals the
// recordings stored while it was off, in one background goroutine that
// stop ends (progress: archive Stats().SealBacklog). At start it also
// purges expired UI sessions.
type settingsWatcher struct {
	arc    *archive.Archive
	rec    *recorder.Recorder
	levels *LogLevels
	log    *slog.Logger

	kick   chan struct{} // buffered 1: sealing was turned on
	cancel context.CancelFunc
	wg     sync.WaitGroup
	unwat  func()
}

func watchSettings(ctx context.Context, arc *archive.Archive, rec *recorder.Recorder, levels *LogLevels, log *slog.Logger) *settingsWatcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &settingsWatcher{arc: arc, rec: rec, levels: levels, log: log, kick: make(chan struct{}, 1), cancel: cancel}
	if s, err := arc.Settings(ctx); err != nil {
		log.Error("settings unreadable; using the configured log levels", "err", err)
	} else {
		w.apply(s)
	}
	if n, err := arc.PurgeSessions(ctx); err != nil {
		log.Warn("expired sessions not purged", "err", err)
	} else if n > 0 {
		log.Info("expired sessions purged", "sessions", n)
	}
	w.unwat = arc.WatchSettings(w.apply)
	w.wg.Add(1)
	go w.sealLoop(ctx)
	return w
}

// reapply applies the stored settings again, after a reload has set the
// configuration file's levels.
func (w *settingsWatcher) reapply(ctx context.Context) {
	s, err := w.arc.Settings(ctx)
	if err != nil {
		w.log.Error("settings unreadable after reload", "err", err)
		return
	}
	w.apply(s)
}

// apply runs in the goroutine that stored the settings: it only sets
// levels and signals the sealing goroutine.
func (w *settingsWatcher) apply(s archive.Settings) {
	for sub, lv := range s.TraceLevels {
		l, err := parseLevel(lv)
		if err == nil {
			err = w.levels.SetLevel(sub, l)
		}
		if err != nil {
			w.log.Warn("trace level not applied", "subsystem", sub, "err", err)
		}
	}
	if s.Sealing {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *settingsWatcher) sealLoop(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		if w.arc.Stats().SealBacklog == 0 {
			continue
		}
		n, err := w.rec.SealBacklog(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("sealing the backlog failed", "sealed", n, "err", err)
		}
	}
}

// stop ends the watcher and waits for the sealing goroutine.
func (w *settingsWatcher) stop() {
	w.unwat()
	w.cancel()
	w.wg.Wait()
}
