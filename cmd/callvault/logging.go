package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
)

// LevelTrace is below debug: per-packet and per-request detail for
// troubleshooting ("trace" in the config file).
const LevelTrace = slog.LevelDebug - 4

// Subsystems whose log level can be set on its own, in the config file
// ([log.levels]) and at runtime through LogLevels.
const (
	subsysRecording   = "recording"
	subsysCallInfo    = "call_information"
	subsysConversion  = "conversion"
	subsysLicense     = "license"
	subsysGUI         = "gui"
	subsysConnections = "connections"
)

var subsystems = []string{subsysRecording, subsysCallInfo, subsysConversion, subsysLicense, subsysGUI, subsysConnections}

// parseLevel reads trace, debug, info, warn or error (slog's forms such as
// "debug+2" too).
func parseLevel(s string) (slog.Level, error) {
	if strings.EqualFold(s, "trace") {
		return LevelTrace, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("level %q: use trace, debug, info, warn or error", s)
	}
	return l, nil
}

// LogLevels holds the level of the daemon's log and of each subsystem's
// logger. Levels change at runtime (SIGHUP re-reads the config file; the
// admin UI calls SetLevel); loggers made before keep following them. Safe
// for concurrent use.
type LogLevels struct {
	handler slog.Handler // writes everything; levels filter in front of it
	base    slog.LevelVar
	vars    map[string]*slog.LevelVar
}

func newLogLevels(c LogConfig, w io.Writer) *LogLevels {
	opt := &slog.HandlerOptions{Level: LevelTrace - 4, ReplaceAttr: replaceLevelName}
	var h slog.Handler = slog.NewTextHandler(w, opt)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opt)
	}
	l := &LogLevels{handler: h, vars: make(map[string]*slog.LevelVar, len(subsystems))}
	for _, s := range subsystems {
		l.vars[s] = new(slog.LevelVar)
	}
	l.apply(c)
	return l
}

// replaceLevelName prints LevelTrace as TRACE rather than DEBUG-4.
func replaceLevelName(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l == LevelTrace {
			a.Value = slog.StringValue("TRACE")
		}
	}
	return a
}

// apply sets every level from the configuration (validated before).
func (l *LogLevels) apply(c LogConfig) {
	base, _ := parseLevel(c.Level)
	l.base.Set(base)
	for _, s := range subsystems {
		lv := base
		if v := c.Levels.get(s); v != "" {
			lv, _ = parseLevel(v)
		}
		l.vars[s].Set(lv)
	}
}

// Subsystems lists the names SetLevel accepts, in a fixed order.
func (l *LogLevels) Subsystems() []string { return slices.Clone(subsystems) }

// Level returns a subsystem's current level.
func (l *LogLevels) Level(name string) (slog.Level, bool) {
	v, ok := l.vars[name]
	if !ok {
		return 0, false
	}
	return v.Level(), true
}

// SetLevel changes a subsystem's level at once, for every logger of it.
func (l *LogLevels) SetLevel(name string, lv slog.Level) error {
	v, ok := l.vars[name]
	if !ok {
		return fmt.Errorf("unknown log subsystem %q", name)
	}
	v.Set(lv)
	return nil
}

// Root is the daemon's own logger, at log.level.
func (l *LogLevels) Root() *slog.Logger {
	return slog.New(&levelHandler{h: l.handler, level: &l.base})
}

// Logger is the logger of a subsystem, tagged subsystem=name.
func (l *LogLevels) Logger(name string) *slog.Logger {
	v, ok := l.vars[name]
	if !ok {
		return l.Root().With("subsystem", name)
	}
	return slog.New(&levelHandler{h: l.handler, level: v}).With("subsystem", name)
}

// levelHandler filters records below a level that may change at runtime.
type levelHandler struct {
	h     slog.Handler
	level slog.Leveler
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.h.Handle(ctx, r)
}
func (h *levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &levelHandler{h: h.h.WithAttrs(a), level: h.level}
}
func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{h: h.h.WithGroup(name), level: h.level}
}
