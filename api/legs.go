package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/legs"
	"github.com/callvault/callvault/recinfo"
)

// SetLegs sets how call legs are resolved: the country code national
// numbers are read in, the largest distance between a leg id's time and
// the chosen leg's start, and the longest hold within one leg. Until it is
// set the package defaults apply and national numbers stay national.
func (a *API) SetLegs(opt legs.Options) { a.legs = opt }

// legRoutes adds the call-leg lookup of contact centres (Expertflow's
// dialogId:agentExtension:ani:legStartTime).
func (a *API) legRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/legs/{legId}", a.wrap(a.legShow))
	mux.Handle("GET /api/v1/legs/{legId}/audio.wav", a.wrap(a.legAudio))
}

// Bounds of the search for a dialog by SIP Call-ID.
const (
	legSearchPage  = 200
	legSearchPages = 5
)

// legResolved is a leg id resolved against the archive.
type legResolved struct {
	id         legs.ID
	candidates []legs.Leg
	chosen     int // into candidates; -1 with err
	err        error
	recs       map[string]*archive.Recording
}

// resolveLeg parses {legId}, finds the dialog's recordings the caller may
// read — by call id, else by SIP Call-ID — and resolves the leg. A dialog
// with no recording the caller may read is "not found"; a dialog whose
// legs are all too far from the leg id's time has res.err set (ErrNoLeg).
func (a *API) resolveLeg(r *http.Request, u *archive.User) (*legResolved, error) {
	id, err := legs.Parse(r.PathValue("legId"))
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, strings.TrimPrefix(err.Error(), "legs: "))
	}
	if err := a.fourEyesHeld(u); err != nil {
		return nil, err
	}
	ctx := r.Context()
	byGUID := true
	recs, err := a.arc.ByCall(ctx, id.Dialog)
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(recs, func(rec *archive.Recording) bool { return !a.fourEyes.MayRead(u, rec) })
	// A SIP Call-ID is looked up in the search index, which needs 3
	// characters; a shorter one would be a walk of the whole archive.
	if len(recs) == 0 && utf8.RuneCountInString(id.Dialog) >= 3 {
		byGUID = false
		if recs, err = a.bySIPCallID(ctx, u, id.Dialog); err != nil {
			return nil, err
		}
	}
	if len(recs) == 0 {
		return nil, errStatus(http.StatusNotFound, "not found")
	}
	res := &legResolved{id: id, recs: map[string]*archive.Recording{}}
	var segs []legs.Segment
	exts := map[string][]string{}
	for _, rec := range recs {
		res.recs[rec.ID.String()] = rec
		if _, ok := exts[rec.User]; !ok && rec.User != "" {
			owner, err := a.arc.GetUser(ctx, rec.User)
			switch {
			case err == nil:
				exts[rec.User] = owner.Extensions
			case errors.Is(err, archive.ErrNotFound): // a login without an account
				exts[rec.User] = nil
			default:
				return nil, err
			}
		}
		in := recinfo.ParseLenient(rec.Info)
		for c, call := range in.Result.Calls {
			if !byGUID && call.CallID != id.Dialog {
				continue
			}
			segs = append(segs, legSegment(rec, c, call, exts[rec.User]))
		}
	}
	res.candidates, res.chosen, res.err = legs.Resolve(segs, id, a.legs)
	return res, nil
}

