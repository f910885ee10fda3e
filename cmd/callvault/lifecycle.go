package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/callvault/callvault/archive"
)

// The recording lifecycle job: archive.Expire (retention, seat grace and
// the recycle bin's expiry) at start and then daily at runHour:runMinute
// local time, in the time zone of the appliance settings (read again for
// every run, so a changed zone applies from the next day). Each run is
// logged and recorded in the audit log ("lifecycle.run" with the counts;
// Expire writes a "lifecycle.delete" entry naming each recording it
// deletes); a run that fails is tried again an hour later.

const (
	runHour, runMinute = 0, 5
	retryAfter         = time.Hour
)

// lifecycleJob runs the lifecycle rules.
type lifecycleJob struct {
	arc *archive.Archive
	log *slog.Logger
	now func() time.Time
	// ran, when set, receives each run's result (tests).
	ran func(archive.ExpireResult)
}

// startLifecycle starts the job; stop ends it and waits for a run in
// progress to give up.
func startLifecycle(ctx context.Context, arc *archive.Archive, log *slog.Logger, ran func(archive.ExpireResult)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	j := &lifecycleJob{arc: arc, log: log, now: arc.Now, ran: ran}
	done := make(chan struct{})
	go func() {
		defer close(done)
		j.loop(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (j *lifecycleJob) loop(ctx context.Context) {
	for {
		ok := j.run(ctx)
		if ctx.Err() != nil {
			return
		}
		now := j.now()
		next := nextRun(now, j.zone(ctx))
		if !ok && next.Sub(now) > retryAfter {
			next = now.Add(retryAfter)
		}
		j.log.Debug("lifecycle: next run", "at", next.Format(time.RFC3339))
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// run applies the rules once; false when the run failed.
func (j *lifecycleJob) run(ctx context.Context) bool {
	res, err := j.arc.Expire(ctx)
	if err != nil {
		if ctx.Err() == nil {
			j.log.Error("lifecycle run failed; trying again later", "err", err)
		}
		return false
	}
	if res.Skipped {
		j.log.Info("lifecycle run skipped: another daemon on this archive is running it")
		return true
	}
	detail := fmt.Sprintf("deleted: %d by retention, %d by seat grace, %d from the recycle bin; kept for a legal hold: %d; failed: %d",
		res.Retention, res.Grace, res.Bin, res.Protected, res.Failed)
	lvl := slog.LevelInfo
	if res.Failed > 0 {
		lvl = slog.LevelWarn
	}
	j.log.Log(ctx, lvl, "lifecycle run", "removed", res.Removed(), "retention", res.Retention, "seat_grace", res.Grace,
		"recycle_bin", res.Bin, "protected_kept", res.Protected, "failed", res.Failed)
	if err := j.arc.Audit(ctx, archive.AuditEvent{
		Actor: archive.SystemActor, Action: "lifecycle.run", Target: "recordings", OK: res.Failed == 0, Detail: detail,
	}); err != nil && ctx.Err() == nil {
		j.log.Error("lifecycle: audit log write failed", "err", err)
	}
	if j.ran != nil {
		j.ran(res)
	}
	return true
}

// zone is the settings' time zone (UTC when it cannot be read).
func (j *lifecycleJob) zone(ctx context.Context) *time.Location {
	s, err := j.arc.Settings(ctx)
	if err != nil {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// nextRun is the first runHour:runMinute in loc after now.
func nextRun(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	next := time.Date(t.Year(), t.Month(), t.Day(), runHour, runMinute, 0, 0, loc)
	if !next.After(t) {
		next = time.Date(t.Year(), t.Month(), t.Day()+1, runHour, runMinute, 0, 0, loc)
	}
	return next
}
