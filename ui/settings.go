package ui

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/webcore"
)

type levelView struct {
	Name, Label, Level string
}

type settingsPage struct {
	Base
	PBXName, TimeZone string
	Sealing           bool
	MaskDTMF          bool
	Unsealed          int
	Levels            []levelView
	LevelChoices      []string
	TimeZones         []string
	IngestLogins      []string
	KeyFileMode       bool
	KeyFingerprint    string
	PublicKeyPEM      string
	SettingsError     string
	IngestError       string
	KeyError          string
	KeyRotated        *keyRotatedView // right after a key-file rotation (keyrotate.go)
	RecordURLs        []recordURLView // where phones upload (onboarding.go)
	// Lifecycle (lifecycle.go): the fields as typed, their bound, the
	// seat grace, the last run.
	RetentionDays, RecycleBinDays string
	MaxDays, SeatGraceDays        int
	LastRun                       *lastRunView
	LifecycleError                string
	// LifecycleConfirm, when not 0, is how many recordings the typed
	// settings delete at the next run: saving again confirms it.
	LifecycleConfirm int
	// SettingsConfirm is LifecycleConfirm for the appliance form (its
	// time zone moves the lifecycle's midnight).
	SettingsConfirm int
}

// subsystemLabel names a trace subsystem for people: "call_information"
// is "Call information", "gui" is "GUI".
func subsystemLabel(rc *reqCtx, name string) string {
	switch name {
	case "recording":
		return rc.T("msg.sub.recording")
	case "call_information":
		return rc.T("msg.sub.callInformation")
	case "conversion":
		return rc.T("msg.sub.conversion")
	case "license":
		return rc.T("msg.sub.license")
	case "gui":
		return rc.T("msg.sub.gui")
	case "connections":
		return rc.T("msg.sub.connections")
	}
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// commonZones are offered as suggestions; any IANA name is accepted.
var commonZones = []string{
	"UTC", "Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/London", "Europe/Paris",
	"Europe/Amsterdam", "Europe/Copenhagen", "Europe/Oslo", "Europe/Stockholm", "Europe/Helsinki",
	"Europe/Tallinn", "Europe/Riga", "Europe/Vilnius", "Europe/Warsaw", "Europe/Madrid", "Europe/Rome",
	"America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Dubai", "Asia/Singapore", "Australia/Sydney",
}

func (u *UI) settingsPage(r *http.Request, rc *reqCtx, s archive.Settings) (settingsPage, error) {
	ctx := r.Context()
	p := settingsPage{
		Base:    u.base(rc, rc.T("nav.settings"), "settings"),
		PBXName: s.PBXName, TimeZone: s.TimeZone, Sealing: s.Sealing, MaskDTMF: s.MaskDTMF,
		LevelChoices: []string{"trace", "debug", "info", "warn", "error"}, TimeZones: commonZones,
		KeyFileMode: u.opts.KeyFile != "",
	}
	for _, sub := range archive.TraceSubsystems() {
		lv := s.TraceLevels[sub]
		if lv == "" {
			lv = "info"
		}
		p.Levels = append(p.Levels, levelView{Name: sub, Label: subsystemLabel(rc, sub), Level: lv})
	}
	unsealed, err := u.arc.Unsealed(ctx)
	if err != nil {
		return p, err
	}
	p.Unsealed = len(unsealed)
	users, err := u.arc.Users(ctx)
	if err != nil {
		return p, err
	}
	for _, x := range users {
		if x.Role == archive.RoleIngest {
			p.IngestLogins = append(p.IngestLogins, x.Login)
		}
	}
	p.RecordURLs = u.recordURLs(r)
	u.lifecycleSettings(ctx, rc, &p, s)
	pub := u.arc.PublicKey()
	p.KeyFingerprint = export.KeyFingerprint(pub)
	if pem, err := export.PublicKeyPEM(pub); err == nil {
		p.PublicKeyPEM = string(pem)
	}
	return p, nil
}

func (u *UI) settingsShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	p, err := u.settingsPage(r, rc, rc.settings)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("saved") {
	case "settings":
		p.Flash = rc.T("msg.settingsSaved")
	case "ingest":
		p.Flash = rc.T("msg.ingestPasswordChanged")
	case "lifecycle":
		p.Flash = rc.T("msg.retentionSaved")
	case "key":
		p.Flash = rc.T("msg.keyChanged")
	}
	u.render(w, r, http.StatusOK, "settings.html", p)
	return nil
}

// settingsDetail names what changed, for the audit log.
func settingsDetail(a, b archive.Settings) string {
	var d []string
	if a.PBXName != b.PBXName {
		d = append(d, fmt.Sprintf("pbx name %q", b.PBXName))
	}
	if a.TimeZone != b.TimeZone {
		d = append(d, "time zone "+b.TimeZone)
	}
	if a.Sealing != b.Sealing {
		d = append(d, fmt.Sprintf("sealing %t", b.Sealing))
	}
	if a.MaskDTMF != b.MaskDTMF {
		d = append(d, fmt.Sprintf("mask DTMF %t", b.MaskDTMF))
	}
	for _, sub := range archive.TraceSubsystems() {
		x, y := a.TraceLevels[sub], b.TraceLevels[sub]
		if x == "" {
			x = "info"
		}
		if y == "" {
			y = "info"
		}
		if x != y {
			d = append(d, "trace "+sub+" "+y)
		}
	}
	if len(d) == 0 {
		return "no change"
	}
	return strings.Join(d, ", ")
}

