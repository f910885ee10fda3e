package webcore

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/recinfo"
)

// PrepareZip is a recording's zip (export.Write) with everything but the
// audio bytes rendered, so that errors come before the response starts.
func PrepareZip(ctx context.Context, arc *archive.Archive, media Media, rec *archive.Recording, now time.Time) (export.Input, error) {
	rec = WithExports(ctx, arc, media, rec)
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
	z := export.Input{ID: rec.ID, Seal: rec.Seal, PublicKey: arc.PublicKey(), Modified: RecTime(rec)}
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
	doc := NewCallDoc(rec, UserIndex(users), notes, settings, loc, z.PublicKey, rows, now)
	if z.PDF, err = export.CallInfoPDF(doc); err != nil {
		return export.Input{}, err
	}
	return z, nil
}
