package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/callvault/callvault/archive"
)

// Pauser pauses and resumes the recording of a call being recorded now
// (the recorder, SetPauser). callID is the call GUID of the upload's
// name or a SIP Call-ID seen in its capture; u is the caller, who must be
// an integration account or the user who owns the upload.
type Pauser interface {
	Pause(ctx context.Context, callID string, u *archive.User, resume bool) (archive.ID, error)
}

// Errors a Pauser returns.
var (
	// ErrNoLiveCall: no call with that id is being recorded now, or the
	// caller may not pause it (404).
	ErrNoLiveCall = errors.New("no call with that id is being recorded now")
	// ErrPauseState: already paused, or not paused (409).
	ErrPauseState = errors.New("the call is already in that state")
	// ErrTooManyPauses: the call's pauses are used up (409).
	ErrTooManyPauses = errors.New("too many pauses in this call")
)

// SetPauser enables POST /api/v1/calls/{callId}/pause and /resume; without
// one they answer 503.
func (a *API) SetPauser(p Pauser) { a.pauser = p }

func (a *API) pauseRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/calls/{callId}/pause", a.wrapIntegration(a.callPause(false)))
	mux.Handle("POST /api/v1/calls/{callId}/resume", a.wrapIntegration(a.callPause(true)))
}

type pauseAnswer struct {
	CallID      string `json:"callId"`
	RecordingID string `json:"recordingId"`
	Paused      bool   `json:"paused"`
}

// callPause is POST /api/v1/calls/{callId}/pause (resume false) and
// /resume: the secure pause of a call being recorded now. Pauses and
// resumes are audited.
func (a *API) callPause(resume bool) appFunc {
	action := "call.pause"
	if resume {
		action = "call.resume"
	}
	return func(w http.ResponseWriter, r *http.Request, u *archive.User) error {
		if a.pauser == nil {
			return errStatus(http.StatusServiceUnavailable, "secure pause is not available")
		}
		callID := r.PathValue("callId")
		if callID == "" || len(callID) > 256 {
			return errStatus(http.StatusBadRequest, "callId: the call GUID of the upload's name or a SIP Call-ID")
		}
		id, err := a.pauser.Pause(r.Context(), callID, u, resume)
		switch {
		case errors.Is(err, ErrNoLiveCall):
			return errStatus(http.StatusNotFound, ErrNoLiveCall.Error())
		case errors.Is(err, ErrPauseState):
			msg := "the call is paused already"
			if resume {
				msg = "the call is not paused"
			}
			return errStatus(http.StatusConflict, msg)
		case errors.Is(err, ErrTooManyPauses):
			return errStatus(http.StatusConflict, ErrTooManyPauses.Error())
		case err != nil:
			return err
		}
		a.auditChange(r, u, action, id.String(), "call "+callID)
		writeJSON(w, http.StatusOK, pauseAnswer{CallID: callID, RecordingID: id.String(), Paused: !resume})
		return nil
	}
}
