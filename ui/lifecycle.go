package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/i18n"
	"github.com/callvault/callvault/internal/webcore"
)

// A recording's lifecycle on the pages: the legal hold and delete buttons
// on the recording page, deletion dates on the list, the recycle bin, and
// the lifecycle settings. The rules are archive's; the refusals, dates
// and checks that the JSON API (package api) shows alike are
// internal/webcore's.

// runHour and runMinute are the local time of the daily lifecycle run
// (the daemon's scheduler runs it then).
const (
	runHour   = 0
	runMinute = 5
)

// runDay is the local day of the first daily run at or after t: the
// day a recording whose deletion date is t goes.
func runDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	if t.After(time.Date(t.Year(), t.Month(), t.Day(), runHour, runMinute, 0, 0, loc)) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// deletionWhy names the rule that removes rec.
func deletionWhy(rc *reqCtx, p *archive.Policy, rule archive.DeletionRule) string {
	switch rule {
	case archive.RuleRecycleBin:
		return rc.T("msg.why.bin", p.RecycleBinDays)
	case archive.RuleRetention:
		return rc.T("msg.why.retention", p.RetentionDays)
	}
	return rc.T("msg.why.seat")
}

// deletionText is rec's automatic deletion day as shown ("" when none),
// its ISO form, the rule, and whether it is due: the next daily run
// deletes it (the day is today; never a day in the past).
func deletionText(rc *reqCtx, p *archive.Policy, rec *archive.Recording) (day, iso, why string, due bool) {
	d := webcore.DeletionDate(p, rec)
	if d.IsZero() {
		return "", "", "", false
	}
	_, rule := p.Deletion(rec)
	rd := runDay(d, p.Loc)
	return i18n.Date(rc.language(), rd), rd.Format(time.DateOnly), deletionWhy(rc, p, rule), p.Due(d)
}

// lifeView is the lifecycle part of the recording page.
type lifeView struct {
	Protected                bool
	MayProtect               bool
	ProtectURL, UnprotectURL string
	MayDelete                bool
	Permanent                bool // the viewer's delete purges at once
	DeleteURL                string
	NoDelete                 string // why the viewer, who could delete, cannot now
	Deletion, DeletionISO    string // the day the lifecycle job removes it
	DeletionWhy              string
	DeletionDue              bool // at the next daily run
}

// lifecycleView fills the recording page's lifecycle part for the viewer.
func (u *UI) lifecycleView(ctx context.Context, rc *reqCtx, rec *archive.Recording) *lifeView {
	page := "/recordings/" + rec.ID.String()
	v := &lifeView{
		Protected: rec.Protected, ProtectURL: page + "/protect", UnprotectURL: page + "/unprotect", DeleteURL: page + "/delete",
		Permanent: archive.DeletesPermanently(rc.user),
	}
	v.MayProtect = webcore.ProtectRefusal(rc.user, rec) == nil
	switch lr := webcore.DeleteRefusal(rc.user, rec); lr {
	case nil:
		v.MayDelete = true
	case webcore.RefusedProtected, webcore.RefusedRecording:
		v.NoDelete = refusalText(rc, lr)
	}
	if p := webcore.LifecyclePolicy(ctx, u.arc, u.log); p != nil {
		v.Deletion, v.DeletionISO, v.DeletionWhy, v.DeletionDue = deletionText(rc, p, rec)
	}
	return v
}

// lifecycleRow adds the legal hold and the earliest deletion day of a
// call's segments to its list row.
func lifecycleRow(rc *reqCtx, row *listRow, g *group, p *archive.Policy) {
	var first time.Time
	var firstRec *archive.Recording
	for _, s := range g.segs {
		row.Protected = row.Protected || s.Protected
		if d := webcore.DeletionDate(p, s); !d.IsZero() && (first.IsZero() || d.Before(first)) {
			first, firstRec = d, s
		}
	}
	if firstRec != nil {
		row.Deletion, row.DeletionISO, row.DeletionWhy, row.DeletionDue = deletionText(rc, p, firstRec)
	}
}

// refused shows a lifecycle refusal on a page, audited as a failed
// action; other errors pass.
func (u *UI) refused(r *http.Request, rc *reqCtx, action, target string, err error) error {
	var lr *webcore.LifecycleRefusal
	if errors.As(err, &lr) {
		u.audit(r, rc, action, target, false, "refused: "+lr.Detail)
		return &pageError{code: lr.Code, text: refusalText(rc, lr)}
	}
	return err
}

