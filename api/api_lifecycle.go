package api

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
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

// refusal turns a webcore.LifecycleRefusal into the API's error, audited as a
// failed action; other errors pass.
func (a *API) refusal(r *http.Request, u *archive.User, action, target string, err error) error {
	var lr *webcore.LifecycleRefusal
	if errors.As(err, &lr) {
		a.auditChange(r, u, action, target, "refused: "+lr.Detail, false)
		return errStatus(lr.Code, lr.Msg)
	}
	return err
}

// policy returns the lifecycle policy for deletion dates, or nil (no
// dates shown) when it cannot be read.
func (a *API) policy(ctx context.Context) *archive.Policy {
	return webcore.LifecyclePolicy(ctx, a.arc, a.log)
}

// withDeletion adds the deletion date to a summary.
func withDeletion(s recordingSummary, p *archive.Policy, rec *archive.Recording) recordingSummary {
	s.DeletionDate = webcore.DeletionDate(p, rec)
	return s
}

func (a *API) recordingDelete(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if lr := webcore.DeleteRefusal(u, rec); lr != nil {
		return a.refusal(r, u, "recording.delete", target, lr)
	}
	result, err := webcore.RemoveRecording(r.Context(), a.arc, u, rec)
	if err != nil {
		return a.refusal(r, u, "recording.delete", target, err)
	}
	a.auditChange(r, u, "recording.delete", target, webcore.DeleteDetail(result))
	out := struct {
		ID        string    `json:"id"`
		Result    string    `json:"result"`
		PurgeDate time.Time `json:"purgeDate,omitzero"`
	}{ID: target, Result: result}
	if result == webcore.ResultBinned {
		if got, err := a.arc.Get(r.Context(), rec.ID); err == nil {
			out.PurgeDate = webcore.DeletionDate(a.policy(r.Context()), got)
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

func (a *API) setProtected(w http.ResponseWriter, r *http.Request, u *archive.User, on bool) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	action, target := webcore.ProtectAction(on), rec.ID.String()
	if lr := webcore.ProtectRefusal(u, rec); lr != nil {
		return a.refusal(r, u, action, target, lr)
	}
	if err := webcore.LifecycleErr(a.arc.SetProtected(r.Context(), rec.ID, on)); err != nil {
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

func (a *API) recycleBinRestore(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.fourEyesHeld(u); err != nil {
		return err
	}
	rec, err := webcore.Binned(r.Context(), a.arc, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if err := webcore.LifecycleErr(a.arc.Restore(r.Context(), rec.ID)); err != nil {
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
	if lr := webcore.PurgeRefusal(u); lr != nil {
		return errStatus(lr.Code, lr.Msg) // says nothing about {id}
	}
	rec, err := webcore.Binned(r.Context(), a.arc, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	target := rec.ID.String()
	if err := webcore.LifecycleErr(a.arc.Delete(r.Context(), rec.ID, u.Login, webcore.WhyBinPurge)); err != nil {
		return a.refusal(r, u, "recording.purge", target, err)
	}
	a.auditChange(r, u, "recording.purge", target, "from the recycle bin, binned by "+rec.BinnedBy)
	writeJSON(w, http.StatusOK, map[string]string{"id": target, "result": webcore.ResultPurged})
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

// patchLifecycle applies the lifecycle fields of a settings patch to s and
// names what it set, for the audit log.
func patchLifecycle(s *archive.Settings, p *apiSettingsPatch) ([]string, error) {
	var changed []string
	if p.RetentionDays != nil {
		if !webcore.ValidRetentionDays(*p.RetentionDays) {
			return nil, errStatus(http.StatusBadRequest, msgRetentionDays)
		}
		s.RetentionDays = *p.RetentionDays
		changed = append(changed, fmt.Sprintf("retentionDays=%d", s.RetentionDays))
	}
	if p.RecycleBinDays != nil {
		if !webcore.ValidRecycleBinDays(*p.RecycleBinDays) {
			return nil, errStatus(http.StatusBadRequest, msgRecycleBinDays)
		}
		s.RecycleBinDays = *p.RecycleBinDays
		changed = append(changed, fmt.Sprintf("recycleBinDays=%d", s.RecycleBinDays))
	}
	return changed, nil
}

// msgDeletionMode names the deletion modes.
const msgDeletionMode = `deletionMode must be "recoverable", "permanent" or "denied"`
