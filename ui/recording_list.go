package ui

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// listPageSize is the default number of calls per list page; listScan
// is how many recordings one archive read returns while the list
// collects every matching call.
const (
	listPageSize = 50
	listScan     = 10000
)

type listRow struct {
	URL       string
	When      string
	WhenISO   string
	Duration  string
	Direction string // "in", "out" or ""
	DirLabel  string
	DirIcon   string // an arrow for the direction
	// WithRole is "from" (With is the caller) or "to" (the callee), when
	// the direction tells; WithRoleTitle says it in words.
	WithRole, WithRoleTitle string
	With                    string // the other party (or both parties)
	User                    string // the owner's display name
	Segments                int
	Sealed                  bool
	State                   string // "" when complete
	StateLabel              string
	Encryption              string // "SRTP"... when a call's media is encrypted
	// Undecodable says why no audio of the call can be played (codec,
	// encryption); OriginalURL is then the capture to download instead.
	Undecodable, OriginalURL string
	// Protected: a segment is on legal hold; Deletion: the day the
	// lifecycle job removes (a segment of) the call (lifecycle.go).
	Protected                          bool
	Deletion, DeletionISO, DeletionWhy string
	DeletionDue                        bool // at the next daily run
	// Select is the row's value in a selection: its segments' ids,
	// comma-separated.
	Select string

	sortKey // list_sort.go
	group   *group
	ids     []archive.ID // the segments, when group is not read yet
	noParty bool         // With says "unknown": nothing names the other party
}

type listPage struct {
	Base
	Q, From, To, Dir string
	Rows             []listRow
	View             listView
	Heads            map[string]sortHead
	Pages, Sizes     []pageLinkItem
	// Filters are the filter fields as hidden inputs keep them.
	SortParam, OrderParam, SizeParam string
	NextURL                          string // the next (older) page
	FirstURL                         string // the first page, when not on it
	Filtered                         bool
	// MaySend: rows can be selected and sent as a link.
	MaySend bool
	// ExportURL: the CSV of the current filter (admins).
	ExportURL string

	idx map[string]*archive.User // users by lower-case login
	// paged: listAll returned the page's rows alone, with View.Total.
	paged bool
}

// listMode is what listAll returns: the sort keys for a page view, or
// every row in full (the CSV export).
type listMode int

const (
	listPageView listMode = iota
	listEveryRow
)

// listFilter is the list's query, parsed.
type listFilter struct {
	q        string // lower case
	from, to time.Time
	dir      string
}

// parseDate reads YYYY-MM-DD in loc.
func parseDate(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(time.DateOnly, s, loc)
}

// group is one call on the list: its segments the viewer may read,
// oldest first.
type group struct {
	segs []*archive.Recording
}

// newer reports whether a sorts after b in the list's order (time, then ID).
func newer(a, b *archive.Recording) bool {
	ta, tb := webcore.RecTime(a), webcore.RecTime(b)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return bytes.Compare(a.ID[:], b.ID[:]) > 0
}