func (u *UI) recordingProtect(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return u.setProtected(w, r, rc, true)
}

func (u *UI) recordingUnprotect(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return u.setProtected(w, r, rc, false)
}

func (u *UI) setProtected(w http.ResponseWriter, r *http.Request, rc *reqCtx, on bool) error {
	rec, err := u.loadRecording(r, rc)
	if err != nil {
		return err
	}
	action, target := webcore.ProtectAction(on), rec.ID.String()
	if lr := webcore.ProtectRefusal(rc.user, rec); lr != nil {
		return u.refused(r, rc, action, target, lr)
	}
	if err := webcore.LifecycleErr(u.arc.SetProtected(r.Context(), rec.ID, on)); err != nil {
		return u.refused(r, rc, action, target, err)
	}
	if rec.Protected != on {
		u.audit(r, rc, action, target, true, "")
	}
	redirect(w, r, "/recordings/"+target)
	return nil
}

func (u *UI) recordingDelete(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, err := u.loadRecording(r, rc)
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if lr := webcore.DeleteRefusal(rc.user, rec); lr != nil {
		return u.refused(r, rc, "recording.delete", target, lr)
	}
	result, err := webcore.RemoveRecording(r.Context(), u.arc, rc.user, rec)
	if err != nil {
		return u.refused(r, rc, "recording.delete", target, err)
	}
	u.audit(r, rc, "recording.delete", target, true, webcore.DeleteDetail(result))
	if result == webcore.ResultBinned {
		redirect(w, r, "/recyclebin?binned=1")
	} else {
		redirect(w, r, "/?deleted=1")
	}
	return nil
}

// binRow is a recording in the recycle bin, as the page lists it.
type binRow struct {
	ID                    string
	When, WhenISO         string
	Duration, With, User  string
	Binned, BinnedISO     string
	BinnedBy              string
	Purge, PurgeISO       string
	PurgeDue              bool // at the next daily run
	RestoreURL, PurgeURL  string
	StateLabel            string
	DirLabel, Description string
}

type binPage struct {
	Base
	Rows              []binRow
	MayPurge          bool
	Days              int
	NextURL, FirstURL string
}

func (u *UI) recycleBinShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if !u.opts.FourEyes.Allowed(rc.user) {
		return &pageError{code: http.StatusForbidden, msg: "msg.yourSupervisorHasNot"}
	}
	ctx := r.Context()
	q := r.URL.Query()
	me := rc.user
	recs, next, err := u.arc.RecycleBin(ctx, archive.Query{Limit: listPageSize, Cursor: q.Get("cursor"),
		Match: func(rec *archive.Recording) bool { return archive.MayRestore(me, rec) }})
	if errors.Is(err, archive.ErrInvalid) {
		return &pageError{code: http.StatusBadRequest, msg: "msg.pageLinkNotValid"}
	}
	if err != nil {
		return err
	}
	users, err := u.arc.Users(ctx)
	if err != nil {
		return err
	}
	idx := webcore.UserIndex(users)
	pol := webcore.LifecyclePolicy(ctx, u.arc, u.log)
	p := binPage{Base: u.base(rc, rc.T("nav.recyclebin"), "recyclebin"), MayPurge: webcore.PurgeRefusal(me) == nil,
		Days: rc.settings.RecycleBinDays}
	for _, rec := range recs {
		lr := u.listRow(rc, &group{segs: []*archive.Recording{rec}}, idx)
		id := rec.ID.String()
		row := binRow{
			ID: id, When: lr.When, WhenISO: lr.WhenISO, Duration: lr.Duration, With: lr.With, User: lr.User,
			Binned: rc.when(rec.Binned), BinnedISO: webcore.IsoTime(rec.Binned), BinnedBy: webcore.OwnerName(idx, rec.BinnedBy),
			RestoreURL: "/recyclebin/" + id + "/restore", PurgeURL: "/recyclebin/" + id + "/purge",
			StateLabel: lr.StateLabel, DirLabel: lr.DirLabel,
		}
		if pol != nil {
			row.Purge, row.PurgeISO, _, row.PurgeDue = deletionText(rc, pol, rec)
		}
		row.Description = rc.T("msg.bin.description", row.When, row.With)
		p.Rows = append(p.Rows, row)
	}
	p.NextURL, p.FirstURL = pageLinks("/recyclebin", nil, next, q.Get("cursor") != "")
	switch {
	case q.Get("binned") != "":
		p.Flash = rc.T("msg.bin.binned")
	case q.Get("restored") != "":
		p.Flash = rc.T("msg.bin.restored")
	case q.Get("purged") != "":
		p.Flash = rc.T("msg.bin.purged")
	}
	u.render(w, r, http.StatusOK, "recyclebin.html", p)
	return nil
}

