package ui

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
)

// A recording's lifecycle through the JSON API: deleting by the caller's
// deletion mode, the legal hold, the recycle bin and the whole-chain
// check. The rules are archive's (MayDelete, MayProtect, MayRestore); this
// file maps them to statuses and records every change in the audit log.

// lifecycleRoutes adds the lifecycle routes. Every route is documented in
// api/openapi.yaml (a test checks both ways).
func (a *API) lifecycleRoutes(mux *http.ServeMux) {
	mux.Handle("DELETE /api/v1/recordings/{id}", a.wrap(a.recordingDelete))
	mux.Handle("PUT /api/v1/recordings/{id}/protect", a.wrap(a.recordingProtect))
	mux.Handle("DELETE /api/v1/recordings/{id}/protect", a.wrap(a.recordingUnprotect))
	mux.Handle("GET /api/v1/recyclebin", a.wrap(a.recycleBinList))
	mux.Handle("POST /api/v1/recyclebin/{id}/restore", a.wrap(a.recycleBinRestore))
	mux.Handle("DELETE /api/v1/recyclebin/{id}", a.wrap(a.recycleBinPurge))
	mux.Handle("GET /api/v1/seal/verify", a.wrap(a.sealVerify))
}

// Deletion results, as the API and the audit log name them.
const (
	resultBinned = "binned"
	resultPurged = "purged"
)

// whyUserDelete and whyBinPurge are the reasons in the tombstones of
// recordings people remove.
const (
	whyUserDelete = "deleted by user"
	whyBinPurge   = "purged from the recycle bin"
)

// lifecycleRefusal is why a delete, purge or legal-hold change is refused
// to someone who may read the recording.
type lifecycleRefusal struct {
	code   int    // 403 or 409
	msg    string // for API clients
	page   string // for people, on a page
	detail string // for the audit log
}

func (e *lifecycleRefusal) Error() string { return e.msg }

var (
	refusedDelete = &lifecycleRefusal{http.StatusForbidden, "you may not delete this recording",
		"You may not delete this recording: only its owner and administrators may.", "not allowed"}
	refusedDenied = &lifecycleRefusal{http.StatusForbidden, "your account may not delete recordings",
		"Your account may not delete recordings.", "deletion mode denied"}
	refusedProtected = &lifecycleRefusal{http.StatusConflict, "the recording is protected (legal hold); lift the hold first",
		"This recording is protected (legal hold). Lift the hold before deleting it.", "protected"}
	refusedRecording = &lifecycleRefusal{http.StatusConflict, "the recording is still being recorded",
		"This recording is still being recorded.", "still recording"}
	refusedAdmins = &lifecycleRefusal{http.StatusForbidden, "only admins may purge recordings from the recycle bin",
		"Only administrators may purge recordings from the recycle bin.", "admins only"}
	refusedProtect = &lifecycleRefusal{http.StatusForbidden, "you may not protect recordings",
		"You may not put recordings on legal hold.", "not allowed"}
	refusedChanged = &lifecycleRefusal{http.StatusConflict, "the recording changed meanwhile; reload it",
		"The recording changed meanwhile. Reload the page and try again.", "state changed"}
)

// deleteRefusal says why u may not delete rec (archive.CheckDelete), or
// nil when u may. u may read rec.
func deleteRefusal(u *archive.User, rec *archive.Recording) *lifecycleRefusal {
	return refusalOf(archive.CheckDelete(u, rec))
}

// refusalOf maps the archive's reason to the refusal pages and API show.
func refusalOf(why archive.DeleteRefusal) *lifecycleRefusal {
	switch why {
	case archive.DeleteAllowed:
		return nil
	case archive.DeleteModeDenied:
		return refusedDenied
	case archive.DeleteHeld:
		return refusedProtected
	case archive.DeleteStillRecording:
		return refusedRecording
	case archive.DeleteAdminsOnly:
		return refusedAdmins
	case archive.DeleteNotOwner:
		return refusedDelete
	}
	return refusedDelete
}

// removeRecording deletes rec as u's deletion mode says
// (archive.DeleteFor): to the recycle bin (recoverable) or for good
// (permanent). It returns resultBinned or resultPurged. The caller has
// checked deleteRefusal.
func removeRecording(ctx context.Context, arc *archive.Archive, u *archive.User, rec *archive.Recording) (string, error) {
	permanent, err := arc.DeleteFor(ctx, u, rec.ID, whyUserDelete)
	if permanent {
		return resultPurged, lifecycleErr(err)
	}
	return resultBinned, lifecycleErr(err)
}

// lifecycleErr maps the archive's refusals of a change that raced with
// another (a hold set, a bin entry restored) to refusals.
func lifecycleErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, archive.ErrProtected):
		return refusedProtected
	case errors.Is(err, archive.ErrState):
		return refusedChanged
	}
	return err
}

// deleteDetail is the audit detail of a delete.
func deleteDetail(result string) string {
	if result == resultPurged {
		return "purged (permanent deletion)"
	}
	return "moved to the recycle bin"
}

