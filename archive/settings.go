package archive

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// Settings are the appliance's administrator settings, stored encrypted
// under the state key.
type Settings struct {
	// PBXName is shown in the header of every page and in the PDF.
	PBXName string
	// TimeZone is an IANA name ("Europe/Berlin") used to show times.
	TimeZone string
	// Sealing on: every finished recording is sealed at once. Off: Seal
	// defers (the recording stays unsealed, listed by Unsealed) until it
	// is turned on again, when the backlog is sealed in the background.
	Sealing bool
	// TraceLevels maps a subsystem (see TraceSubsystems) to a log level:
	// trace, debug, info, warn or error. A missing subsystem means info.
	TraceLevels map[string]string
	// RetentionDays: recordings whose call started before local midnight
	// of the day this many days ago are purged by Expire (protected
	// ones excepted); 0 turns retention off. 0..MaxRetentionDays.
	RetentionDays int
	// RecycleBinDays: recycle-bin entries are purged this many days after
	// they were deleted. 1..MaxRetentionDays.
	RecycleBinDays int
	// MaskDTMF: every upload is stored with its DTMF tones masked (their
	// audio replaced by silence, their digits not kept). Off, only the
	// uploads of users with User.MaskDTMF are.
	MaskDTMF bool
}

// Bounds and defaults of the lifecycle settings.
const (
	MaxRetentionDays      = 11000
	DefaultRecycleBinDays = 30
)

// TraceSubsystems returns the subsystems whose log level Settings set.
func TraceSubsystems() []string {
	return []string{"recording", "call_information", "conversion", "license", "gui", "connections"}
}

// TraceLevelValid reports whether s is a level TraceLevels accepts.
func TraceLevelValid(s string) bool {
	switch s {
	case "trace", "debug", "info", "warn", "error":
		return true
	}
	return false
}

// DefaultSettings are the settings of an archive where none were stored:
// sealing on, time zone UTC, every subsystem at info, retention off,
// recycle-bin entries kept 30 days.
func DefaultSettings() Settings {
	return Settings{PBXName: "", TimeZone: "UTC", Sealing: true, TraceLevels: map[string]string{},
		RecycleBinDays: DefaultRecycleBinDays}
}

const (
	maxPBXName   = 128
	aadSettings  = "callvault settings\x00"
	settingsKey  = "settings"
	maxTZNameLen = 64
	settingsV1   = 1
)

type settingsRecord struct {
	V           int               `json:"v"`
	PBXName     string            `json:"pbxName,omitempty"`
	TimeZone    string            `json:"timeZone"`
	SealingOff  bool              `json:"sealingOff,omitempty"`
	TraceLevels map[string]string `json:"traceLevels,omitempty"`
	Retention   int               `json:"retentionDays,omitempty"`
	BinDays     int               `json:"recycleBinDays,omitempty"` // 0: default
	MaskDTMF    bool              `json:"maskDtmf,omitempty"`
}