func (u *UI) settingsUpdate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	old := rc.settings
	s := old
	s.TraceLevels = maps.Clone(old.TraceLevels)
	if s.TraceLevels == nil {
		s.TraceLevels = map[string]string{}
	}
	f := r.PostForm
	s.PBXName = strings.TrimSpace(f.Get("pbxName"))
	s.TimeZone = strings.TrimSpace(f.Get("timeZone"))
	s.Sealing = f.Get("sealing") == "on"
	s.MaskDTMF = f.Get("maskDtmf") == "on"
	for _, sub := range archive.TraceSubsystems() {
		if v := f.Get("trace." + sub); v != "" {
			s.TraceLevels[sub] = v
		}
	}
	fail := func(msg string) error {
		p, err := u.settingsPage(r, rc, s)
		if err != nil {
			return err
		}
		p.SettingsError = msg
		u.render(w, r, http.StatusBadRequest, "settings.html", p)
		return nil
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" || strings.EqualFold(s.TimeZone, "Local") {
		return fail(rc.T("msg.unknownZone"))
	}
	pv, err := webcore.LifecycleChange(r.Context(), u.arc, old, s)
	if err != nil && !errors.Is(err, archive.ErrInvalid) {
		return err
	}
	if confirmed, _ := strconv.Atoi(f.Get("confirmDeletion")); err == nil && pv.WouldDelete > confirmed {
		p, err := u.settingsPage(r, rc, s)
		if err != nil {
			return err
		}
		p.SettingsError = deletionWarning(rc, pv.WouldDelete) + " " + rc.T("msg.checkZone")
		p.SettingsConfirm = pv.WouldDelete
		u.render(w, r, http.StatusConflict, "settings.html", p)
		return nil
	}
	if err := u.arc.PutSettings(r.Context(), s); err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return fail(rc.T("msg.settingsNotValid"))
		}
		return err
	}
	u.audit(r, rc, "settings.change", "settings", true, settingsDetail(old, s))
	redirect(w, r, "/admin/settings?saved=settings")
	return nil
}

func (u *UI) settingsIngest(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	login := r.PostForm.Get("login")
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	fail := func(msg string) error {
		p, err := u.settingsPage(r, rc, rc.settings)
		if err != nil {
			return err
		}
		p.IngestError = msg
		u.render(w, r, http.StatusBadRequest, "settings.html", p)
		return nil
	}
	x, err := u.arc.GetUser(ctx, login)
	if err != nil || x.Role != archive.RoleIngest {
		return fail(rc.T("msg.chooseIngest"))
	}
	if msg := checkNewPassword(rc, pw, confirm); msg != "" {
		return fail(msg)
	}
	if err := u.arc.PutUser(ctx, *x, pw); err != nil {
		return err
	}
	u.audit(r, rc, "settings.change", x.Login, true, "ingest password changed")
	redirect(w, r, "/admin/settings?saved=ingest")
	return nil
}

// settingsKey rotates the key file or sets a passphrase; the admin's own
// password is asked again.
func (u *UI) settingsKey(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	f := r.PostForm
	fail := func(code int, msg string) error {
		p, err := u.settingsPage(r, rc, rc.settings)
		if err != nil {
			return err
		}
		p.KeyError = msg
		u.render(w, r, code, "settings.html", p)
		return nil
	}
	_, limited, err := u.reauthenticate(w, r, rc, f.Get("current"))
	if limited != "" {
		return fail(http.StatusTooManyRequests, limited)
	}
	if err != nil {
		if !errors.Is(err, archive.ErrBadCredentials) {
			return err
		}
		u.audit(r, rc, "key.rotate", "archive key", false, "wrong password")
		return fail(http.StatusBadRequest, rc.T("msg.yourPasswordWrong"))
	}
	switch f.Get("mode") {
	case "rotate":
		if u.opts.KeyFile == "" {
			return fail(http.StatusBadRequest, rc.T("msg.passphraseMode"))
		}
		old, err := u.arc.RotateKey(ctx, u.opts.KeyFile)
		if err != nil {
			u.audit(r, rc, "key.rotate", "archive key", false, "key file rotation failed")
			return err
		}
		u.audit(r, rc, "key.rotate", "archive key", true, "new key file")
		return u.settingsKeyRotated(w, r, rc, old)
	case "passphrase":
		pp, confirm := f.Get("passphrase"), f.Get("passphraseConfirm")
		switch {
		case len([]rune(pp)) < archive.MinPassphraseLen:
			return fail(http.StatusBadRequest, rc.T("msg.passphraseShort", archive.MinPassphraseLen))
		case pp != confirm:
			return fail(http.StatusBadRequest, rc.T("msg.passphrasesDiffer"))
		}
		if err := u.arc.SetPassphrase(ctx, []byte(pp)); err != nil {
			u.audit(r, rc, "key.rotate", "archive key", false, "setting the passphrase failed")
			return err
		}
		u.audit(r, rc, "key.rotate", "archive key", true, "passphrase set")
	default:
		return fail(http.StatusBadRequest, rc.T("msg.chooseKeyMode"))
	}
	redirect(w, r, "/admin/settings?saved=key")
	return nil
}