// listAll reads the list's filters and view from r and returns every
// call matching them that rc's user may read, sorted (the rows' lifecycle
// fields are not set: lifecycleRow on the ones shown).
//
// With mode listPageView, only the rows' sort keys and group (or ids) may
// be set: the caller renders the rows it shows with listRow. Without a
// filter the rows are then the page alone (p.paged), with the total in
// p.View: the first page in date order from the time index, any other
// from the archive's list index.
func (u *UI) listAll(r *http.Request, rc *reqCtx, mode listMode) (listPage, []listRow, error) {
	full := mode == listEveryRow
	q := r.URL.Query()
	p := listPage{
		Base: u.base(rc, rc.T("nav.recordings"), "recordings"),
		Q:    strings.TrimSpace(q.Get("q")), From: q.Get("from"), To: q.Get("to"), Dir: q.Get("dir"),
	}
	var f listFilter
	var err error
	f.q = strings.ToLower(p.Q)
	if len(f.q) > 200 {
		return p, nil, &pageError{code: http.StatusBadRequest, msg: "msg.searchTextTooLong"}
	}
	if f.from, err = parseDate(p.From, rc.loc); err != nil {
		p.Error, p.From = rc.T("msg.fromNotDate"), ""
	}
	if f.to, err = parseDate(p.To, rc.loc); err != nil {
		p.Error, p.To = rc.T("msg.toNotDate"), ""
	} else if !f.to.IsZero() {
		f.to = f.to.AddDate(0, 0, 1) // inclusive
	}
	switch p.Dir {
	case webcore.DirIn, webcore.DirOut, webcore.DirInternal:
		f.dir = p.Dir
	default:
		p.Dir = ""
	}
	p.Filtered = p.Q != "" || p.From != "" || p.To != "" || p.Dir != ""
	p.MaySend = u.opts.Shares != nil && maySendLinks(rc.user)

	users, err := u.arc.Users(r.Context())
	if err != nil {
		return p, nil, err
	}
	idx := webcore.UserIndex(users)
	p.idx = idx
	me := rc.user
	groups := map[string]*group{}
	matchOne := func(rec *archive.Recording) bool {
		in := recinfo.ParseLenient(rec.Info)
		if f.dir != "" && webcore.Direction(rec, in, idx[strings.ToLower(rec.User)]) != f.dir {
			return false
		}
		if f.q == "" {
			return true
		}
		if webcore.Matches(rec, f.q) || strings.Contains(strings.ToLower(webcore.OwnerName(idx, rec.User)), f.q) {
			return true
		}
		for _, s := range rec.Parties {
			if strings.Contains(strings.ToLower(s), f.q) {
				return true
			}
		}
		return false
	}
	// A call with several segments is one row, placed where its newest
	// readable segment falls (with a search text, its newest readable
	// segment that matches, which the search index finds), so it appears
	// once across pages.
	match := func(rec *archive.Recording) bool {
		if !u.opts.FourEyes.MayRead(me, rec) {
			return false
		}
		if rec.CallGUID == "" {
			return matchOne(rec)
		}
		segs, err := u.arc.ByCall(r.Context(), rec.CallGUID)
		if err != nil {
			segs = []*archive.Recording{rec}
		}
		var mine []*archive.Recording
		var newest *archive.Recording
		for _, s := range segs {
			if !u.opts.FourEyes.MayRead(me, s) {
				continue
			}
			mine = append(mine, s)
			if (f.q == "" || matchOne(s)) && (newest == nil || newer(s, newest)) {
				newest = s
			}
		}
		if newest == nil || newest.ID != rec.ID {
			return false
		}
		for _, s := range mine {
			if matchOne(s) {
				groups[rec.ID.String()] = &group{segs: mine}
				return true
			}
		}
		return false
	}
	view, ok := parseListView(q)
	if !ok {
		return p, nil, &pageError{code: http.StatusBadRequest, msg: "msg.list.pageNumber"}
	}
	p.View = view
	if !p.Filtered && !full && view.Sort == sortDate && view.Desc && view.Page == 1 {
		// The default view reads the time index from the top, as many
		// calls as it shows; the list index counts them all.
		recs, _, err := u.arc.ListFor(r.Context(), me, archive.Query{Limit: view.Size, Match: match})
		if err != nil {
			return p, nil, err
		}
		total, err := u.countListed(r, me)
		if err != nil {
			return p, nil, err
		}
		rows := make([]listRow, 0, len(recs))
		for _, rec := range recs {
			g := groups[rec.ID.String()]
			if g == nil {
				g = &group{segs: []*archive.Recording{rec}}
			}
			rows = append(rows, listRow{group: g})
		}
		p.View.Total, p.paged = total, true
		return p, rows, nil
	}
	if !p.Filtered && !full {
		// Sorting and counting every call needs no decryption: the
		// archive's list index holds what the sort reads.
		es, err := u.listing(r, me)
		if err != nil {
			return p, nil, err
		}
		calls := indexCalls(es, idx)
		if view.Sort == sortParty {
			if err := u.partyKeys(r.Context(), calls, es, me.Role == archive.RoleAdmin, idx); err != nil {
				return p, nil, err
			}
		}
		slices.SortFunc(calls, func(a, b indexCall) int { return cmpKeys(&a.sortKey, &b.sortKey, view) })
		calls = pageOf(calls, &p.View)
		rows := make([]listRow, len(calls))
		for i, c := range calls {
			rows[i] = listRow{sortKey: c.sortKey, ids: c.ids}
		}
		p.paged = true
		return p, rows, nil
	}
	// With a filter (or for the CSV), page numbers, a total and any
	// order need every matching call: ListFor walks them in pages of listScan (decrypting
	// only what me may read and, with Text, what the search index finds),
	// then the rows are sorted and one page is cut (list_sort.go).
	// Without a filter the scan reads every segment the viewer may read,
	// so calls are grouped here rather than by a ByCall per segment.
	if !p.Filtered {
		match = func(rec *archive.Recording) bool { return u.opts.FourEyes.MayRead(me, rec) }
	}
	var recs []*archive.Recording
	for cursor := ""; ; {
		page, next, err := u.arc.ListFor(r.Context(), me, archive.Query{
			From: f.from, To: f.to, Limit: listScan, Cursor: cursor, Match: match,
			Text: webcore.SearchText(p.Q),
		})
		if err != nil {
			return p, nil, err
		}
		recs = append(recs, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !p.Filtered {
		recs = groupCalls(recs, groups)
	}
	rows := make([]listRow, 0, len(recs))
	for _, rec := range recs {
		g := groups[rec.ID.String()]
		if g == nil {
			g = &group{segs: []*archive.Recording{rec}}
		}
		if full || view.Sort == sortParty {
			rows = append(rows, u.listRow(rc, g, idx))
		} else {
			rows = append(rows, sortOnlyRow(g, idx))
		}
	}
	sortRows(rows, view)
	p.View = view
	return p, rows, nil
}

func (u *UI) recordingList(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	p, rows, err := u.listAll(r, rc, listPageView)
	if err != nil {
		return err
	}
	view := p.View
	pol := webcore.LifecyclePolicy(r.Context(), u.arc, u.log)
	if !p.paged {
		rows = pageOf(rows, &view)
	}
	shown := rows[:0]
	for i := range rows {
		if rows[i].group == nil { // from the list index: read the page's calls
			g, err := u.readGroup(r, rc.user, rows[i].ids)
			if err != nil {
				return err
			}
			if g == nil {
				continue // deleted since
			}
			rows[i].group = g
		}
		if rows[i].URL == "" { // sort keys only
			rows[i] = u.listRow(rc, rows[i].group, p.idx)
		}
		// lifecycleRow needs the group again: only for the page shown.
		lifecycleRow(rc, &rows[i], rows[i].group, pol)
		rows[i].group = nil
		shown = append(shown, rows[i])
	}
	p.Rows, p.View = shown, view
	if q.Get("deleted") != "" {
		p.Flash = rc.T("msg.list.deleted")
	}
	filters := map[string]string{"q": p.Q, "from": p.From, "to": p.To, "dir": p.Dir}
	p.Heads, p.Pages, p.Sizes = listNav(filters, view)
	if rc.user.Role == archive.RoleAdmin {
		p.ExportURL = exportURL(r)
	}
	if view.Page*view.Size < view.Total {
		w := view
		w.Page++
		p.NextURL = listLink(filters, w)
	}
	if view.Page > 1 {
		w := view
		w.Page = 1
		p.FirstURL = listLink(filters, w)
	}
	if view.Sort != sortDate {
		p.SortParam = view.Sort
	}
	if view.Desc != (view.Sort == sortDate) {
		p.OrderParam = map[bool]string{true: "desc", false: "asc"}[view.Desc]
	}
	if view.Size != listPageSize {
		p.SizeParam = fmt.Sprint(view.Size)
	}
	u.render(w, r, http.StatusOK, "recordings.html", p)
	return nil
}

func (u *UI) listRow(rc *reqCtx, g *group, users map[string]*archive.User) listRow {
	first := g.segs[0]
	var dur int64
	sealed := true
	state := archive.StateComplete
	var withs []string
	dir := webcore.DirUnknown
	enc := ""
	var undec *undecodable
	allUndec := true
	for _, s := range g.segs {
		dur += s.DurationMs
		sealed = sealed && s.Seal != nil
		if s.State != archive.StateComplete {
			state = s.State
		}
		in := recinfo.ParseLenient(s.Info)
		d := webcore.Direction(s, in, users[strings.ToLower(s.User)])
		if dir == webcore.DirUnknown {
			dir = d
		}
		if w := webcore.With(s, in, d); w != "" && !containsStr(withs, w) {
			withs = append(withs, w)
		}
		if enc == "" {
			enc = webcore.Encryption(in, -1)
		}
		if x := findUndecodable(in, -1); x == nil {
			allUndec = false
		} else if undec == nil {
			undec = x
		}
	}
	row := listRow{
		URL:  "/recordings/" + first.ID.String(),
		When: rc.when(webcore.RecTime(first)), WhenISO: webcore.IsoTime(webcore.RecTime(first)),
		Duration: webcore.FormatDuration(dur), Direction: dir, DirLabel: directionLabel(rc, dir),
		With: strings.Join(withs, "; "), User: webcore.OwnerName(users, first.User),
		Segments: len(g.segs), Sealed: sealed, Encryption: enc,
	}
	if allUndec && undec != nil {
		row.Undecodable = undec.Line()
		if len(g.segs) == 1 {
			row.OriginalURL = "/api/v1/recordings/" + first.ID.String() + "/original.pcap"
		}
	}
	ids := make([]string, len(g.segs))
	for i, s := range g.segs {
		ids[i] = s.ID.String()
	}
	row.Select = strings.Join(ids, ",")
	last := g.segs[len(g.segs)-1]
	row.at, row.head, row.durMs, row.group = webcore.RecTime(last), last.ID, dur, g
	known := row.With != ""
	if !known {
		// Nothing in the CDRs or the capture's calls: the parties the
		// file name gives, else unknown.
		var ps []string
		for _, s := range g.segs {
			for _, x := range s.Parties {
				if x != "" && !containsStr(ps, x) {
					ps = append(ps, x)
				}
			}
		}
		row.With = strings.Join(ps, ", ")
	}
	if row.With == "" {
		row.With, row.noParty = rc.T("msg.list.unknown"), true
	} else if known {
		switch dir {
		case webcore.DirIn:
			row.WithRole, row.WithRoleTitle = rc.T("msg.list.from"), rc.T("msg.list.caller")
		case webcore.DirOut:
			row.WithRole, row.WithRoleTitle = rc.T("msg.list.to"), rc.T("msg.list.callee")
		}
	}
	row.DirIcon = dirIcons[dir]
	if dir == webcore.DirUnknown {
		row.DirLabel = rc.T("msg.list.unknown")
	}
	if row.User == "" {
		row.User = "—"
	}
	row.userKey, row.withKey = strings.ToLower(row.User), strings.ToLower(row.With)
	if row.noParty {
		row.withKey = ""
	}
	if state != archive.StateComplete {
		row.State = string(state)
		row.StateLabel = stateLabel(rc, state)
	}
	return row
}

// groupCalls keeps, of recs (newest first), one per call: its newest
// segment, with the call's segments (oldest first) in groups.
func groupCalls(recs []*archive.Recording, groups map[string]*group) []*archive.Recording {
	byCall := map[string]*group{}
	out := recs[:0]
	for _, rec := range recs {
		if rec.CallGUID == "" {
			out = append(out, rec)
			continue
		}
		g := byCall[rec.CallGUID]
		if g == nil {
			g = &group{}
			byCall[rec.CallGUID] = g
			groups[rec.ID.String()] = g
			out = append(out, rec)
		}
		g.segs = append(g.segs, rec)
	}
	for _, g := range byCall {
		slices.Reverse(g.segs)
	}
	return out
}

// sortOnlyRow is a row with only what sortRows reads (and its group): the
// date, length and owner need no parsing of the recording's info.
func sortOnlyRow(g *group, users map[string]*archive.User) listRow {
	first, last := g.segs[0], g.segs[len(g.segs)-1]
	row := listRow{sortKey: sortKey{at: webcore.RecTime(last), head: last.ID}, group: g, Select: first.ID.String()}
	for _, s := range g.segs {
		row.durMs += s.DurationMs
	}
	row.userKey = strings.ToLower(webcore.OwnerName(users, first.User))
	if row.userKey == "" {
		row.userKey = "—"
	}
	return row
}

// dirIcons are the list's direction arrows (shown beside the word).
var dirIcons = map[string]string{
	webcore.DirIn: "↙", webcore.DirOut: "↗", webcore.DirInternal: "⇄", webcore.DirUnknown: "?",
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listing is every listed recording me may read, from the archive's list
// index (no recording is decrypted). FourEyes.MayRead is archive.MayRead
// (which Listing applies) while 4-eyes access allows me at all.
func (u *UI) listing(r *http.Request, me *archive.User) ([]archive.ListEntry, error) {
	if !u.opts.FourEyes.Allowed(me) {
		return nil, nil
	}
	return u.arc.Listing(r.Context(), me, nil)
}

// countListed is how many calls me may read, from the list index.
func (u *UI) countListed(r *http.Request, me *archive.User) (int, error) {
	if !u.opts.FourEyes.Allowed(me) {
		return 0, nil
	}
	return u.arc.CountListed(r.Context(), me)
}

// indexCall is a call's sort keys and segments (oldest first) from the
// list index.
type indexCall struct {
	sortKey
	ids []archive.ID
}

// indexCalls groups es (newest first) into calls: one per call GUID,
// placed at its newest segment, owned by its oldest one's user.
func indexCalls(es []archive.ListEntry, users map[string]*archive.User) []indexCall {
	calls := make([]indexCall, 0, len(es))
	byCall := map[string]int{} // call GUID → calls index
	owner := make([]string, 0, len(es))
	for _, e := range es {
		if e.Shared {
			if i, ok := byCall[e.CallGUID]; ok {
				calls[i].durMs += e.DurationMs
				calls[i].ids = append(calls[i].ids, e.ID)
				owner[i] = e.User
				continue
			}
			byCall[e.CallGUID] = len(calls)
		}
		calls = append(calls, indexCall{sortKey: sortKey{at: e.Time, head: e.ID, durMs: e.DurationMs}, ids: []archive.ID{e.ID}})
		owner = append(owner, e.User)
	}
	names := map[string]string{} // owner → sort key
	for i := range calls {
		c := &calls[i]
		slices.Reverse(c.ids)
		k, ok := names[owner[i]]
		if !ok {
			if k = strings.ToLower(webcore.OwnerName(users, owner[i])); k == "" {
				k = "—"
			}
			names[owner[i]] = k
		}
		c.userKey = k
	}
	return calls
}

// readGroup reads the segments ids (oldest first) that me may read; nil
// when none is left.
func (u *UI) readGroup(r *http.Request, me *archive.User, ids []archive.ID) (*group, error) {
	g := &group{}
	for _, id := range ids {
		rec, err := u.arc.Get(r.Context(), id)
		if errors.Is(err, archive.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if u.opts.FourEyes.MayRead(me, rec) {
			g.segs = append(g.segs, rec)
		}
	}
	if len(g.segs) == 0 {
		return nil, nil
	}
	return g, nil
}