// Validate reports settings PutSettings would refuse: a PBX name over 128
// bytes or with control characters, an unknown time zone, an unknown
// subsystem or level, retention or recycle-bin days out of bounds.
func (s Settings) Validate() error {
	if len(s.PBXName) > maxPBXName || !plainText(s.PBXName) {
		return fmt.Errorf("archive: settings: pbx name longer than %d bytes or not text: %w", maxPBXName, ErrInvalid)
	}
	if s.TimeZone == "" || len(s.TimeZone) > maxTZNameLen || !utf8.ValidString(s.TimeZone) {
		return fmt.Errorf("archive: settings: time zone: %w", ErrInvalid)
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || strings.EqualFold(s.TimeZone, "Local") {
		return fmt.Errorf("archive: settings: unknown time zone %q: %w", s.TimeZone, ErrInvalid)
	}
	if s.RetentionDays < 0 || s.RetentionDays > MaxRetentionDays {
		return fmt.Errorf("archive: settings: retention %d days outside 0..%d (0 = off): %w", s.RetentionDays, MaxRetentionDays, ErrInvalid)
	}
	if s.RecycleBinDays < 1 || s.RecycleBinDays > MaxRetentionDays {
		return fmt.Errorf("archive: settings: recycle bin %d days outside 1..%d: %w", s.RecycleBinDays, MaxRetentionDays, ErrInvalid)
	}
	subs := TraceSubsystems()
	for k, v := range s.TraceLevels {
		if !slices.Contains(subs, k) {
			return fmt.Errorf("archive: settings: unknown trace subsystem %q: %w", k, ErrInvalid)
		}
		if !TraceLevelValid(v) {
			return fmt.Errorf("archive: settings: trace level %q not trace, debug, info, warn or error: %w", v, ErrInvalid)
		}
	}
	return nil
}

func (a *Archive) settingsTx(tx kv.Tx) (Settings, error) {
	s := DefaultSettings()
	k := []byte(settingsKey)
	box := tx.Bucket(bucketSettings).Get(k)
	if box == nil {
		return s, nil
	}
	var r settingsRecord
	if err := a.openState(aadSettings, k, box, &r); err != nil || r.V != settingsV1 {
		return s, fmt.Errorf("archive: settings record: %w", ErrCorrupt)
	}
	s.PBXName, s.TimeZone, s.Sealing = r.PBXName, r.TimeZone, !r.SealingOff
	if r.TraceLevels != nil {
		s.TraceLevels = r.TraceLevels
	}
	s.RetentionDays = r.Retention
	s.MaskDTMF = r.MaskDTMF
	if r.BinDays != 0 {
		s.RecycleBinDays = r.BinDays
	}
	return s, nil
}

// Settings returns the stored settings, or DefaultSettings when none were
// stored.
func (a *Archive) Settings(ctx context.Context) (Settings, error) {
	if err := ctx.Err(); err != nil {
		return Settings{}, err
	}
	var s Settings
	err := a.view(func(tx kv.Tx) error {
		var err error
		s, err = a.settingsTx(tx)
		return err
	})
	if err != nil {
		return Settings{}, fmt.Errorf("archive: settings: %w", err)
	}
	return s, nil
}

// PutSettings validates and stores the settings (all fields: read, change,
// put) and then calls every WatchSettings function with them.
func (a *Archive) PutSettings(ctx context.Context, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.TraceLevels = maps.Clone(s.TraceLevels)
	if s.TraceLevels == nil {
		s.TraceLevels = map[string]string{}
	}
	k := []byte(settingsKey)
	box, err := a.sealState(aadSettings, k, settingsRecord{
		V: settingsV1, PBXName: s.PBXName, TimeZone: s.TimeZone, SealingOff: !s.Sealing, TraceLevels: s.TraceLevels,
		Retention: s.RetentionDays, BinDays: s.RecycleBinDays, MaskDTMF: s.MaskDTMF,
	})
	if err != nil {
		return fmt.Errorf("archive: put settings: %w", err)
	}
	err = a.update(ctx, func(tx kv.Tx) error { return tx.Bucket(bucketSettings).Put(k, box) })
	if err != nil {
		return fmt.Errorf("archive: put settings: %w", err)
	}
	a.settingsW.notify(s)
	return nil
}

// WatchSettings registers fn to be called, in the goroutine of
// PutSettings and after it has committed, with every new settings value.
// fn must be quick and must not call PutSettings. The returned function
// unregisters fn.
func (a *Archive) WatchSettings(fn func(Settings)) (stop func()) {
	return a.settingsW.add(func(s Settings) {
		s.TraceLevels = maps.Clone(s.TraceLevels) // each its own copy
		fn(s)
	})
}

// sealingTx reports whether Seal seals now; a damaged settings record
// counts as sealing on (the default).
func (a *Archive) sealingTx(tx kv.Tx) bool {
	s, err := a.settingsTx(tx)
	return err != nil || s.Sealing
}

// Sealing reports whether sealing is on.
func (a *Archive) Sealing(ctx context.Context) bool {
	on := true
	_ = a.view(func(tx kv.Tx) error { on = a.sealingTx(tx); return nil })
	return on
}

// watchers is a set of callbacks, called in the order they were added.
type watchers[T any] struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(T)
}

// add adds fn; the function it returns removes it.
func (w *watchers[T]) add(fn func(T)) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(T){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		delete(w.fns, id)
		w.mu.Unlock()
	}
}

// notify calls every callback with v, outside the lock.
func (w *watchers[T]) notify(v T) {
	w.mu.Lock()
	var fns []func(T)
	for _, id := range slices.Sorted(maps.Keys(w.fns)) {
		fns = append(fns, w.fns[id])
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(v)
	}
}