func (u *UI) recycleBinRestore(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if !u.opts.FourEyes.Allowed(rc.user) {
		return &pageError{code: http.StatusForbidden, msg: "msg.yourSupervisorHasNot"}
	}
	rec, err := webcore.Binned(r.Context(), u.arc, rc.user, r.PathValue("id"))
	if err != nil {
		return notInBin(err)
	}
	target := rec.ID.String()
	if err := webcore.LifecycleErr(u.arc.Restore(r.Context(), rec.ID)); err != nil {
		return u.refused(r, rc, "recording.restore", target, err)
	}
	u.audit(r, rc, "recording.restore", target, true, "binned by "+rec.BinnedBy)
	redirect(w, r, "/recyclebin?restored=1")
	return nil
}

func (u *UI) recycleBinPurge(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if lr := webcore.PurgeRefusal(rc.user); lr != nil {
		return &pageError{code: lr.Code, text: refusalText(rc, lr)}
	}
	rec, err := webcore.Binned(r.Context(), u.arc, rc.user, r.PathValue("id"))
	if err != nil {
		return notInBin(err)
	}
	target := rec.ID.String()
	if err := webcore.LifecycleErr(u.arc.Delete(r.Context(), rec.ID, rc.user.Login, webcore.WhyBinPurge)); err != nil {
		return u.refused(r, rc, "recording.purge", target, err)
	}
	u.audit(r, rc, "recording.purge", target, true, "from the recycle bin, binned by "+rec.BinnedBy)
	redirect(w, r, "/recyclebin?purged=1")
	return nil
}

// notInBin says "not found" in the recycle bin's words.
func notInBin(err error) error {
	if isNotFound(err) {
		return &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchRecording"}
	}
	return err
}

// lastRunView is the last lifecycle run on the settings page.
type lastRunView struct {
	When, WhenISO                      string
	Retention, Grace, Bin              int
	Protected, Failed, CDRs            int
	RetentionCutoff, GraceCutoff       string
	RetentionCutoffISO, GraceCutoffISO string
}

// lifecycleSettings fills the lifecycle part of the settings page.
func (u *UI) lifecycleSettings(ctx context.Context, rc *reqCtx, p *settingsPage, s archive.Settings) {
	p.RetentionDays, p.RecycleBinDays = strconv.Itoa(s.RetentionDays), strconv.Itoa(s.RecycleBinDays)
	p.MaxDays, p.SeatGraceDays = archive.MaxRetentionDays, archive.SeatGraceDays
	if res, ok := u.arc.LastExpire(ctx); ok {
		p.LastRun = &lastRunView{
			When: rc.when(res.Ran), WhenISO: webcore.IsoTime(res.Ran),
			Retention: res.Retention, Grace: res.Grace, Bin: res.Bin, Protected: res.Protected, Failed: res.Failed, CDRs: res.CDRs,
			RetentionCutoff: rc.when(res.RetentionCutoff), RetentionCutoffISO: webcore.IsoTime(res.RetentionCutoff),
			GraceCutoff: rc.when(res.GraceCutoff), GraceCutoffISO: webcore.IsoTime(res.GraceCutoff),
		}
	}
}