// refusal turns a lifecycleRefusal into the API's error, audited as a
// failed action; other errors pass.
func (a *API) refusal(r *http.Request, u *archive.User, action, target string, err error) error {
	var lr *lifecycleRefusal
	if errors.As(err, &lr) {
		a.auditChange(r, u, action, target, "refused: "+lr.detail, false)
		return errStatus(lr.code, lr.msg)
	}
	return err
}

// policy returns the lifecycle policy for deletion dates, or nil (no
// dates shown) when it cannot be read.
func (a *API) policy(ctx context.Context) *archive.Policy {
	return lifecyclePolicy(ctx, a.arc, a.log)
}

func lifecyclePolicy(ctx context.Context, arc *archive.Archive, log *slog.Logger) *archive.Policy {
	p, err := arc.Policy(ctx)
	if err != nil {
		log.ErrorContext(ctx, "lifecycle policy", "err", err)
		return nil
	}
	return p
}

// deletionDate is when the lifecycle job removes rec (zero: no rule will),
// in the policy's time zone.
func deletionDate(p *archive.Policy, rec *archive.Recording) time.Time {
	if p == nil {
		return time.Time{}
	}
	t := p.DeletionDate(rec)
	if !t.IsZero() && p.Loc != nil {
		t = t.In(p.Loc)
	}
	return t
}

// withDeletion adds the deletion date to a summary.
func withDeletion(s recordingSummary, p *archive.Policy, rec *archive.Recording) recordingSummary {
	s.DeletionDate = deletionDate(p, rec)
	return s
}

