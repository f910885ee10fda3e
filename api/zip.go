package api

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// recordingDownload serves GET /api/v1/recordings/{id}/download.zip.
func (a *API) recordingDownload(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := a.playCheck(r, u, rec, "download"); err != nil {
		return err
	}
	in, err := prepareZip(ctx, a.arc, a.media, rec, a.arc.Now())
	if err != nil {
		return err
	}
	if err := a.arc.Audit(ctx, archive.AuditEvent{
		Actor: u.Login, Action: "download", Target: rec.ID.String(), Remote: sourceIP(r), OK: true,
	}); err != nil {
		return err
	}
	name := "recording-" + webcore.RecTime(rec).UTC().Format("20060102-150405") + "-" + rec.ID.String()[:8] + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := export.Write(ctx, w, in); err != nil {
		// The status is sent: abort, so the client sees a failed download
		// rather than a truncated file.
		switch {
		case errors.Is(err, archive.ErrCorrupt):
			a.integrityFailed(r, u, rec.ID.String(), "download", err)
		case !errors.Is(err, context.Canceled):
			a.log.ErrorContext(ctx, "zip download failed", "id", rec.ID.String(), "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

// prepareZip renders everything but the audio bytes, so that errors come
// before the response starts.
func prepareZip(ctx context.Context, arc *archive.Archive, media webcore.Media, rec *archive.Recording, now time.Time) (export.Input, error) {
	settings, err := arc.Settings(ctx)
	if err != nil {
		return export.Input{}, err
	}
	loc := time.UTC
	if settings.TimeZone != "" {
		if l, err := time.LoadLocation(settings.TimeZone); err == nil {
			loc = l
		}
	}
	users, err := arc.Users(ctx)
	if err != nil {
		return export.Input{}, err
	}
	notes, err := arc.Notes(ctx, rec.ID)
	if err != nil {
		return export.Input{}, err
	}
	in := recinfo.ParseLenient(rec.Info)
	z := export.Input{ID: rec.ID, Seal: rec.Seal, PublicKey: arc.PublicKey(), Modified: webcore.RecTime(rec)}
	var rows [][2]string
	for i := range in.Result.Calls {
		wav, err := media.WAV(ctx, []*archive.Recording{rec}, i, codec.WAVOptions{})
		if err != nil {
			return export.Input{}, err
		}
		z.WAVs = append(z.WAVs, wav)
		v := "not sealed"
		if rec.Seal != nil && i < len(rec.Seal.Exports) {
			v = "sha256 " + hex.EncodeToString(rec.Seal.Exports[i][:]) + " (sealed)"
		}
		rows = append(rows, [2]string{export.WAVName(i, len(in.Result.Calls)), v})
	}
	doc := webcore.NewCallDoc(rec, webcore.UserIndex(users), notes, settings, loc, z.PublicKey, rows, now)
	if z.PDF, err = export.CallInfoPDF(doc); err != nil {
		return export.Input{}, err
	}
	return z, nil
}
