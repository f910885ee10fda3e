package ui

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/callvault/callvault/archive"
)

// auditPageSize is the number of audit events per page.
const auditPageSize = 100

type auditRow struct {
	Seq                           uint64
	When, WhenISO                 string
	Actor, Action, Target, Remote string
	OK                            bool
	Detail                        string
}

type chainView struct {
	Valid    bool
	Entries  int
	Head     string
	Problems []string
}

type auditPage struct {
	Base
	Q, Actor, Action, From, To string
	Rows                       []auditRow
	NextURL, FirstURL          string
	Filtered                   bool
	Chain                      *chainView
}

func (u *UI) auditList(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	p := auditPage{
		Base: u.base(rc, "Audit log", "audit"),
		Q:    strings.TrimSpace(q.Get("q")), Actor: strings.TrimSpace(q.Get("actor")),
		Action: strings.TrimSpace(q.Get("action")), From: q.Get("from"), To: q.Get("to"),
	}
	for _, s := range []string{p.Q, p.Actor, p.Action} {
		if len(s) > 200 {
			return &pageError{http.StatusBadRequest, "A filter is too long."}
		}
	}
	aq := archive.AuditQuery{Actor: p.Actor, Action: p.Action, Text: p.Q, Limit: auditPageSize, Cursor: q.Get("cursor")}
	var err error
	if aq.From, err = parseDate(p.From, rc.loc); err != nil {
		p.Error, p.From = "The from date is not a date.", ""
	}
	if aq.To, err = parseDate(p.To, rc.loc); err != nil {
		p.Error, p.To = "The to date is not a date.", ""
	} else if !aq.To.IsZero() {
		aq.To = aq.To.AddDate(0, 0, 1)
	}
	p.Filtered = p.Q != "" || p.Actor != "" || p.Action != "" || p.From != "" || p.To != ""
	events, next, err := u.arc.AuditLog(r.Context(), aq)
	if errors.Is(err, archive.ErrInvalid) {
		return &pageError{http.StatusBadRequest, "The page link is not valid."}
	}
	if err != nil {
		return err
	}
	for _, e := range events {
		p.Rows = append(p.Rows, auditRow{
			Seq: e.Seq, When: formatTime(e.Time, rc.loc), WhenISO: isoTime(e.Time),
			Actor: e.Actor, Action: e.Action, Target: e.Target, Remote: e.Remote, OK: e.OK, Detail: e.Detail,
		})
	}
	p.NextURL, p.FirstURL = pageLinks("/admin/audit", map[string]string{"q": p.Q, "actor": p.Actor, "action": p.Action, "from": p.From, "to": p.To}, next, q.Get("cursor") != "")
	if q.Get("cursor") == "" {
		// The chain is checked on the first page: every entry is read.
		res, err := u.arc.VerifyAudit(r.Context())
		if err != nil {
			return err
		}
		p.Chain = &chainView{Valid: res.Valid, Entries: res.Entries, Problems: res.Problems}
		if res.Entries > 0 {
			p.Chain.Head = strconv.FormatUint(res.HeadSeq, 10) + " · " + hex.EncodeToString(res.Head[:8])
		}
	}
	u.render(w, r, http.StatusOK, "audit.html", p)
	return nil
}
