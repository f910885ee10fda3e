package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/byterange"
)

// accountRoutes adds the routes of users, API tokens, notes, the audit log
// and the settings. Every route is documented in api/openapi.yaml (a test
// checks both ways).
func (a *API) accountRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/users", a.wrap(a.userList))
	mux.Handle("POST /api/v1/users", a.wrap(a.userCreate))
	mux.Handle("GET /api/v1/users/{login}", a.wrap(a.userShow))
	mux.Handle("PATCH /api/v1/users/{login}", a.wrap(a.userPatch))
	mux.Handle("DELETE /api/v1/users/{login}", a.wrap(a.userDelete))
	mux.Handle("GET /api/v1/users/{login}/tokens", a.wrap(a.tokenList))
	mux.Handle("POST /api/v1/users/{login}/tokens", a.wrap(a.tokenCreate))
	mux.Handle("DELETE /api/v1/users/{login}/tokens/{token}", a.wrap(a.tokenRevoke))
	mux.Handle("GET /api/v1/recordings/{id}/notes", a.wrap(a.noteList))
	mux.Handle("POST /api/v1/recordings/{id}/notes", a.wrap(a.noteCreate))
	mux.Handle("GET /api/v1/recordings/{id}/notes/{note}", a.wrap(a.noteShow))
	mux.Handle("PATCH /api/v1/recordings/{id}/notes/{note}", a.wrap(a.notePatch))
	mux.Handle("DELETE /api/v1/recordings/{id}/notes/{note}", a.wrap(a.noteDelete))
	mux.Handle("GET /api/v1/audit", a.wrap(a.auditList))
	mux.Handle("GET /api/v1/audit/verify", a.wrap(a.auditVerify))
	mux.Handle("GET /api/v1/settings", a.wrap(a.settingsShow))
	mux.Handle("PATCH /api/v1/settings", a.wrap(a.settingsPatch))
	mux.Handle("POST /api/v1/settings/key", a.wrap(a.settingsKey))
	mux.Handle("POST /api/v1/settings/preview", a.wrap(a.settingsPreview))
}

// startsAtZero reports whether the answer to r for a resource of size
// bytes may carry its first byte, as http.ServeContent reads the Range
// header (byterange.ServesStart; when in doubt, it does). A client fetches
// an original in many ranges; only a fetch of its start is an
// "original.get" in the audit log.
func startsAtZero(r *http.Request, size int64) bool { return byterange.ServesStart(r, size) }

// tooManyRanges refuses, before anything is read, a Range header naming
// more than byterange.MaxRanges ranges: http.ServeContent would answer
// thousands of tiny ones with a multipart body many times the resource.
func tooManyRanges(w http.ResponseWriter, r *http.Request, size int64) error {
	if !byterange.TooMany(r) {
		return nil
	}
	w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	return errStatus(http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("too many ranges: at most %d in one request", byterange.MaxRanges))
}

func verifyDetail(res *archive.VerifyResult) string {
	if res.Valid {
		return "valid"
	}
	return fmt.Sprintf("%d problems", len(res.Problems))
}
