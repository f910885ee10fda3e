package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/webtest"
)

// TestVerifyExportsPending: a recording answered with its seal's export
// hashes still to follow verifies, and the answer says they are pending;
// once the exports entry is written, they are not.
func TestVerifyExportsPending(t *testing.T) {
	e := newPlayEnv(t)
	rec := e.addRec("alice", 100, 1, false)
	if err := e.arc.SealDeferred(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	verify := func() (valid, pending bool) {
		t.Helper()
		_, body, _ := e.get("alice", "/api/v1/recordings/"+rec.ID.String()+"/verify")
		var got struct{ Valid, Sealed, ExportsPending bool }
		if err := json.Unmarshal(body, &got); err != nil || !got.Sealed {
			t.Fatalf("verify: %s %v", body, err)
		}
		return got.Valid, got.ExportsPending
	}
	if valid, pending := verify(); !valid || !pending {
		t.Fatalf("pending: valid %v, exportsPending %v", valid, pending)
	}
	if err := e.arc.SealExports(t.Context(), rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	if valid, pending := verify(); !valid || pending {
		t.Fatalf("written: valid %v, exportsPending %v", valid, pending)
	}
}

// sealingMedia is SilentMedia that seals pending export hashes at once,
// as the recorder does for a download.
type sealingMedia struct {
	webtest.SilentMedia
	arc *archive.Archive
}

func (m sealingMedia) SealExportsNow(ctx context.Context, id archive.ID) error {
	rec, err := m.arc.Get(ctx, id)
	if err != nil {
		return err
	}
	wav, err := m.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, wav); err != nil {
		return err
	}
	return m.arc.SealExports(ctx, id, [][32]byte{[32]byte(h.Sum(nil))})
}

// TestDownloadSealsPendingExports: a recording's zip downloaded while its
// export hashes are pending carries both chain entries: the download
// writes the exports entry first, and the zip verifies offline.
func TestDownloadSealsPendingExports(t *testing.T) {
	e := newPlayEnv(t)
	e.api = New(e.arc, sealingMedia{arc: e.arc}, nil)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", e.api.Routes())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	rec := e.addRec("alice", 100, 1, false)
	if err := e.arc.SealDeferred(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	resp, body, err := e.get("alice", "/api/v1/recordings/"+rec.ID.String()+"/download.zip")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %s %v", resp.Status, err)
	}
	rep, err := export.VerifyZip(bytes.NewReader(body), int64(len(body)), e.arc.PublicKey())
	if err != nil || !rep.OK() {
		t.Fatalf("zip: %+v %v", rep, err)
	}
	if due, err := e.arc.ExportsDue(t.Context()); err != nil || len(due) != 0 {
		t.Fatalf("still due: %v %v", due, err)
	}
}
