package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
)

type apiAuditEvent struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Remote string    `json:"remote"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail"`
	Hash   string    `json:"hash"`
}

const maxAuditFilter = 200

func (a *API) auditList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	q := r.URL.Query()
	if f := q.Get("format"); f != "" && f != "json" && f != "csv" {
		return errStatus(http.StatusBadRequest, "format must be json or csv")
	}
	var aq archive.AuditQuery
	var err error
	if aq.From, err = parseTime(q.Get("from")); err != nil {
		return errStatus(http.StatusBadRequest, "from: "+err.Error())
	}
	if aq.To, err = parseTime(q.Get("to")); err != nil {
		return errStatus(http.StatusBadRequest, "to: "+err.Error())
	}
	aq.Actor, aq.Action, aq.Text = strings.TrimSpace(q.Get("actor")), strings.TrimSpace(q.Get("action")), strings.TrimSpace(q.Get("q"))
	if len(aq.Actor) > maxAuditFilter || len(aq.Action) > maxAuditFilter || len(aq.Text) > maxAuditFilter {
		return errStatus(http.StatusBadRequest, fmt.Sprintf("actor, action and q are at most %d bytes", maxAuditFilter))
	}
	aq.Limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		if aq.Limit, err = strconv.Atoi(s); err != nil || aq.Limit < 1 || aq.Limit > maxLimit {
			return errStatus(http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", maxLimit))
		}
	}
	aq.Cursor = q.Get("cursor")
	if wantsCSV(r) {
		// Every entry matching the filters; limit and cursor do not
		// apply. The export is itself audited.
		if err := a.auditEvent(r.Context(), r, u, "audit.export", "audit log", true, "csv: "+webcore.AuditFilterDetail(aq)); err != nil {
			return err
		}
		webcore.ServeAuditCSV(w, r, a.arc, aq, a.arc.Now())
		return nil
	}
	events, next, err := a.arc.AuditLog(r.Context(), aq)
	if err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return errStatus(http.StatusBadRequest, "bad cursor")
		}
		return err
	}
	out := struct {
		Events []apiAuditEvent `json:"events"`
		Next   string          `json:"next,omitempty"`
	}{Events: make([]apiAuditEvent, 0, len(events)), Next: next}
	for _, e := range events {
		out.Events = append(out.Events, apiAuditEvent{
			Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target,
			Remote: archive.AddrHost(e.Remote), OK: e.OK, Detail: e.Detail, Hash: hex.EncodeToString(e.Hash[:]),
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) auditVerify(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	res, err := a.arc.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Valid    bool     `json:"valid"`
		Problems []string `json:"problems"`
		Entries  int      `json:"entries"`
		HeadSeq  uint64   `json:"headSeq"`
		Head     string   `json:"head"`
	}{Valid: res.Valid, Problems: res.Problems, Entries: res.Entries, HeadSeq: res.HeadSeq, Head: hex.EncodeToString(res.Head[:])}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// wantsCSV reports a request for the audit log as CSV: format=csv, or an
// Accept header that names text/csv before application/json.
func wantsCSV(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "csv":
		return true
	case "json":
		return false
	}
	accept := strings.ToLower(r.Header.Get("Accept"))
	c := strings.Index(accept, "text/csv")
	j := strings.Index(accept, "application/json")
	return c >= 0 && (j < 0 || c < j)
}
