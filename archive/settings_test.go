package archive

import (
	"errors"
	"maps"
	"testing"
)

func TestSettings(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	s, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Sealing || s.TimeZone != "UTC" || s.PBXName != "" || s.TraceLevels == nil {
		t.Fatalf("defaults: %+v", s)
	}
	var seen []Settings
	stop := a.WatchSettings(func(s Settings) { seen = append(seen, s) })
	want := Settings{PBXName: "Vaasan Sähkö – Tallinn Ühendus", TimeZone: "Europe/Helsinki", Sealing: false,
		TraceLevels: map[string]string{"recording": "debug", "gui": "warn"}, RetentionDays: 400, RecycleBinDays: 14}
	if err := a.PutSettings(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.TraceLevels["gui"] = "error" // the archive keeps its own copy
	a = reopen(t, a)
	got, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.PBXName != want.PBXName || got.TimeZone != want.TimeZone || got.Sealing || got.RetentionDays != 400 || got.RecycleBinDays != 14 ||
		!maps.Equal(got.TraceLevels, map[string]string{"recording": "debug", "gui": "warn"}) {
		t.Fatalf("round trip: %+v", got)
	}
	if len(seen) != 1 || seen[0].PBXName != want.PBXName {
		t.Fatalf("watcher saw %+v", seen)
	}
	stop()
	bad := []Settings{
		{TimeZone: ""},
		{TimeZone: "Mars/Olympus"},
		{TimeZone: "Local"},
		{TimeZone: "UTC", PBXName: "a\nb"},
		{TimeZone: "UTC", PBXName: string(make([]byte, 200))},
		{TimeZone: "UTC", TraceLevels: map[string]string{"kernel": "debug"}},
		{TimeZone: "UTC", TraceLevels: map[string]string{"gui": "verbose"}},
	}
	for _, b := range bad {
		if err := a.PutSettings(ctx, b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", b, err)
		}
	}
}

// TestSealingOff defers sealing while it is off and seals the backlog once
// it is back on.
func TestSealingOff(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	var seen []bool
	a.WatchSettings(func(s Settings) { seen = append(seen, s.Sealing) })
	s := DefaultSettings()
	s.Sealing = false
	if err := a.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	if a.Sealing(ctx) {
		t.Fatal("sealing still on")
	}
	var ids []ID
	for i := range 3 {
		r := record(t, a, NewRecording{}, data(100, uint64(i)), nil, Final{})
		if err := a.Seal(ctx, r.ID, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if st := a.Stats(); st.SealBacklog != 3 {
		t.Fatalf("backlog %d", st.SealBacklog)
	}
	un, _ := a.Unsealed(ctx)
	if len(un) != 3 {
		t.Fatalf("unsealed %d", len(un))
	}
	r, _ := a.Get(ctx, ids[0])
	if r.Seal != nil {
		t.Fatal("sealed while sealing is off")
	}
	s.Sealing = true
	if err := a.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := a.Seal(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		if res := mustVerify(t, a, id); !res.Valid || !res.Sealed {
			t.Fatalf("%s: %+v", id, res)
		}
	}
	if st := a.Stats(); st.SealBacklog != 0 {
		t.Fatalf("backlog %d after sealing", st.SealBacklog)
	}
	if len(seen) != 2 || seen[0] || !seen[1] {
		t.Fatalf("watcher saw %v", seen)
	}
}
