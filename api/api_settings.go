package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
)

type apiSettings struct {
	PBXName     string            `json:"pbxName"`
	TimeZone    string            `json:"timeZone"`
	Sealing     bool              `json:"sealing"`
	TraceLevels map[string]string `json:"traceLevels"`
	// SealBacklog is the number of recordings waiting for their seal.
	SealBacklog int `json:"sealBacklog"`
	// RetentionDays (0: off) and RecycleBinDays drive the lifecycle job;
	// LastExpire is its last run (absent before the first).
	RetentionDays  int                   `json:"retentionDays"`
	RecycleBinDays int                   `json:"recycleBinDays"`
	LastExpire     *archive.ExpireResult `json:"lastExpire,omitempty"`
	// MaskDTMF: every upload is stored with its DTMF tones masked.
	MaskDTMF bool `json:"maskDtmf"`
}

// apiSettingsPatch: absent fields stay; traceLevels merges by subsystem.
type apiSettingsPatch struct {
	PBXName     *string           `json:"pbxName"`
	TimeZone    *string           `json:"timeZone"`
	Sealing     *bool             `json:"sealing"`
	TraceLevels map[string]string `json:"traceLevels"`
	// RetentionDays: 0..11000 (0: off); RecycleBinDays: 1..11000.
	RetentionDays  *int  `json:"retentionDays"`
	RecycleBinDays *int  `json:"recycleBinDays"`
	MaskDTMF       *bool `json:"maskDtmf"`
	// ConfirmDeletion confirms a change after which the next lifecycle
	// run deletes recordings the current settings keep: it must be at
	// least wouldDelete (the count a 409 answer or the preview gave).
	ConfirmDeletion int `json:"confirmDeletion"`
}

func (a *API) settingsJSON(r *http.Request, s archive.Settings) apiSettings {
	levels := map[string]string{}
	for _, sub := range archive.TraceSubsystems() {
		levels[sub] = "info"
	}
	maps.Copy(levels, s.TraceLevels)
	out := apiSettings{PBXName: s.PBXName, TimeZone: s.TimeZone, Sealing: s.Sealing, TraceLevels: levels,
		SealBacklog: a.arc.Stats().SealBacklog, RetentionDays: s.RetentionDays, RecycleBinDays: s.RecycleBinDays,
		MaskDTMF: s.MaskDTMF}
	if last, ok := a.arc.LastExpire(r.Context()); ok {
		out.LastExpire = &last
	}
	return out
}

func (a *API) settingsShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	s, err := a.arc.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.settingsJSON(r, s))
	return nil
}

// settingsPatchIn reads a settings patch from an admin's request, and the
// settings it applies to.
func (a *API) settingsPatchIn(w http.ResponseWriter, r *http.Request, u *archive.User) (*apiSettingsPatch, archive.Settings, error) {
	if err := requireAdmin(u); err != nil {
		return nil, archive.Settings{}, err
	}
	var p apiSettingsPatch
	if err := decodeJSON(w, r, apiMaxBody, &p); err != nil {
		return nil, archive.Settings{}, err
	}
	s, err := a.arc.Settings(r.Context())
	return &p, s, err
}