// settingsLifecycle saves the retention and recycle-bin days.
func (u *UI) settingsLifecycle(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	old := rc.settings
	s := old
	f := r.PostForm
	ret, errR := strconv.Atoi(strings.TrimSpace(f.Get("retentionDays")))
	bin, errB := strconv.Atoi(strings.TrimSpace(f.Get("recycleBinDays")))
	var msg string
	switch {
	case errR != nil || !webcore.ValidRetentionDays(ret):
		msg = rc.T("msg.retentionDays", archive.MaxRetentionDays)
	case errB != nil || !webcore.ValidRecycleBinDays(bin):
		msg = rc.T("msg.binDays", archive.MaxRetentionDays)
	}
	var pv archive.ExpirePreview
	code := http.StatusBadRequest
	if msg == "" {
		s.RetentionDays, s.RecycleBinDays = ret, bin
		var err error
		if pv, err = webcore.LifecycleChange(r.Context(), u.arc, old, s); err != nil && !errors.Is(err, archive.ErrInvalid) {
			return err
		}
		confirmed, _ := strconv.Atoi(f.Get("confirmDeletion"))
		switch {
		case err != nil:
			msg = rc.T("msg.settingsInvalid")
		case pv.WouldDelete > confirmed:
			msg, code = deletionWarning(rc, pv.WouldDelete)+" "+rc.T("msg.checkNumbers"), http.StatusConflict
		default:
			if err := u.arc.PutSettings(r.Context(), s); err != nil {
				if !errors.Is(err, archive.ErrInvalid) {
					return err
				}
				msg = rc.T("msg.settingsInvalid")
			}
		}
	}
	if msg != "" {
		p, err := u.settingsPage(r, rc, rc.settings)
		if err != nil {
			return err
		}
		p.RetentionDays, p.RecycleBinDays = f.Get("retentionDays"), f.Get("recycleBinDays")
		p.LifecycleError = msg
		if code == http.StatusConflict {
			p.LifecycleConfirm = pv.WouldDelete
		}
		u.render(w, r, code, "settings.html", p)
		return nil
	}
	detail := lifecycleDetail(old, s)
	if pv.WouldDelete > 0 {
		detail += fmt.Sprintf("; confirmed: the next lifecycle run deletes %d more recordings", pv.WouldDelete)
	}
	u.audit(r, rc, "settings.change", "settings", true, detail)
	redirect(w, r, "/admin/settings?saved=lifecycle")
	return nil
}

// lifecycleDetail names the lifecycle settings that changed, for the
// audit log.
func lifecycleDetail(a, b archive.Settings) string {
	var d []string
	if a.RetentionDays != b.RetentionDays {
		d = append(d, fmt.Sprintf("retentionDays %d→%d", a.RetentionDays, b.RetentionDays))
	}
	if a.RecycleBinDays != b.RecycleBinDays {
		d = append(d, fmt.Sprintf("recycleBinDays %d→%d", a.RecycleBinDays, b.RecycleBinDays))
	}
	if len(d) == 0 {
		return "no change"
	}
	return strings.Join(d, ", ")
}

// deletionModeChoice is an option of the user form's deletion mode.
type deletionModeChoice struct{ Value, Label string }

func deletionModeChoices(rc *reqCtx) []deletionModeChoice {
	return []deletionModeChoice{
		{string(archive.DeleteRecoverable), rc.T("msg.delmode.recoverable")},
		{string(archive.DeletePermanent), rc.T("msg.delmode.permanent")},
		{string(archive.DeleteDenied), rc.T("msg.delmode.denied")},
	}
}

// deletionWarning says what saving deletes.
func deletionWarning(rc *reqCtx, n int) string {
	if n == 1 {
		return rc.T("msg.deletionWarning.one")
	}
	return rc.T("msg.deletionWarning", rc.num(n))
}

// refusals are the words of webcore's lifecycle refusals.
var refusals = map[*webcore.LifecycleRefusal]string{
	webcore.RefusedDelete:    "msg.refused.delete",
	webcore.RefusedDenied:    "msg.refused.denied",
	webcore.RefusedProtected: "msg.refused.protected",
	webcore.RefusedRecording: "msg.refused.recording",
	webcore.RefusedAdmins:    "msg.refused.admins",
	webcore.RefusedProtect:   "msg.refused.protect",
	webcore.RefusedChanged:   "msg.refused.changed",
}

// refusalText is a lifecycle refusal in the request's language.
func refusalText(rc *reqCtx, lr *webcore.LifecycleRefusal) string {
	if k, ok := refusals[lr]; ok {
		return rc.T(k)
	}
	return rc.T("msg.refused.other")
}

// lifecycleRoutes adds the lifecycle pages and forms.
func (u *UI) lifecycleRoutes(mux *http.ServeMux) {
	mux.Handle("POST /recordings/{id}/protect", u.page(member, u.recordingProtect))
	mux.Handle("POST /recordings/{id}/unprotect", u.page(member, u.recordingUnprotect))
	mux.Handle("POST /recordings/{id}/delete", u.page(member, u.recordingDelete))
	mux.Handle("GET /recyclebin", u.page(member, u.held(u.recycleBinShow)))
	mux.Handle("POST /recyclebin/{id}/restore", u.page(member, u.recycleBinRestore))
	mux.Handle("POST /recyclebin/{id}/purge", u.page(admin, u.recycleBinPurge))
	mux.Handle("POST /admin/settings/lifecycle", u.page(admin, u.settingsLifecycle))
}