func (a *API) recordingDelete(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if lr := deleteRefusal(u, rec); lr != nil {
		return a.refusal(r, u, "recording.delete", target, lr)
	}
	result, err := removeRecording(r.Context(), a.arc, u, rec)
	if err != nil {
		return a.refusal(r, u, "recording.delete", target, err)
	}
	a.auditChange(r, u, "recording.delete", target, deleteDetail(result))
	out := struct {
		ID        string    `json:"id"`
		Result    string    `json:"result"`
		PurgeDate time.Time `json:"purgeDate,omitzero"`
	}{ID: target, Result: result}
	if result == resultBinned {
		if got, err := a.arc.Get(r.Context(), rec.ID); err == nil {
			out.PurgeDate = deletionDate(a.policy(r.Context()), got)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) recordingProtect(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	return a.setProtected(w, r, u, true)
}

func (a *API) recordingUnprotect(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	return a.setProtected(w, r, u, false)
}

// protectRefusal says why u may not set or lift the hold on rec (which u
// may read), or nil.
func protectRefusal(u *archive.User, rec *archive.Recording) *lifecycleRefusal {
	free := *rec
	free.State = archive.StateComplete
	switch {
	case !archive.MayProtect(u, &free):
		return refusedProtect
	case rec.State == archive.StateRecording:
		return refusedRecording
	}
	return nil
}

func protectAction(on bool) string {
	if on {
		return "recording.protect"
	}
	return "recording.unprotect"
}

func (a *API) setProtected(w http.ResponseWriter, r *http.Request, u *archive.User, on bool) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	action, target := protectAction(on), rec.ID.String()
	if lr := protectRefusal(u, rec); lr != nil {
		return a.refusal(r, u, action, target, lr)
	}
	if err := lifecycleErr(a.arc.SetProtected(r.Context(), rec.ID, on)); err != nil {
		return a.refusal(r, u, action, target, err)
	}
	if rec.Protected != on {
		a.auditChange(r, u, action, target, "")
	}
	got, err := a.arc.Get(r.Context(), rec.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withDeletion(summarize(got), a.policy(r.Context()), got))
	return nil
}

// binEntry is a recording in the recycle bin.
type binEntry struct {
	recordingSummary
	Binned   time.Time `json:"binned"`
	BinnedBy string    `json:"binnedBy"`
	// PurgeDate is when the lifecycle job purges it (its deletionDate).
	PurgeDate time.Time `json:"purgeDate"`
}

func toBinEntry(p *archive.Policy, rec *archive.Recording) binEntry {
	s := withDeletion(summarize(rec), p, rec)
	return binEntry{recordingSummary: s, Binned: rec.Binned, BinnedBy: rec.BinnedBy, PurgeDate: s.DeletionDate}
}

func (a *API) recycleBinList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.fourEyesHeld(u); err != nil {
		return err
	}
	q := r.URL.Query()
	from, to, limit, err := pageQuery(q)
	if err != nil {
		return err
	}
	recs, next, err := a.arc.RecycleBin(r.Context(), archive.Query{From: from, To: to, Limit: limit, Cursor: q.Get("cursor"),
		Match: func(rec *archive.Recording) bool { return archive.MayRestore(u, rec) }})
	if err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return errStatus(http.StatusBadRequest, "bad cursor")
		}
		return err
	}
	p := a.policy(r.Context())
	out := struct {
		Recordings []binEntry `json:"recordings"`
		Next       string     `json:"next,omitempty"`
	}{Recordings: make([]binEntry, 0, len(recs)), Next: next}
	for _, rec := range recs {
		out.Recordings = append(out.Recordings, toBinEntry(p, rec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// binned loads {id} from the recycle bin for u: one u may not restore (or
// that is not in the bin) is not found.
func binned(ctx context.Context, arc *archive.Archive, u *archive.User, idText string) (*archive.Recording, error) {
	id, err := archive.ParseID(idText)
	if err != nil {
		return nil, archive.ErrNotFound
	}
	rec, err := arc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !archive.MayRestore(u, rec) {
		return nil, archive.ErrNotFound
	}
	return rec, nil
}

// purgeRefusal says why u may not purge rec from the bin
// (archive.CheckPurge), or nil.
func purgeRefusal(u *archive.User) *lifecycleRefusal {
	return refusalOf(archive.CheckPurge(u))
}

func (a *API) recycleBinRestore(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.fourEyesHeld(u); err != nil {
		return err
	}
	rec, err := binned(r.Context(), a.arc, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if err := lifecycleErr(a.arc.Restore(r.Context(), rec.ID)); err != nil {
		return a.refusal(r, u, "recording.restore", target, err)
	}
	a.auditChange(r, u, "recording.restore", target, "binned by "+rec.BinnedBy)
	got, err := a.arc.Get(r.Context(), rec.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withDeletion(summarize(got), a.policy(r.Context()), got))
	return nil
}

func (a *API) recycleBinPurge(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if lr := purgeRefusal(u); lr != nil {
		return errStatus(lr.code, lr.msg) // says nothing about {id}
	}
	rec, err := binned(r.Context(), a.arc, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if err := lifecycleErr(a.arc.Delete(r.Context(), rec.ID, u.Login, whyBinPurge)); err != nil {
		return a.refusal(r, u, "recording.purge", target, err)
	}
	a.auditChange(r, u, "recording.purge", target, "from the recycle bin, binned by "+rec.BinnedBy)
	writeJSON(w, http.StatusOK, map[string]string{"id": target, "result": resultPurged})
	return nil
}

// sealVerify walks the whole seal chain. Admins only: the walk reads
// every entry of the archive (a cost no other role should be able to
// cause at will), and its counts of seals and tombstones describe the
// whole archive, beyond what a supervisor may read. Supervisors and users
// verify each recording they may read (GET /recordings/{id}/verify).
func (a *API) sealVerify(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	res, err := a.arc.VerifyChain(r.Context())
	if err != nil {
		return err
	}
	a.auditChange(r, u, "seal.verify", "seal chain", verifyDetail(res), res.Valid)
	out := struct {
		Valid      bool     `json:"valid"`
		Problems   []string `json:"problems"`
		Entries    int      `json:"entries"`
		Seals      int      `json:"seals"`
		Tombstones int      `json:"tombstones"`
		HeadSeq    uint64   `json:"headSeq"`
		Head       string   `json:"head"`
	}{Valid: res.Valid, Problems: res.Problems, Entries: res.Entries, Seals: res.Seals, Tombstones: res.Tombstones,
		HeadSeq: res.HeadSeq, Head: hex.EncodeToString(res.Head[:])}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Bounds of the lifecycle settings, as people are told them.
var (
	msgRetentionDays  = fmt.Sprintf("retentionDays must be a whole number from 0 (keep forever) to %d", archive.MaxRetentionDays)
	msgRecycleBinDays = fmt.Sprintf("recycleBinDays must be a whole number from 1 to %d", archive.MaxRetentionDays)
)

// validRetentionDays and validRecycleBinDays check the lifecycle settings.
func validRetentionDays(n int) bool  { return n >= 0 && n <= archive.MaxRetentionDays }
func validRecycleBinDays(n int) bool { return n >= 1 && n <= archive.MaxRetentionDays }

// patchLifecycle applies the lifecycle fields of a settings patch to s and
// names what it set, for the audit log.
func patchLifecycle(s *archive.Settings, p *apiSettingsPatch) ([]string, error) {
	var changed []string
	if p.RetentionDays != nil {
		if !validRetentionDays(*p.RetentionDays) {
			return nil, errStatus(http.StatusBadRequest, msgRetentionDays)
		}
		s.RetentionDays = *p.RetentionDays
		changed = append(changed, fmt.Sprintf("retentionDays=%d", s.RetentionDays))
	}
	if p.RecycleBinDays != nil {
		if !validRecycleBinDays(*p.RecycleBinDays) {
			return nil, errStatus(http.StatusBadRequest, msgRecycleBinDays)
		}
		s.RecycleBinDays = *p.RecycleBinDays
		changed = append(changed, fmt.Sprintf("recycleBinDays=%d", s.RecycleBinDays))
	}
	return changed, nil
}

// msgDeletionMode names the deletion modes.
const msgDeletionMode = `deletionMode must be "recoverable", "permanent" or "denied"`