func (a *API) settingsPatch(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	p, s, err := a.settingsPatchIn(w, r, u)
	if err != nil {
		return err
	}
	ctx := r.Context()
	old := s
	var changed []string
	if p.PBXName != nil {
		s.PBXName = strings.TrimSpace(*p.PBXName)
		changed = append(changed, "pbxName")
	}
	if p.TimeZone != nil {
		s.TimeZone = strings.TrimSpace(*p.TimeZone)
		changed = append(changed, "timeZone="+s.TimeZone)
	}
	if p.Sealing != nil {
		s.Sealing = *p.Sealing
		changed = append(changed, fmt.Sprintf("sealing=%v", s.Sealing))
	}
	if p.MaskDTMF != nil {
		s.MaskDTMF = *p.MaskDTMF
		changed = append(changed, fmt.Sprintf("maskDtmf=%v", s.MaskDTMF))
	}
	subs := archive.TraceSubsystems()
	for _, k := range slices.Sorted(maps.Keys(p.TraceLevels)) {
		v := p.TraceLevels[k]
		if !slices.Contains(subs, k) {
			return errStatus(http.StatusBadRequest, fmt.Sprintf("traceLevels: unknown subsystem %q (known: %s)", k, strings.Join(subs, ", ")))
		}
		if !archive.TraceLevelValid(v) {
			return errStatus(http.StatusBadRequest, fmt.Sprintf("traceLevels.%s must be trace, debug, info, warn or error", k))
		}
		if s.TraceLevels == nil {
			s.TraceLevels = map[string]string{}
		}
		s.TraceLevels[k] = v
		changed = append(changed, "trace."+k+"="+v)
	}
	lc, err := patchLifecycle(&s, p)
	if err != nil {
		return err
	}
	changed = append(changed, lc...)
	if len(changed) == 0 {
		return errStatus(http.StatusBadRequest, "nothing to change")
	}
	if len(s.PBXName) > 128 || !utf8.ValidString(s.PBXName) || strings.ContainsFunc(s.PBXName, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errStatus(http.StatusBadRequest, "pbxName: at most 128 bytes of text")
	}
	if err := s.Validate(); err != nil {
		return invalid(err, "timeZone must be an IANA time zone name such as Europe/Berlin or UTC")
	}
	pv, err := webcore.LifecycleChange(ctx, a.arc, old, s)
	if err != nil {
		return err
	}
	if pv.WouldDelete > p.ConfirmDeletion {
		writeJSON(w, http.StatusConflict, map[string]any{
			"error":       webcore.DeletionWarning(pv.WouldDelete) + ` Send the change again with "confirmDeletion": ` + strconv.Itoa(pv.WouldDelete) + " to save it.",
			"wouldDelete": pv.WouldDelete,
		})
		return nil
	}
	if pv.WouldDelete > 0 {
		changed = append(changed, fmt.Sprintf("confirmed: the next lifecycle run deletes %d more recordings", pv.WouldDelete))
	}
	if err := a.arc.PutSettings(ctx, s); err != nil {
		return invalid(err, "settings refused")
	}
	a.auditChange(r, u, "settings.change", "settings", strings.Join(changed, ", "))
	writeJSON(w, http.StatusOK, a.settingsJSON(r, s))
	return nil
}

// settingsPreview is POST /api/v1/settings/preview: what the next
// lifecycle run would delete if the settings patch in the body were saved
// (the lifecycle run's own rules, archive.PreviewExpire). Nothing changes.
func (a *API) settingsPreview(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	p, s, err := a.settingsPatchIn(w, r, u)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if p.TimeZone != nil {
		s.TimeZone = strings.TrimSpace(*p.TimeZone)
	}
	if _, err := patchLifecycle(&s, p); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return invalid(err, "timeZone must be an IANA time zone name such as Europe/Berlin or UTC")
	}
	pv, err := a.arc.PreviewExpire(ctx, s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pv)
	return nil
}

// SetKeyFile tells the API which key file POST /api/v1/settings/key
// rotates; "" when the archive is unlocked with a passphrase (then only a
// new passphrase can be set).
func (a *API) SetKeyFile(path string) { a.keyFile = path }

func (a *API) settingsKey(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	var in struct {
		Mode            string `json:"mode"`
		Passphrase      string `json:"passphrase"`
		CurrentPassword string `json:"currentPassword"`
	}
	if err := decodeJSON(w, r, apiMaxBody, &in); err != nil {
		return err
	}
	ctx := r.Context()
	switch in.Mode {
	case "keyfile", "passphrase":
	default:
		return errStatus(http.StatusBadRequest, `mode must be "keyfile" or "passphrase"`)
	}
	if in.Mode == "passphrase" {
		if n := utf8.RuneCountInString(in.Passphrase); n < apiMinPass || len(in.Passphrase) > 1024 {
			return errStatus(http.StatusBadRequest, "passphrase: 12 characters to 1024 bytes")
		}
	} else if in.Passphrase != "" {
		return errStatus(http.StatusBadRequest, `passphrase is only for mode "passphrase"`)
	}
	if _, err := a.arc.Authenticate(ctx, archive.ClientAddr(r.RemoteAddr), u.Login, in.CurrentPassword); err != nil {
		if errors.Is(err, archive.ErrBadCredentials) {
			a.auditChange(r, u, "key.rotate", "archive key", "wrong current password", false)
			return errStatus(http.StatusForbidden, "the current password is wrong")
		}
		return err
	}
	switch in.Mode {
	case "keyfile":
		if a.keyFile == "" {
			return errStatus(http.StatusConflict, "the archive is unlocked with a passphrase; set a new passphrase instead")
		}
		if err := a.arc.RotateKeyFile(ctx, a.keyFile); err != nil {
			a.auditChange(r, u, "key.rotate", "archive key", "key file rotation failed", false)
			return err
		}
		a.auditChange(r, u, "key.rotate", "archive key", "new key file")
	case "passphrase":
		if err := a.arc.SetPassphrase(ctx, []byte(in.Passphrase)); err != nil {
			a.auditChange(r, u, "key.rotate", "archive key", "setting the passphrase failed", false)
			return err
		}
		a.auditChange(r, u, "key.rotate", "archive key", "passphrase set")
	}
	writeJSON(w, http.StatusOK, map[string]string{"mode": in.Mode})
	return nil
}
