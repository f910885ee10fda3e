package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/byterange"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// Audit actions of playback.
const (
	actionPlay          = "play"
	actionIntegrityFail = "integrity.fail"
)

// Headers and messages of playback.
const (
	// sealHeader tells a client what the seal check before serving found:
	// "sealed" or "unsealed" (finished, sealing has not caught up or is
	// off).
	sealHeader = "Callvault-Seal"

	msgSealBroken = "the recording failed its integrity check (its seal does not match the stored recording); nothing is served. An administrator can verify the recording and the seal chain"
	msgRecording  = "the recording is still being recorded; its audio is available when it is finished"
	msgNoCall     = "the recording holds no call the appliance can decode; the original capture can be downloaded"
)

// playCheck checks the seal of rec before any of its audio, original or
// download is served (archive.CheckPlayback). A broken seal is refused
// with 500 and the message above, and written to the audit log as
// integrity.fail. A finished recording not sealed yet is served, marked
// "unsealed"; a recording still being written is the caller's to refuse
// or serve.
func (a *API) playCheck(r *http.Request, u *archive.User, rec *archive.Recording, what string) (archive.SealStatus, error) {
	st, err := a.arc.CheckPlayback(r.Context(), rec.ID)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, archive.ErrCorrupt) {
		return "", err
	}
	a.integrityFailed(r, u, rec.ID.String(), what, err)
	return "", errStatus(http.StatusInternalServerError, msgSealBroken)
}

// integrityFailed logs and audits a recording whose seal or stored bytes
// failed a check while what was being served. The same failure seen again
// by the same login within listening.Window of the last (a player retrying, a
// page reloaded) is logged but not audited again.
func (a *API) integrityFailed(r *http.Request, u *archive.User, target, what string, err error) {
	a.log.ErrorContext(r.Context(), "recording failed its integrity check; not served", "recording", target, "serving", what, "err", err)
	detail := what + ": " + integrityDetail(err)
	key := u.Login + "\x00" + target + "\x00" + detail
	if !a.failures.Start(key, a.arc.Now()) {
		return
	}
	// Written even when the request was cancelled by then.
	ctx := context.WithoutCancel(r.Context())
	if aerr := a.auditEvent(ctx, r, u, actionIntegrityFail, target, false, detail); aerr != nil {
		a.failures.Forget(key)
		a.log.ErrorContext(ctx, "audit of an integrity failure", "err", aerr)
	}
}

// integrityDetail is the archive's description of the damage, without its
// package prefix: chunk numbers and seal reasons, never key material.
func integrityDetail(err error) string {
	var se *archive.SealError
	if errors.As(err, &se) {
		return "seal: " + se.Reason
	}
	var ce *archive.ChunkError
	if errors.As(err, &ce) {
		kind := "original"
		if ce.Kind == archive.BlobMap {
			kind = "placement map"
		}
		return kind + " chunk " + strconv.FormatUint(ce.Index, 10) + ": " + ce.Reason
	}
	return strings.TrimPrefix(err.Error(), "archive: ")
}

// audible says whether rec has audio to render: 409 while it is still
// being recorded, 422 when it holds no call (nothing was decodable).
func audible(rec *archive.Recording) error {
	if rec.State == archive.StateRecording {
		return errStatus(http.StatusConflict, msgRecording)
	}
	if len(recinfo.ParseLenient(rec.Info).Result.Calls) == 0 {
		return errStatus(http.StatusUnprocessableEntity, msgNoCall)
	}
	return nil
}

// serveChecked serves rs with http.ServeContent. The first piece of what
// is asked for is read before the status is sent, so a stored chunk that
// fails authentication there is a 500 with a clear message (a player
// reports it at once, where it retries a broken connection for many
// seconds). When reading fails later — the status and Content-Length are
// sent by then — the response is aborted (the connection is reset), so the
// client sees a failed transfer, never a short file that looks complete.
// A chunk that fails authentication is logged and audited as
// integrity.fail.
//
// audit, if not nil, runs once the first piece is read, before the status
// is sent; its error is returned without serving.
func (a *API) serveChecked(w http.ResponseWriter, r *http.Request, u *archive.User, target, what string, mod time.Time, rs io.ReadSeeker, audit func() error) error {
	if byterange.RefuseTooMany(w, r, rs) {
		return nil
	}
	if err := webcore.Probe(rs, r.Header.Get("Range")); err != nil {
		for _, h := range []string{"Content-Disposition", "ETag", sealHeader} {
			w.Header().Del(h)
		}
		if errors.Is(err, archive.ErrCorrupt) {
			a.integrityFailed(r, u, target, what, err)
			return errStatus(http.StatusInternalServerError, msgSealBroken)
		}
		return err
	}
	if audit != nil {
		if err := audit(); err != nil {
			return err
		}
	}
	cr := webcore.NewCheckedReader(rs)
	http.ServeContent(w, r, "", mod, cr)
	err := cr.Failed()
	if err == nil {
		return nil
	}
	if errors.Is(err, archive.ErrCorrupt) {
		a.integrityFailed(r, u, target, what, err)
	} else if r.Context().Err() == nil {
		a.log.ErrorContext(r.Context(), "serving a recording failed part way", "recording", target, "serving", what, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// auditPlay records a "play" when an audio request starts a listening
// session of u on target: one entry per session, however many Range
// requests the player makes (a HEAD request is none). Audio is not served
// when the audit log cannot record it.
func (a *API) auditPlay(r *http.Request, u *archive.User, target, detail string) error {
	if r.Method == http.MethodHead {
		return nil // no audio leaves
	}
	key := u.Login + "\x00" + target + "\x00" + detail
	if !a.plays.Start(key, a.arc.Now()) {
		return nil
	}
	if err := a.auditEvent(r.Context(), r, u, actionPlay, target, true, detail); err != nil {
		a.plays.Forget(key)
		return err
	}
	return nil
}

// sourceIP is the address of the client without its port: what the audit
// log records as the source.
func sourceIP(r *http.Request) string { return archive.AddrHost(r.RemoteAddr) }

// callPlayCheck is audible and playCheck over the segments of a call: 409
// while one is still being recorded, 422 when none holds a call, and
// "sealed" only when every segment is.
func (a *API) callPlayCheck(r *http.Request, u *archive.User, recs []*archive.Recording) (archive.SealStatus, error) {
	st, calls := archive.SealValid, 0
	for _, rec := range recs {
		if rec.State == archive.StateRecording {
			return "", errStatus(http.StatusConflict, msgRecording)
		}
		calls += len(recinfo.ParseLenient(rec.Info).Result.Calls)
	}
	if calls == 0 {
		return "", errStatus(http.StatusUnprocessableEntity, msgNoCall)
	}
	for _, rec := range recs {
		s, err := a.playCheck(r, u, rec, "audio")
		if err != nil {
			return "", err
		}
		if s != archive.SealValid {
			st = s
		}
	}
	return st, nil
}

// sealCheck is what archive.CheckPlayback finds, for people and the API:
// "sealed", "unsealed", "recording" or "failed".
func sealCheck(ctx context.Context, arc *archive.Archive, id archive.ID) (string, error) {
	st, err := arc.CheckPlayback(ctx, id)
	switch {
	case errors.Is(err, archive.ErrCorrupt):
		return "failed", nil
	case err != nil:
		return "", err
	}
	return string(st), nil
}
