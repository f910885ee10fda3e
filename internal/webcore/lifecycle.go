package webcore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
)

// A recording's lifecycle as pages and the API present it: the archive's
// rules (CheckDelete, CheckPurge, MayProtect, MayRestore, DeleteFor)
// mapped to refusals with a status, a message for API clients, one for
// people and one for the audit log.

// Deletion results, as the API and the audit log name them.
const (
	ResultBinned = "binned"
	ResultPurged = "purged"
)

// WhyUserDelete and WhyBinPurge are the reasons in the tombstones of
// recordings people remove.
const (
	WhyUserDelete = "deleted by user"
	WhyBinPurge   = "purged from the recycle bin"
)

// LifecycleRefusal is why a delete, purge or legal-hold change is refused
// to someone who may read the recording.
type LifecycleRefusal struct {
	Code   int    // 403 or 409
	Msg    string // for API clients
	Page   string // for people, on a page
	Detail string // for the audit log
}

func (e *LifecycleRefusal) Error() string { return e.Msg }

var (
	RefusedDelete = &LifecycleRefusal{http.StatusForbidden, "you may not delete this recording",
		"You may not delete this recording: only its owner and administrators may.", "not allowed"}
	RefusedDenied = &LifecycleRefusal{http.StatusForbidden, "your account may not delete recordings",
		"Your account may not delete recordings.", "deletion mode denied"}
	RefusedProtected = &LifecycleRefusal{http.StatusConflict, "the recording is protected (legal hold); lift the hold first",
		"This recording is protected (legal hold). Lift the hold before deleting it.", "protected"}
	RefusedRecording = &LifecycleRefusal{http.StatusConflict, "the recording is still being recorded",
		"This recording is still being recorded.", "still recording"}
	RefusedAdmins = &LifecycleRefusal{http.StatusForbidden, "only admins may purge recordings from the recycle bin",
		"Only administrators may purge recordings from the recycle bin.", "admins only"}
	RefusedProtect = &LifecycleRefusal{http.StatusForbidden, "you may not protect recordings",
		"You may not put recordings on legal hold.", "not allowed"}
	RefusedChanged = &LifecycleRefusal{http.StatusConflict, "the recording changed meanwhile; reload it",
		"The recording changed meanwhile. Reload the page and try again.", "state changed"}
)

// deleteRefusal says why u may not delete rec (archive.CheckDelete), or
// nil when u may. u may read rec.
func DeleteRefusal(u *archive.User, rec *archive.Recording) *LifecycleRefusal {
	return RefusalOf(archive.CheckDelete(u, rec))
}

// refusalOf maps the archive's reason to the refusal pages and API show.
func RefusalOf(why archive.DeleteRefusal) *LifecycleRefusal {
	switch why {
	case archive.DeleteAllowed:
		return nil
	case archive.DeleteModeDenied:
		return RefusedDenied
	case archive.DeleteHeld:
		return RefusedProtected
	case archive.DeleteStillRecording:
		return RefusedRecording
	case archive.DeleteAdminsOnly:
		return RefusedAdmins
	case archive.DeleteNotOwner:
		return RefusedDelete
	}
	return RefusedDelete
}

// removeRecording deletes rec as u's deletion mode says
// (archive.DeleteFor): to the recycle bin (recoverable) or for good
// (permanent). It returns ResultBinned or ResultPurged. The caller has
// checked deleteRefusal.
func RemoveRecording(ctx context.Context, arc *archive.Archive, u *archive.User, rec *archive.Recording) (string, error) {
	permanent, err := arc.DeleteFor(ctx, u, rec.ID, WhyUserDelete)
	if permanent {
		return ResultPurged, LifecycleErr(err)
	}
	return ResultBinned, LifecycleErr(err)
}

// lifecycleErr maps the archive's refusals of a change that raced with
// another (a hold set, a bin entry restored) to refusals.
func LifecycleErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, archive.ErrProtected):
		return RefusedProtected
	case errors.Is(err, archive.ErrState):
		return RefusedChanged
	}
	return err
}

// deleteDetail is the audit detail of a delete.
func DeleteDetail(result string) string {
	if result == ResultPurged {
		return "purged (permanent deletion)"
	}
	return "moved to the recycle bin"
}

func LifecyclePolicy(ctx context.Context, arc *archive.Archive, log *slog.Logger) *archive.Policy {
	p, err := arc.Policy(ctx)
	if err != nil {
		log.ErrorContext(ctx, "lifecycle policy", "err", err)
		return nil
	}
	return p
}

// deletionDate is when the lifecycle job removes rec (zero: no rule will),
// in the policy's time zone.
func DeletionDate(p *archive.Policy, rec *archive.Recording) time.Time {
	if p == nil {
		return time.Time{}
	}
	t := p.DeletionDate(rec)
	if !t.IsZero() && p.Loc != nil {
		t = t.In(p.Loc)
	}
	return t
}

// protectRefusal says why u may not set or lift the hold on rec (which u
// may read), or nil.
func ProtectRefusal(u *archive.User, rec *archive.Recording) *LifecycleRefusal {
	free := *rec
	free.State = archive.StateComplete
	switch {
	case !archive.MayProtect(u, &free):
		return RefusedProtect
	case rec.State == archive.StateRecording:
		return RefusedRecording
	}
	return nil
}

func ProtectAction(on bool) string {
	if on {
		return "recording.protect"
	}
	return "recording.unprotect"
}

// binned loads {id} from the recycle bin for u: one u may not restore (or
// that is not in the bin) is not found.
func Binned(ctx context.Context, arc *archive.Archive, u *archive.User, idText string) (*archive.Recording, error) {
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
func PurgeRefusal(u *archive.User) *LifecycleRefusal {
	return RefusalOf(archive.CheckPurge(u))
}

// validRetentionDays and validRecycleBinDays check the lifecycle settings.
func ValidRetentionDays(n int) bool  { return n >= 0 && n <= archive.MaxRetentionDays }
func ValidRecycleBinDays(n int) bool { return n >= 1 && n <= archive.MaxRetentionDays }

// lifecycleChange tells what saving settings next over old deletes: the
// recordings the next lifecycle run would delete under next and not under
// old (archive.PreviewExpire, the run's own rules). Nothing to count when
// no lifecycle setting changes.
func LifecycleChange(ctx context.Context, arc *archive.Archive, old, next archive.Settings) (archive.ExpirePreview, error) {
	if old.RetentionDays == next.RetentionDays && old.RecycleBinDays == next.RecycleBinDays && old.TimeZone == next.TimeZone {
		return archive.ExpirePreview{}, nil
	}
	return arc.PreviewExpire(ctx, next)
}

// deletionWarning says what saving deletes.
func DeletionWarning(n int) string {
	if n == 1 {
		return "With these settings the next daily lifecycle run deletes 1 recording that the current settings keep."
	}
	return fmt.Sprintf("With these settings the next daily lifecycle run deletes %d recordings that the current settings keep.", n)
}
