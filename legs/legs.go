package legs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of a leg id's fields.
const (
	MaxDialogLen = 128
	MaxPartyLen  = 64
)

// Defaults of Options.
const (
	DefaultMaxDistance = 10 * time.Second
	DefaultHoldGap     = 2 * time.Minute
)

// ErrBadID is returned (wrapped) by Parse for a leg id it refuses.
var ErrBadID = errors.New("legs: bad leg id")

// ID is a parsed leg id.
type ID struct {
	Dialog string    // call id or SIP Call-ID
	Agent  string    // the agent's extension (or login)
	ANI    string    // the caller's number; "" matches any caller
	Start  time.Time // the leg's start as the contact centre saw it
}

// Parse reads dialogId:agentExtension:ani:legStartTime (already
// URL-unescaped). The time is the longest suffix after a colon that reads
// as a time and leaves three fields before it, so ISO 8601 times and
// dialog ids may hold colons; the agent and the caller may not. The
// dialog and the agent must not be empty, no field may hold a control
// character or invalid UTF-8, and each is bounded (MaxDialogLen,
// MaxPartyLen).
func Parse(s string) (ID, error) {
	if len(s) > MaxDialogLen+2*MaxPartyLen+64 {
		return ID{}, fmt.Errorf("%w: %d bytes is too long", ErrBadID, len(s))
	}
	if !utf8.ValidString(s) {
		return ID{}, fmt.Errorf("%w: not UTF-8", ErrBadID)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return ID{}, fmt.Errorf("%w: control character %U", ErrBadID, r)
		}
	}
	// Colons from the left: the time starts after one of them.
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		head, tail := s[:i], s[i+1:]
		t, ok := parseTime(tail)
		if !ok {
			continue
		}
		j := strings.LastIndexByte(head, ':')
		if j < 0 {
			continue
		}
		k := strings.LastIndexByte(head[:j], ':')
		if k < 0 {
			continue
		}
		id := ID{Dialog: head[:k], Agent: head[k+1 : j], ANI: head[j+1:], Start: t}
		switch {
		case id.Dialog == "":
			return ID{}, fmt.Errorf("%w: empty dialog id", ErrBadID)
		case len(id.Dialog) > MaxDialogLen:
			return ID{}, fmt.Errorf("%w: dialog id longer than %d bytes", ErrBadID, MaxDialogLen)
		case strings.TrimSpace(id.Agent) == "":
			return ID{}, fmt.Errorf("%w: empty agent extension", ErrBadID)
		case len(id.Agent) > MaxPartyLen, len(id.ANI) > MaxPartyLen:
			return ID{}, fmt.Errorf("%w: agent extension or ani longer than %d bytes", ErrBadID, MaxPartyLen)
		}
		return id, nil
	}
	return ID{}, fmt.Errorf("%w: want dialogId:agentExtension:ani:legStartTime, the time in epoch milliseconds or ISO 8601", ErrBadID)
}

// maxEpochMs is 9999-12-31 in epoch milliseconds: later is refused.
const maxEpochMs = 253402300799999

// parseTime reads epoch milliseconds or ISO 8601, from 1970 to 9999.
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if strings.Trim(s, "0123456789") == "" {
		if len(s) > 15 {
			return time.Time{}, false
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms > maxEpochMs {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil && t.UnixMilli() >= 0 {
			return t, true
		}
	}
	return time.Time{}, false
}

// String is the leg id in the form Parse reads, the time in epoch
// milliseconds.
func (id ID) String() string {
	return id.Dialog + ":" + id.Agent + ":" + id.ANI + ":" + strconv.FormatInt(id.Start.UnixMilli(), 10)
}

// Normalize is number in the form numbers are compared in. Spaces, '-',
// '.', '/', '(' and ')' are dropped, as is a sip:, sips: or tel: scheme
// with what follows '@' or ';'. "+CC…" and "00CC…" give "+CC…"; "0…"
// gives "+" country "…" when country (digits, such as "46") is set, else
// stays "0…". Other numbers (extensions) stay as they are, and a value
// that is not a number (a login) is lowercased.
func Normalize(number, country string) string {
	s := strings.TrimSpace(number)
	lower := strings.ToLower(s)
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if strings.HasPrefix(lower, scheme) {
			s = s[len(scheme):]
			if i := strings.IndexAny(s, "@;"); i >= 0 {
				s = s[:i]
			}
			break
		}
	}
	digits := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '/', '(', ')', '\t':
			return -1
		}
		return r
	}, s)
	intl := strings.HasPrefix(digits, "+")
	body := strings.TrimPrefix(digits, "+")
	if body == "" || strings.Trim(body, "0123456789") != "" {
		return strings.ToLower(strings.TrimSpace(number))
	}
	switch {
	case intl:
		return "+" + body
	case strings.HasPrefix(body, "00") && len(body) > 2:
		return "+" + body[2:]
	case strings.HasPrefix(body, "0") && len(body) > 1 && body[1] != '0' && country != "":
		return "+" + country + body[1:]
	}
	return body
}

