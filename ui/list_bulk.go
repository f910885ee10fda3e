package ui

import (
	"archive/zip"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/webcore"
)

// Bulk actions on the list's selection (POST /recordings/bulk, field
// action): a zip of several recordings, legal hold on or off with an
// optional reason, delete. Every selected recording is checked on its
// own; the result page lists what was done and why each refused one was
// refused.

const (
	bulkZip       = "zip"
	bulkProtect   = "protect"
	bulkUnprotect = "unprotect"
	bulkDelete    = "delete"

	// maxBulk bounds the recordings (segments) of one bulk action.
	maxBulk = 1000
	// maxBulkReason bounds the reason or case number of a legal hold.
	maxBulkReason = 200
)

type bulkRow struct {
	ID, URL, Label string
	Done           bool
	Why            string // refused: why, for people
}

type bulkPage struct {
	Base
	Action, Heading, Reason string
	Rows                    []bulkRow
	Done, Refused           int
	// Confirm: the delete asks first; IDs are the recordings it would
	// remove (all selected; each is checked again when confirmed).
	Confirm bool
	IDs     []string
	// Permanent: the viewer's delete purges at once (no recycle bin).
	Permanent bool
	// ZipIDs: the recordings a zip may still hold when some were refused.
	ZipIDs []string
}

// bulkIDs reads the selection: r fields of comma-separated IDs.
func bulkIDs(r *http.Request) ([]archive.ID, error) {
	var ids []archive.ID
	seen := map[archive.ID]bool{}
	for _, v := range r.PostForm["r"] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			id, err := archive.ParseID(s)
			if err != nil {
				return nil, &pageError{code: http.StatusBadRequest, msg: "msg.bulk.invalid"}
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	switch {
	case len(ids) == 0:
		return nil, &pageError{code: http.StatusBadRequest, msg: "msg.bulk.none"}
	case len(ids) > maxBulk:
		return nil, &pageError{code: http.StatusBadRequest, msg: "msg.bulk.tooMany", args: []any{maxBulk}}
	}
	return ids, nil
}

func (u *UI) listBulk(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := r.ParseForm(); err != nil {
		return &pageError{code: http.StatusBadRequest, msg: "msg.bulk.form"}
	}
	ids, err := bulkIDs(r)
	if err != nil {
		return err
	}
	action := r.PostForm.Get("action")
	reason := strings.Join(strings.Fields(r.PostForm.Get("reason")), " ")
	if len(reason) > maxBulkReason {
		return &pageError{code: http.StatusBadRequest, msg: "msg.bulk.reasonLong", args: []any{maxBulkReason}}
	}
	p := bulkPage{Base: u.base(rc, "", "recordings"), Action: action, Reason: reason}
	var do func(rec *archive.Recording) (string, error) // refusal for people, or err
	switch action {
	case bulkZip:
		return u.bulkZip(w, r, rc, ids)
	case bulkProtect, bulkUnprotect:
		on := action == bulkProtect
		p.Heading = rc.T("msg.bulk.protect")
		if !on {
			p.Heading = rc.T("msg.bulk.unprotect")
		}
		do = func(rec *archive.Recording) (string, error) { return u.bulkProtect(r, rc, rec, on, reason) }
	case bulkDelete:
		p.Heading = rc.T("msg.bulk.delete")
		p.Permanent = archive.DeletesPermanently(rc.user)
		if r.PostForm.Get("confirm") != "1" {
			p.Confirm = true
		}
		do = func(rec *archive.Recording) (string, error) { return u.bulkDelete(r, rc, rec) }
	default:
		return &pageError{code: http.StatusBadRequest, msg: "msg.bulk.choose"}
	}
	p.Title = p.Heading
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return err
	}
	idx := webcore.UserIndex(users)
	for _, id := range ids {
		row := bulkRow{ID: id.String(), Label: id.String()[:8]}
		rec, err := u.arc.Get(r.Context(), id)
		switch {
		case err == nil && u.opts.FourEyes.MayRead(rc.user, rec):
			row.URL = "/recordings/" + row.ID
			row.Label = u.bulkLabel(rec, idx, rc)
		case err == nil || isNotFound(err):
			row.Why = rc.T("msg.bulk.notFound")
		default:
			return err
		}
		if row.Why == "" && p.Confirm {
			if lr := webcore.DeleteRefusal(rc.user, rec); lr != nil {
				row.Why = refusalText(rc, lr)
			} else {
				p.IDs = append(p.IDs, row.ID)
			}
		} else if row.Why == "" {
			if row.Why, err = do(rec); err != nil {
				return err
			}
			row.Done = row.Why == ""
		}
		if row.Done {
			p.Done++
		} else if row.Why != "" {
			p.Refused++
		}
		p.Rows = append(p.Rows, row)
	}
	u.render(w, r, http.StatusOK, "list_bulk.html", p)
	return nil
}

// bulkLabel names a recording on the result page: its time and the
// other party.
func (u *UI) bulkLabel(rec *archive.Recording, idx map[string]*archive.User, rc *reqCtx) string {
	row := u.listRow(rc, &group{segs: []*archive.Recording{rec}}, idx)
	return row.When + " · " + row.With
}

