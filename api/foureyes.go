package api

import (
	"errors"
	"net/http"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/foureyes"
)

// SetFourEyes makes the API enforce 4-eyes access with f.
func (a *API) SetFourEyes(f *foureyes.Access) { a.fourEyes = f }

// fourEyesHeld refuses a user under 4-eyes access without a grant.
func (a *API) fourEyesHeld(u *archive.User) error {
	if a.fourEyes.Allowed(u) {
		return nil
	}
	return &httpError{http.StatusForbidden, "4-eyes access: your supervisor has not granted access, or the grant ended; ask with POST /api/v1/foureyes/request",
		"Your supervisor has not granted access, or the access has ended. Ask for access again on the home page."}
}

// fourEyesShow is GET /api/v1/foureyes: the caller's 4-eyes state, and
// for a supervisor the waiting requests and active grants.
func (a *API) fourEyesShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	out := struct {
		Subject     *foureyes.Status      `json:"subject"`
		Supervision *foureyes.Supervision `json:"supervision"`
	}{}
	f := a.fourEyes
	if f.Subject(u) {
		st, _ := f.Status(u)
		st = f.WithName(r.Context(), st)
		out.Subject = &st
	}
	if ok, err := f.Supervises(r.Context(), u.Login, true); err != nil {
		return err
	} else if ok {
		v, _ := f.Supervision(u.Login)
		out.Supervision = &v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// fourEyesRequestAPI is POST /api/v1/foureyes/request.
func (a *API) fourEyesRequestAPI(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	st, err := a.fourEyes.Request(r.Context(), u, sourceIP(r))
	switch {
	case errors.Is(err, foureyes.ErrNotSubject):
		return errStatus(http.StatusConflict, "your account needs no supervisor's approval")
	case errors.Is(err, foureyes.ErrTooMany):
		return errStatus(http.StatusTooManyRequests, "too many requests are waiting for your supervisor")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

// fourEyesAPIRoutes adds the API routes of 4-eyes access.
func (a *API) fourEyesAPIRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/foureyes", a.wrap(a.fourEyesShow))
	mux.Handle("POST /api/v1/foureyes/request", a.wrap(a.fourEyesRequestAPI))
}
