package ui

import (
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
)

// auditPageSize is the number of audit events per page.
const auditPageSize = 100

type auditRow struct {
	Seq                           uint64
	When, WhenISO                 string
	Actor, Action, Target, Remote string
	ActionLabel                   string // the action in words (webcore.ActionWords)
	TargetURL                     string // the recording the entry names, if any
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
	CSVURL                     string // this view (every page) as CSV
	Filtered                   bool
	Chain                      *chainView
}

// auditFilters reads the audit page's filters (q, actor, action, and the
// dates from and to in the viewer's time zone) into p and a query.
func auditFilters(r *http.Request, rc *reqCtx, p *auditPage) (archive.AuditQuery, error) {
	q := r.URL.Query()
	p.Q, p.Actor = strings.TrimSpace(q.Get("q")), strings.TrimSpace(q.Get("actor"))
	p.Action, p.From, p.To = strings.TrimSpace(q.Get("action")), q.Get("from"), q.Get("to")
	for _, s := range []string{p.Q, p.Actor, p.Action} {
		if len(s) > 200 {
			return archive.AuditQuery{}, &pageError{code: http.StatusBadRequest, msg: "msg.filterTooLong"}
		}
	}
	aq := archive.AuditQuery{Actor: p.Actor, Action: p.Action, Text: p.Q, Limit: auditPageSize, Cursor: q.Get("cursor")}
	var err error
	if aq.From, err = parseDate(p.From, rc.loc); err != nil {
		p.Error, p.From = rc.T("msg.fromNotDate"), ""
	}
	if aq.To, err = parseDate(p.To, rc.loc); err != nil {
		p.Error, p.To = rc.T("msg.toNotDate"), ""
	} else if !aq.To.IsZero() {
		aq.To = aq.To.AddDate(0, 0, 1)
	}
	p.Filtered = p.Q != "" || p.Actor != "" || p.Action != "" || p.From != "" || p.To != ""
	return aq, nil
}

func (p *auditPage) filterValues() map[string]string {
	return map[string]string{"q": p.Q, "actor": p.Actor, "action": p.Action, "from": p.From, "to": p.To}
}

// auditCSV serves GET /admin/audit.csv: the filtered view, every page of
// it, as CSV. The export is itself audited (audit.export).
func (u *UI) auditCSV(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var p auditPage
	aq, err := auditFilters(r, rc, &p)
	if err != nil {
		return err
	}
	if p.Error != "" {
		return &pageError{code: http.StatusBadRequest, text: p.Error}
	}
	err = u.arc.Audit(r.Context(), archive.AuditEvent{
		Actor: rc.user.Login, Action: "audit.export", Target: "audit log", Remote: remoteAddr(r), OK: true,
		Detail: "csv: " + webcore.AuditFilterDetail(aq),
	})
	if err != nil {
		return err
	}
	webcore.ServeAuditCSV(w, r, u.arc, aq, u.opts.Now())
	return nil
}

func (u *UI) auditList(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	p := auditPage{Base: u.base(rc, rc.T("msg.title.audit"), "audit")}
	aq, err := auditFilters(r, rc, &p)
	if err != nil {
		return err
	}
	events, next, err := u.arc.AuditLog(r.Context(), aq)
	if errors.Is(err, archive.ErrInvalid) {
		return &pageError{code: http.StatusBadRequest, msg: "msg.pageLinkNotValid"}
	}
	if err != nil {
		return err
	}
	for _, e := range events {
		p.Rows = append(p.Rows, auditRow{
			Seq: e.Seq, When: rc.when(e.Time), WhenISO: webcore.IsoTime(e.Time),
			Actor: e.Actor, Action: e.Action, Target: e.Target, Remote: archive.AddrHost(e.Remote), OK: e.OK, Detail: e.Detail,
			ActionLabel: actionLabel(rc, e.Action), TargetURL: webcore.AuditTargetURL(e.Target),
		})
	}
	p.NextURL, p.FirstURL = pageLinks("/admin/audit", p.filterValues(), next, q.Get("cursor") != "")
	p.CSVURL = "/admin/audit.csv"
	if v := pageQueryString(p.filterValues()); v != "" {
		p.CSVURL += "?" + v
	}
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

// pageQueryString encodes the filters that are set.
func pageQueryString(filters map[string]string) string {
	v := url.Values{}
	for k, f := range filters {
		if f != "" {
			v.Set(k, f)
		}
	}
	return v.Encode()
}
