package legs

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want ID
	}{
		{"f9e5956e47d460010630009033302ab1:201:+46701234567:1795167000000",
			ID{"f9e5956e47d460010630009033302ab1", "201", "+46701234567", time.UnixMilli(1795167000000).UTC()}},
		{"abc@pbx:1234:x:y:201:0701234567:2026-11-20T09:30:00Z", ID{"abc@pbx:1234:x:y", "201", "0701234567", t0}},
		{"d:201:0701234567:2026-11-20T10:30:00.250+01:00", ID{"d", "201", "0701234567", t0.Add(250 * time.Millisecond)}},
		{"d:201:0701234567:2026-11-20T09:30:00", ID{"d", "201", "0701234567", t0}},
		{"d:201:0701234567:2026-11-20 09:30:00Z", ID{"d", "201", "0701234567", t0}},
		{"d:alice::0", ID{"d", "alice", "", time.UnixMilli(0).UTC()}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got.Dialog != c.want.Dialog || got.Agent != c.want.Agent || got.ANI != c.want.ANI || !got.Start.Equal(c.want.Start) {
			t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "d:201:0701", "d:201:0701:yesterday", ":201:0701:0", "d::0701:0", "d: :0701:0",
		"d:201:0701:99999999999999999", "d\n:201:0701:0", "d:201:07\x00:0", string(make([]byte, 400)) + ":a:b:0",
		"d:201:" + string(make([]byte, 70)) + ":0", "\xff:201:0:0"} {
		if id, err := Parse(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrBadID", bad, id, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct{ in, country, want string }{
		{"+46 70-123 45 67", "46", "+46701234567"},
		{"0046701234567", "46", "+46701234567"},
		{"0701234567", "46", "+46701234567"},
		{"(070) 123.45/67", "46", "+46701234567"},
		{"0701234567", "", "0701234567"},
		{"0046701234567", "", "+46701234567"},
		{"sip:+46701234567@pbx.example;user=phone", "46", "+46701234567"},
		{"tel:0701234567", "46", "+46701234567"},
		{"201", "46", "201"},
		{"0", "46", "0"},
		{"00", "46", "00"},
		{"Alice", "46", "alice"},
		{"+", "46", "+"},
		{"", "46", ""},
	}
	for _, c := range cases {
		if got := Normalize(c.in, c.country); got != c.want {
			t.Errorf("Normalize(%q, %q) = %q, want %q", c.in, c.country, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b, country string
		same          bool
	}{
		{"+46701234567", "0046701234567", "", true},
		{"+46701234567", "0701234567", "46", true},
		{"+46701234567", "0701234567", "", false},
		{"0046701234567", "0701234567", "49", false},
		{"201", "202", "46", false},
		{"", "", "46", false},
	} {
		if got := SameNumber(c.a, c.b, c.country); got != c.same {
			t.Errorf("SameNumber(%q, %q, %q) = %v", c.a, c.b, c.country, got)
		}
	}
}

// seg is a segment of agent 201 (login alice) and caller +46701234567
// from t0+from for dur.
func seg(rec string, from, dur time.Duration) Segment {
	return Segment{Recording: rec, Start: t0.Add(from), End: t0.Add(from + dur), Owner: "alice", Extensions: []string{"201"},
		Numbers: []string{"201", "0701234567"}}
}

func TestResolveAcrossHold(t *testing.T) {
	segs := []Segment{
		seg("b", 90*time.Second, 30*time.Second), // after 30 s on hold
		seg("a", 0, 60*time.Second),
		// Another agent's and another caller's segments in the same dialog.
		{Recording: "x", Start: t0, End: t0.Add(time.Minute), Owner: "bob", Numbers: []string{"202", "0701234567"}},
		{Recording: "y", Start: t0, End: t0.Add(time.Minute), Owner: "alice", Numbers: []string{"201", "0709999999"}},
	}
	id := ID{Dialog: "d", Agent: "201", ANI: "+46 70 123 45 67", Start: t0.Add(3 * time.Second)}
	legs, chosen, err := Resolve(segs, id, Options{Country: "46"})
	if err != nil {
		t.Fatal(err)
	}
	if len(legs) != 1 || chosen != 0 {
		t.Fatalf("legs %+v chosen %d", legs, chosen)
	}
	l := legs[0]
	if len(l.Segments) != 2 || l.Segments[0].Recording != "a" || l.Segments[1].Recording != "b" {
		t.Fatalf("segments %+v", l.Segments)
	}
	if !l.Start.Equal(t0) || !l.End.Equal(t0.Add(2*time.Minute)) || l.Distance != 3*time.Second {
		t.Errorf("leg %v..%v distance %v", l.Start, l.End, l.Distance)
	}
	if g := Gaps(l); len(g) != 1 || g[0] != 30*time.Second {
		t.Errorf("gaps %v", g)
	}
	// Without the country code the national caller number is another
	// number: nothing matches.
	if _, _, err := Resolve(segs, id, Options{}); !errors.Is(err, ErrNoLeg) {
		t.Errorf("without country: %v", err)
	}
}

func TestResolveClosestStart(t *testing.T) {
	// Two legs of the same agent and caller: a gap longer than HoldGap
	// separates them.
	segs := []Segment{seg("a", 0, time.Minute), seg("b", 5*time.Minute, time.Minute)}
	for _, c := range []struct {
		at   time.Duration
		want string
	}{{2 * time.Second, "a"}, {5*time.Minute - 8*time.Second, "b"}, {5*time.Minute + 9*time.Second, "b"}} {
		id := ID{Dialog: "d", Agent: "alice", ANI: "0701234567", Start: t0.Add(c.at)}
		legs, chosen, err := Resolve(segs, id, Options{Country: "46", HoldGap: time.Minute})
		if err != nil {
			t.Fatalf("at %v: %v", c.at, err)
		}
		if len(legs) != 2 {
			t.Fatalf("%d legs", len(legs))
		}
		if got := legs[chosen].Segments[0].Recording; got != c.want {
			t.Errorf("at %v: chose %s, want %s", c.at, got, c.want)
		}
	}
	// With the default hold gap (2 min) they stay two legs too; with a
	// longer one they are one.
	if legs, _, _ := Resolve(segs, ID{Agent: "201", Start: t0}, Options{HoldGap: 5 * time.Minute}); len(legs) != 1 {
		t.Errorf("hold gap 5m: %d legs", len(legs))
	}
}

func TestResolveOutOfRange(t *testing.T) {
	segs := []Segment{seg("a", 0, time.Minute)}
	id := ID{Dialog: "d", Agent: "201", ANI: "0701234567", Start: t0.Add(11 * time.Second)}
	legs, chosen, err := Resolve(segs, id, Options{Country: "46"})
	if !errors.Is(err, ErrNoLeg) || chosen != -1 || len(legs) != 1 || legs[0].Distance != 11*time.Second {
		t.Fatalf("11 s away: %v chosen %d legs %+v", err, chosen, legs)
	}
	if _, chosen, err := Resolve(segs, id, Options{Country: "46", MaxDistance: 12 * time.Second}); err != nil || chosen != 0 {
		t.Errorf("max distance 12 s: %v %d", err, chosen)
	}
	id.Start = t0.Add(-10 * time.Second) // exactly the limit, before
	if _, chosen, err := Resolve(segs, id, Options{Country: "46"}); err != nil || chosen != 0 {
		t.Errorf("10 s before: %v %d", err, chosen)
	}
}

func TestMatchesUnknownParties(t *testing.T) {
	// A capture without SIP: only the owner tells who it is.
	s := Segment{Owner: "alice", Start: t0, End: t0.Add(time.Minute)}
	if !Matches(s, ID{Agent: "ALICE", ANI: "0701234567"}, "46") {
		t.Error("owner alice, no numbers: should match agent alice")
	}
	if Matches(s, ID{Agent: "201", ANI: "0701234567"}, "46") {
		t.Error("owner alice without extensions should not match agent 201")
	}
	s.Extensions = []string{"201"}
	if !Matches(s, ID{Agent: "201", ANI: "0701234567"}, "46") {
		t.Error("owner's extension 201 should match")
	}
	if !Matches(Segment{}, ID{Agent: "201"}, "") {
		t.Error("a segment that names nobody is not excluded")
	}
}
