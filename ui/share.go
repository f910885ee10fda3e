package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/share"
)

// The pages of secure links: sending a selection of recordings to an
// external recipient or to an archive user, an internal link as its
// recipient sees it, the External access page (log and config) and the
// outbox of mail.

// maxMultipartBytes bounds the config form: a logo (share.MaxLogo) and
// the terms of use in every language.
const maxMultipartBytes = 2 << 20

func (u *UI) shareRoutes(mux *http.ServeMux) {
	mux.Handle("GET /share/new", u.page(member, u.shareNewForm))
	mux.Handle("POST /share/new", u.page(member, u.shareNewSubmit))
	mux.Handle("GET /share/internal", u.page(member, u.shareInternalForm))
	mux.Handle("POST /share/internal", u.page(member, u.shareInternalSubmit))
	mux.Handle("GET /links/{id}", u.page(member, u.held(u.internalLinkShow)))
	mux.Handle("GET /external", u.page(member, u.externalLog))
	mux.Handle("GET /external/{id}/cancel", u.page(member, u.externalCancelForm))
	mux.Handle("POST /external/{id}/cancel", u.page(member, u.externalCancel))
	mux.Handle("GET /external/config", u.page(admin, u.externalConfigShow))
	mux.Handle("POST /external/config", u.pageForm(admin, true, u.externalConfigSave))
	mux.Handle("GET /admin/outbox", u.page(admin, u.outboxShow))
}

// mayExternal: admins and the users with "may see the external access
// page".
func mayExternal(usr *archive.User) bool {
	return usr != nil && (usr.Role == archive.RoleAdmin || usr.MaySeeExternal)
}

// maySendLinks: admins and the users with "may send links".
func maySendLinks(usr *archive.User) bool {
	return usr != nil && (usr.Role == archive.RoleAdmin || usr.MaySendLinks)
}

var errNoShares = &pageError{code: http.StatusNotFound, msg: "msg.linksNotAvailableAppliance"}

// shares returns the service, or a 404 when the appliance has none.
func (u *UI) shares() (*share.Service, error) {
	if u.opts.Shares == nil {
		return nil, errNoShares
	}
	return u.opts.Shares, nil
}

// endOfDay is 23:59:59 of the day days after now's in loc: the end of a
// link sent now for days (share's rule).
func endOfDay(now time.Time, days int, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d+days, 23, 59, 59, 0, loc)
}

func zoneName(rc *reqCtx) string {
	if rc.loc == nil || rc.loc == time.UTC {
		return "UTC"
	}
	return rc.loc.String()
}

// untilText is the end of a link as the forms show it.
func untilText(t time.Time, rc *reqCtx) string {
	return rc.T("js.until", rc.whenMinute(t), zoneName(rc))
}

// selected reads the chosen recordings (?r=id&r=id; a row of several
// segments submits them comma-separated), in order, without repeats.
func selected(vals []string) []string {
	var ids []string
	for _, v := range vals {
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// selection is the chosen recordings as the send pages list them.
type selection struct {
	IDs  []string
	Rows []listRow
}

// loadSelection checks the chosen recordings: at least one, at most
// share.MaxRecordings, each one the viewer may read (4-eyes included).
func (u *UI) loadSelection(r *http.Request, rc *reqCtx, vals []string) (selection, error) {
	ids := selected(vals)
	sel := selection{IDs: ids}
	switch {
	case len(ids) == 0:
		return sel, &pageError{code: http.StatusBadRequest, msg: "msg.chooseLeastOneRecording"}
	case len(ids) > share.MaxRecordings:
		return sel, &pageError{code: http.StatusBadRequest, msg: "msg.share.tooMany", args: []any{rc.num(len(ids)), share.MaxRecordings}}
	}
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return sel, err
	}
	idx := webcore.UserIndex(users)
	for _, s := range ids {
		id, err := archive.ParseID(s)
		if err != nil {
			return sel, &pageError{code: http.StatusNotFound, msg: "msg.chosenRecordingWasNot"}
		}
		rec, err := u.arc.Get(r.Context(), id)
		if errors.Is(err, archive.ErrNotFound) || (err == nil && !u.opts.FourEyes.MayRead(rc.user, rec)) {
			return sel, &pageError{code: http.StatusNotFound, msg: "msg.chosenRecordingWasNot"}
		}
		if err != nil {
			return sel, err
		}
		sel.Rows = append(sel.Rows, u.listRow(rc, &group{segs: []*archive.Recording{rec}}, idx))
	}
	return sel, nil
}

// senderCheck refuses those who may not send links; for the others it
// returns the service and the send forms' configuration.
func (u *UI) senderCheck(r *http.Request, rc *reqCtx) (*share.Service, *share.Config, error) {
	s, err := u.shares()
	if err != nil {
		return nil, nil, err
	}
	if !maySendLinks(rc.user) {
		return nil, nil, &pageError{code: http.StatusForbidden, msg: "msg.yourAccountNotSend"}
	}
	cfg, err := s.Config(r.Context())
	if err != nil {
		return nil, nil, err
	}
	return s, cfg, nil
}

// formMsg is the message of a refusal to show above a form kept as it
// was; other errors go to the error page.
func formMsg(rc *reqCtx, err error) (string, bool) {
	var se *share.Error
	if errors.As(err, &se) {
		return shareErrorText(rc, se), true
	}
	var pe *pageError
	if errors.As(err, &pe) {
		return pe.message(rc), true
	}
	return "", false
}