// bySIPCallID returns the recordings u may read one of whose calls has
// the SIP Call-ID callID, through the search index, newest first and
// bounded.
func (a *API) bySIPCallID(ctx context.Context, u *archive.User, callID string) ([]*archive.Recording, error) {
	match := func(rec *archive.Recording) bool {
		if !a.fourEyes.MayRead(u, rec) {
			return false
		}
		for _, c := range recinfo.ParseLenient(rec.Info).Result.Calls {
			if c.CallID == callID {
				return true
			}
		}
		return false
	}
	var out []*archive.Recording
	cursor := ""
	for range legSearchPages {
		recs, next, err := a.arc.ListFor(ctx, u, archive.Query{Limit: legSearchPage, Cursor: cursor, Match: match, Text: callID})
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// legSegment is call c of rec as the legs package sees it.
func legSegment(rec *archive.Recording, c int, call recinfo.Call, exts []string) legs.Segment {
	start := call.Start
	if start.IsZero() {
		start = rec.StartTime
	}
	s := legs.Segment{Recording: rec.ID.String(), Call: c, Start: start, End: start.Add(samplesDuration(call.EndPos - call.StartPos)),
		Owner: rec.User, Extensions: exts}
	for _, n := range []string{call.From.Number, call.To.Number} {
		if n != "" {
			s.Numbers = append(s.Numbers, n)
		}
	}
	return s
}

// samplesDuration is the length of n samples at 8 kHz.
func samplesDuration(n uint32) time.Duration { return time.Duration(n) * time.Second / 8000 }

// durationSamples is the number of 8 kHz samples in d.
func durationSamples(d time.Duration) uint32 {
	return uint32(d * 8000 / time.Second)
}

type legSegmentView struct {
	RecordingID string    `json:"recordingId"`
	Call        int       `json:"call"` // from 1
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	DurationMs  int64     `json:"durationMs"`
}

type legCandidateView struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DistanceMs int64     `json:"distanceMs"`
	Segments   int       `json:"segments"`
	Chosen     bool      `json:"chosen"`
}

type legView struct {
	LegID          string             `json:"legId"`
	DialogID       string             `json:"dialogId"`
	AgentExtension string             `json:"agentExtension"`
	ANI            string             `json:"ani"`
	LegStartTime   time.Time          `json:"legStartTime"`
	Start          time.Time          `json:"start"`
	End            time.Time          `json:"end"`
	DurationMs     int64              `json:"durationMs"`
	DistanceMs     int64              `json:"distanceMs"`
	Audio          string             `json:"audio"`
	Segments       []legSegmentView   `json:"segments"`
	Candidates     []legCandidateView `json:"candidates"`
}

func candidateViews(res *legResolved) []legCandidateView {
	out := make([]legCandidateView, 0, len(res.candidates))
	for i, l := range res.candidates {
		out = append(out, legCandidateView{Start: l.Start, End: l.End, DistanceMs: l.Distance.Milliseconds(), Segments: len(l.Segments), Chosen: i == res.chosen})
	}
	return out
}

// noLeg answers 404 with the reason and the candidate legs.
func noLeg(w http.ResponseWriter, res *legResolved) {
	writeJSON(w, http.StatusNotFound, struct {
		Error      string             `json:"error"`
		Candidates []legCandidateView `json:"candidates"`
	}{strings.TrimPrefix(res.err.Error(), "legs: "), candidateViews(res)})
}

// foundLeg is resolveLeg for a handler: nil when there is no leg, with
// the error to return, or after answering 404 with the candidates.
func (a *API) foundLeg(w http.ResponseWriter, r *http.Request, u *archive.User) (*legResolved, error) {
	res, err := a.resolveLeg(r, u)
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		noLeg(w, res)
		return nil, nil
	}
	return res, nil
}

func (a *API) legShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	res, err := a.foundLeg(w, r, u)
	if res == nil {
		return err
	}
	leg := res.candidates[res.chosen]
	out := legView{
		LegID: res.id.String(), DialogID: res.id.Dialog, AgentExtension: res.id.Agent, ANI: res.id.ANI, LegStartTime: res.id.Start,
		Start: leg.Start, End: leg.End, DurationMs: leg.End.Sub(leg.Start).Milliseconds(), DistanceMs: leg.Distance.Milliseconds(),
		Audio:      "/api/v1/legs/" + url.PathEscape(r.PathValue("legId")) + "/audio.wav",
		Candidates: candidateViews(res),
	}
	for _, s := range leg.Segments {
		out.Segments = append(out.Segments, legSegmentView{RecordingID: s.Recording, Call: s.Call + 1, Start: s.Start, End: s.End, DurationMs: s.End.Sub(s.Start).Milliseconds()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// legAudio serves the chosen leg as one WAV: its segments in order, each
// hold between them kept as silence of the gap's length. It is audited as
// a play of the dialog.
func (a *API) legAudio(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	res, err := a.foundLeg(w, r, u)
	if res == nil {
		return err
	}
	opt, err := wavOptions(r)
	if err != nil {
		return err
	}
	seg, ok := a.media.(webcore.Segmenter)
	if !ok {
		return errStatus(http.StatusNotImplemented, "joined audio of call legs is not available")
	}
	leg := res.candidates[res.chosen]
	var recs []*archive.Recording
	var ids []string
	mod := time.Time{}
	for _, s := range leg.Segments {
		rec := res.recs[s.Recording]
		if !slices.Contains(recs, rec) {
			recs = append(recs, rec)
			ids = append(ids, s.Recording)
			if rec.Finished.After(mod) {
				mod = rec.Finished
			}
		}
	}
	st, err := a.callPlayCheck(r, u, recs)
	if err != nil {
		return err
	}
	gaps := legs.Gaps(leg)
	var parts []codec.Segment
	for i, s := range leg.Segments {
		if i > 0 && gaps[i-1] > 0 {
			parts = append(parts, codec.Segment{Layout: codec.Layout{End: durationSamples(gaps[i-1])}})
		}
		p, err := seg.Segment(r.Context(), res.recs[s.Recording], s.Call)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	wav, err := codec.NewWAVReader(parts, opt)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("leg of %s at %s: %d segments (%s)", res.id.Agent, leg.Start.UTC().Format(time.RFC3339), len(leg.Segments), strings.Join(ids, ", "))
	return a.serveWAV(w, r, u, res.id.Dialog, detail, wav, "leg.wav", mod, st)
}
