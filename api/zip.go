package api

import (
	"context"
	"errors"
	"net/http"

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
	in, err := webcore.PrepareZip(ctx, a.arc, a.media, rec, a.arc.Now())
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

// callPieces returns, for each segment of a call, the data bytes of each
// of its calls in the call's canonical WAV (the segments' calls in order).
// The call's WAV has the highest rate of its pieces (16 kHz when one has
// G.722): an 8 kHz piece takes twice its own size in it.
func callPieces(ctx context.Context, media webcore.Media, recs []*archive.Recording) ([][]int64, error) {
	out := make([][]int64, len(recs))
	rates := make([][]int, len(recs))
	top := 8000
	for i, rec := range recs {
		for k := range recinfo.ParseLenient(rec.Info).Result.Calls {
			wav, err := media.WAV(ctx, []*archive.Recording{rec}, k, codec.WAVOptions{})
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], wav.Size()-codec.WAVHeaderSize)
			rates[i] = append(rates[i], wav.Rate())
			top = max(top, wav.Rate())
		}
	}
	for i := range out {
		for k := range out[i] {
			out[i][k] = out[i][k] * int64(top) / int64(rates[i][k])
		}
	}
	return out, nil
}

// callDownload serves GET /api/v1/calls/{guid}/download.zip: the whole
// call as one WAV and the seal of every segment (export.WriteCall).
func (a *API) callDownload(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	recs, err := a.callRecordings(r, u)
	if err != nil {
		return err
	}
	if _, err := a.callPlayCheck(r, u, recs); err != nil {
		return err
	}
	ctx := r.Context()
	pieces, err := callPieces(ctx, a.media, recs)
	if err != nil {
		return err
	}
	wav, err := a.media.WAV(ctx, recs, -1, codec.WAVOptions{})
	if err != nil {
		return err
	}
	guid := r.PathValue("guid")
	last := recs[len(recs)-1]
	in := export.CallInput{CallID: guid, WAV: wav, PublicKey: a.arc.PublicKey(), Modified: webcore.RecTime(last)}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		rec = webcore.WithExports(ctx, a.arc, a.media, rec)
		in.Parts = append(in.Parts, export.CallPart{ID: rec.ID, Seal: rec.Seal, Pieces: pieces[i]})
		ids[i] = rec.ID.String()
	}
	for _, id := range ids {
		if err := a.arc.Audit(ctx, archive.AuditEvent{
			Actor: u.Login, Action: "download", Target: id, Detail: "call " + guid, Remote: sourceIP(r), OK: true,
		}); err != nil {
			return err
		}
	}
	name := "call-" + webcore.RecTime(recs[0]).UTC().Format("20060102-150405") + "-" + recs[0].ID.String()[:8] + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := export.WriteCall(ctx, w, in); err != nil {
		switch {
		case errors.Is(err, archive.ErrCorrupt):
			a.integrityFailed(r, u, guid, "download", err)
		case !errors.Is(err, context.Canceled):
			a.log.ErrorContext(ctx, "call zip download failed", "call", guid, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}