// SameNumber reports whether a and b are the same number (or the same
// login) once normalised; empty values match nothing.
func SameNumber(a, b, country string) bool {
	if strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
		return false
	}
	return Normalize(a, country) == Normalize(b, country)
}

// Segment is one call of one recording of the dialog.
type Segment struct {
	Recording string // the recording's id
	Call      int    // the call within the recording, from 0
	// Start and End bound the call's audio on the wall clock.
	Start, End time.Time
	// Owner is the login of the recorded user, Extensions that user's
	// extensions.
	Owner      string
	Extensions []string
	// Numbers are the call's SIP party numbers (From, To), if any.
	Numbers []string
}

// Leg is segments of one agent and caller merged across hold.
type Leg struct {
	Start, End time.Time
	Segments   []Segment // in order of Start
	// Distance is how far Start is from the leg id's time.
	Distance time.Duration
}

// Options tune Resolve; zero values take the defaults.
type Options struct {
	// Country is the country code ("46") national numbers are read in.
	Country string
	// MaxDistance bounds how far the chosen leg's start may be from the
	// leg id's time (DefaultMaxDistance).
	MaxDistance time.Duration
	// HoldGap is the longest gap between two segments of the same agent
	// and caller that still counts as a hold within one leg
	// (DefaultHoldGap).
	HoldGap time.Duration
}

func (o Options) maxDistance() time.Duration {
	if o.MaxDistance > 0 {
		return o.MaxDistance
	}
	return DefaultMaxDistance
}

func (o Options) holdGap() time.Duration {
	if o.HoldGap > 0 {
		return o.HoldGap
	}
	return DefaultHoldGap
}

// ErrNoLeg is returned (wrapped) by Resolve when no leg of the agent and
// caller starts within Options.MaxDistance of the leg id's time.
var ErrNoLeg = errors.New("legs: no such leg")

// Matches reports whether seg may belong to the agent and caller of id:
// see the package documentation.
func Matches(seg Segment, id ID, country string) bool {
	agentKnown := seg.Owner != "" || len(seg.Extensions) > 0 || len(seg.Numbers) > 0
	if agentKnown {
		ok := strings.EqualFold(strings.TrimSpace(seg.Owner), strings.TrimSpace(id.Agent))
		for _, n := range slices.Concat(seg.Extensions, seg.Numbers) {
			ok = ok || SameNumber(n, id.Agent, country)
		}
		if !ok {
			return false
		}
	}
	if strings.TrimSpace(id.ANI) == "" || len(seg.Numbers) == 0 {
		return true
	}
	for _, n := range seg.Numbers {
		if SameNumber(n, id.ANI, country) {
			return true
		}
	}
	return false
}

// Group merges the segments of one agent and caller into legs: sorted by
// start, a segment that starts at most holdGap after the end of the leg
// so far (or overlaps it) joins it.
func Group(segs []Segment, holdGap time.Duration) []Leg {
	segs = slices.Clone(segs)
	slices.SortStableFunc(segs, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	var legs []Leg
	for _, s := range segs {
		if n := len(legs); n > 0 && s.Start.Sub(legs[n-1].End) <= holdGap {
			l := &legs[n-1]
			l.Segments = append(l.Segments, s)
			if s.End.After(l.End) {
				l.End = s.End
			}
			continue
		}
		legs = append(legs, Leg{Start: s.Start, End: s.End, Segments: []Segment{s}})
	}
	return legs
}

// Resolve keeps the segments of id's agent and caller, groups them into
// legs and chooses the one whose start is closest to id.Start. It returns
// every candidate leg with its distance, and the index of the chosen one;
// when none is within MaxDistance the error wraps ErrNoLeg and the
// candidates are still returned.
func Resolve(segs []Segment, id ID, opt Options) (legs []Leg, chosen int, err error) {
	var kept []Segment
	for _, s := range segs {
		if Matches(s, id, opt.Country) {
			kept = append(kept, s)
		}
	}
	legs = Group(kept, opt.holdGap())
	chosen = -1
	for i := range legs {
		d := legs[i].Start.Sub(id.Start)
		if d < 0 {
			d = -d
		}
		legs[i].Distance = d
		if chosen < 0 || d < legs[chosen].Distance {
			chosen = i
		}
	}
	switch {
	case chosen < 0:
		return legs, -1, fmt.Errorf("%w: no recording of agent %q and this caller in the dialog", ErrNoLeg, id.Agent)
	case legs[chosen].Distance > opt.maxDistance():
		return legs, -1, fmt.Errorf("%w: no leg of agent %q and this caller starts within %s of %s (the closest starts %s away)",
			ErrNoLeg, id.Agent, opt.maxDistance(), id.Start.UTC().Format(time.RFC3339Nano), legs[chosen].Distance.Round(time.Millisecond))
	}
	return legs, chosen, nil
}

// Gaps returns the silence between consecutive segments of leg: gaps[i]
// is the time from the end of segment i to the start of segment i+1
// (zero when they overlap).
func Gaps(leg Leg) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(leg.Segments); i++ {
		g := leg.Segments[i].Start.Sub(leg.Segments[i-1].End)
		out = append(out, max(g, 0))
	}
	return out
}
