package main

import (
	"context"
	"errors"

	"github.com/callvault/callvault/api"
	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recorder"
)

// pauser gives the JSON API the recorder's secure pause, with the
// recorder's errors as the API's.
type pauser struct{ rec *recorder.Recorder }

func (p pauser) Pause(ctx context.Context, callID string, u *archive.User, resume bool) (archive.ID, error) {
	id, err := p.rec.Pause(ctx, callID, u, resume)
	switch {
	case errors.Is(err, recorder.ErrNoLiveCall):
		err = api.ErrNoLiveCall
	case errors.Is(err, recorder.ErrPauseState):
		err = api.ErrPauseState
	case errors.Is(err, recorder.ErrTooManyPauses):
		err = api.ErrTooManyPauses
	}
	return id, err
}
