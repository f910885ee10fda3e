package ui

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// listPageSize is the number of calls per list page.
const listPageSize = 50

type listRow struct {
	URL        string
	When       string
	WhenISO    string
	Duration   string
	Direction  string // "in", "out" or ""
	DirLabel   string
	With       string // the other party (or both parties)
	User       string // the owner's display name
	Segments   int
	Sealed     bool
	State      string // "" when complete
	StateLabel string
	Encryption string // "SRTP"... when a call's media is encrypted
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
}

type listPage struct {
	Base
	Q, From, To, Dir string
	Rows             []listRow
	NextURL          string // the next (older) page
	FirstURL         string // the first page, when not on it
	Filtered         bool
	// MaySend: rows can be selected and sent as a link.
	MaySend bool
}

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

func (u *UI) recordingList(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	p := listPage{
		Base: u.base(rc, "Recordings", "recordings"),
		Q:    strings.TrimSpace(q.Get("q")), From: q.Get("from"), To: q.Get("to"), Dir: q.Get("dir"),
	}
	var f listFilter
	var err error
	f.q = strings.ToLower(p.Q)
	if len(f.q) > 200 {
		return &pageError{code: http.StatusBadRequest, msg: "msg.searchTextTooLong"}
	}
	if f.from, err = parseDate(p.From, rc.loc); err != nil {
		p.Error, p.From = "The from date is not a date.", ""
	}
	if f.to, err = parseDate(p.To, rc.loc); err != nil {
		p.Error, p.To = "The to date is not a date.", ""
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
		return err
	}
	idx := webcore.UserIndex(users)
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
	// ListFor decrypts only what me may read (the who index) and, with
	// Text, what the search index finds, so match runs only on those.
	recs, next, err := u.arc.ListFor(r.Context(), me, archive.Query{
		From: f.from, To: f.to, Limit: listPageSize, Cursor: q.Get("cursor"), Match: match,
		Text: webcore.SearchText(p.Q),
	})
	if errors.Is(err, archive.ErrInvalid) {
		return &pageError{code: http.StatusBadRequest, msg: "msg.pageLinkNotValid"}
	}
	if err != nil {
		return err
	}
	pol := webcore.LifecyclePolicy(r.Context(), u.arc, u.log)
	for _, rec := range recs {
		g := groups[rec.ID.String()]
		if g == nil {
			g = &group{segs: []*archive.Recording{rec}}
		}
		row := u.listRow(rc, g, idx)
		lifecycleRow(rc, &row, g, pol)
		p.Rows = append(p.Rows, row)
	}
	if q.Get("deleted") != "" {
		p.Flash = "The recording was deleted permanently."
	}
	p.NextURL, p.FirstURL = pageLinks("/", map[string]string{"q": p.Q, "from": p.From, "to": p.To, "dir": p.Dir}, next, q.Get("cursor") != "")
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
		Duration: webcore.FormatDuration(dur), Direction: dir, DirLabel: webcore.DirectionLabel(dir),
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
	if row.With == "" {
		row.With = "unknown"
	}
	if row.User == "" {
		row.User = "—"
	}
	if state != archive.StateComplete {
		row.State = string(state)
		row.StateLabel = webcore.StateLabel(state)
	}
	return row
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
