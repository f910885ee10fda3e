package api

import (
	"fmt"
	"net/http"

	"github.com/callvault/callvault/archive"
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

func verifyDetail(res *archive.VerifyResult) string {
	if res.Valid {
		return "valid"
	}
	return fmt.Sprintf("%d problems", len(res.Problems))
}