// bulkProtect sets rec's legal hold; the reason goes to the audit log and,
// as a note, onto the recording's page.
func (u *UI) bulkProtect(r *http.Request, rc *reqCtx, rec *archive.Recording, on bool, reason string) (string, error) {
	action, target := webcore.ProtectAction(on), rec.ID.String()
	if lr := webcore.ProtectRefusal(rc.user, rec); lr != nil {
		u.audit(r, rc, action, target, false, "refused: "+lr.Detail)
		return refusalText(rc, lr), nil
	}
	if err := webcore.LifecycleErr(u.arc.SetProtected(r.Context(), rec.ID, on)); err != nil {
		var lr *webcore.LifecycleRefusal
		if errors.As(err, &lr) {
			u.audit(r, rc, action, target, false, "refused: "+lr.Detail)
			return refusalText(rc, lr), nil
		}
		return "", err
	}
	if rec.Protected == on {
		if on {
			return rc.T("msg.bulk.alreadyProtected"), nil
		}
		return rc.T("msg.bulk.notProtected"), nil
	}
	detail := ""
	if reason != "" {
		detail = "reason: " + reason
		text := rc.T("msg.bulk.noteProtected", reason)
		if !on {
			text = rc.T("msg.bulk.noteLifted", reason)
		}
		if _, err := u.arc.AddNote(r.Context(), rec.ID, rc.user.Login, text); err != nil {
			return "", err
		}
	}
	u.audit(r, rc, action, target, true, detail)
	return "", nil
}

func (u *UI) bulkDelete(r *http.Request, rc *reqCtx, rec *archive.Recording) (string, error) {
	target := rec.ID.String()
	if lr := webcore.DeleteRefusal(rc.user, rec); lr != nil {
		u.audit(r, rc, "recording.delete", target, false, "refused: "+lr.Detail)
		return refusalText(rc, lr), nil
	}
	result, err := webcore.RemoveRecording(r.Context(), u.arc, rc.user, rec)
	if err != nil {
		var lr *webcore.LifecycleRefusal
		if errors.As(err, &lr) {
			u.audit(r, rc, "recording.delete", target, false, "refused: "+lr.Detail)
			return refusalText(rc, lr), nil
		}
		return "", err
	}
	u.audit(r, rc, "recording.delete", target, true, webcore.DeleteDetail(result))
	return "", nil
}

// bulkZip sends one zip holding, for each selected recording, the files
// of its own zip (export.Write: WAVs, info PDF, seal, public key) in a
// folder named after its time and ID. When any recording may not be
// downloaded it shows which and why instead, offering the others.
func (u *UI) bulkZip(w http.ResponseWriter, r *http.Request, rc *reqCtx, ids []archive.ID) error {
	ctx := r.Context()
	p := bulkPage{Base: u.base(rc, rc.T("msg.bulk.download"), "recordings"), Action: bulkZip, Heading: rc.T("msg.bulk.download")}
	users, err := u.arc.Users(ctx)
	if err != nil {
		return err
	}
	idx := webcore.UserIndex(users)
	var recs []*archive.Recording
	for _, id := range ids {
		row := bulkRow{ID: id.String(), Label: id.String()[:8]}
		rec, err := u.arc.Get(ctx, id)
		switch {
		case err == nil && u.opts.FourEyes.MayRead(rc.user, rec):
			row.URL, row.Label = "/recordings/"+row.ID, u.bulkLabel(rec, idx, rc)
			if rec.State == archive.StateRecording {
				row.Why = rc.T("msg.bulk.recording")
			} else if _, err := u.arc.CheckPlayback(ctx, rec.ID); errors.Is(err, archive.ErrCorrupt) {
				u.audit(r, rc, "integrity.fail", row.ID, false, "download: "+err.Error())
				row.Why = rc.T("msg.bulk.integrity")
			} else if err != nil {
				return err
			}
		case err == nil || isNotFound(err):
			row.Why = rc.T("msg.bulk.notFound")
		default:
			return err
		}
		if row.Why == "" {
			recs = append(recs, rec)
			p.ZipIDs = append(p.ZipIDs, row.ID)
		} else {
			p.Refused++
		}
		p.Rows = append(p.Rows, row)
	}
	if p.Refused > 0 {
		u.render(w, r, http.StatusOK, "list_bulk.html", p)
		return nil
	}
	name := "recordings-" + u.opts.Now().UTC().Format("20060102-150405") + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	out := zip.NewWriter(w)
	for _, rec := range recs {
		// The request ends when the client goes or, under 4-eyes access,
		// when the grant ends (held binds the response to it).
		if ctx.Err() != nil {
			panic(http.ErrAbortHandler)
		}
		if err := u.zipInto(ctx, out, rec); err != nil {
			if ctx.Err() == nil {
				u.log.ErrorContext(ctx, "bulk zip failed", "id", rec.ID.String(), "err", err)
			}
			panic(http.ErrAbortHandler)
		}
		u.audit(r, rc, "download", rec.ID.String(), true, "several as one zip")
	}
	if err := out.Close(); err != nil || ctx.Err() != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// zipInto streams rec's zip into out, its files in the recording's
// folder: nothing of it is written to disk.
func (u *UI) zipInto(ctx context.Context, out *zip.Writer, rec *archive.Recording) error {
	in, err := webcore.PrepareZip(ctx, u.arc, u.media, rec, u.arc.Now())
	if err != nil {
		return err
	}
	dir := webcore.RecTime(rec).UTC().Format("20060102-150405") + "-" + rec.ID.String()[:8] + "/"
	return export.WriteInto(ctx, out, dir, in)
}
