package ui

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/callvault/callvault/internal/webcore"
)

// listRoutes adds the list's export and bulk actions.
func (u *UI) listRoutes(mux *http.ServeMux) {
	mux.Handle("GET /recordings.csv", u.page(admin, u.held(u.listCSV)))
	mux.Handle("POST /recordings/bulk", u.page(member, u.held(u.listBulk)))
}

// listCSVHeader is the CSV export's first line.
var listCSVHeader = []string{"id", "segments", "start", "length_s", "direction", "with", "user", "state", "sealed", "protected"}

// listCSV serves GET /recordings.csv: every call of the list's filter
// (all pages, in the list's order) as CSV, for admins. Cells a
// spreadsheet would read as a formula are escaped (webcore.CSVCell). The
// export is audited (recordings.export) with its filter and row count.
func (u *UI) listCSV(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	p, rows, err := u.listAll(r, rc, listEveryRow)
	if err != nil {
		return err
	}
	if p.Error != "" {
		return &pageError{code: http.StatusBadRequest, text: p.Error}
	}
	u.audit(r, rc, "recordings.export", "recordings", true,
		fmt.Sprintf("csv: %d calls; %s", len(rows), listFilterDetail(r.URL.Query())))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="recordings-`+u.opts.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "private, no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(listCSVHeader)
	for _, row := range rows {
		with := row.With
		if row.noParty {
			with = ""
		}
		user := row.User
		if user == "—" {
			user = ""
		}
		rec := []string{
			strings.SplitN(row.Select, ",", 2)[0], fmt.Sprint(row.Segments), row.WhenISO,
			fmt.Sprintf("%.3f", float64(row.durMs)/1000), row.Direction, with, user, row.State,
			fmt.Sprint(row.Sealed), fmt.Sprint(row.group != nil && groupProtected(row.group)),
		}
		for i := range rec {
			rec[i] = webcore.CSVCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	cw.Flush()
	if cw.Error() != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

func groupProtected(g *group) bool {
	for _, s := range g.segs {
		if s.Protected {
			return true
		}
	}
	return false
}

// listFilterDetail describes the list's filter and order for the audit log.
func listFilterDetail(q url.Values) string {
	var parts []string
	for _, k := range []string{"q", "from", "to", "dir", "sort", "order"} {
		if v := q.Get(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "all calls"
	}
	return strings.Join(parts, " ")
}

// exportURL is the CSV export of the list's current filter and order.
func exportURL(r *http.Request) string {
	q := r.URL.Query()
	q.Del("page")
	q.Del("size")
	if len(q) == 0 {
		return "/recordings.csv"
	}
	return "/recordings.csv?" + q.Encode()
}
