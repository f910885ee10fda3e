package archive

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

// TestListReceived finds recordings by when the appliance received them,
// whatever their captures say: a phone clock at 1970 or days behind does
// not hide a call received now, and an import that kept its call's own
// time counts from that time.
func TestListReceived(t *testing.T) {
	now := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	clk := testclock.New(now)
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	rec := func(received, start time.Time) ID {
		return record(t, a, NewRecording{User: "alice", Received: received}, data(500, 3), data(50, 4), Final{StartTime: start}).ID
	}
	epoch := rec(now, time.Unix(300, 0))
	behind := rec(now.Add(-time.Minute), now.Add(-72*time.Hour))
	ahead := rec(now.Add(-2*time.Minute), now.Add(72*time.Hour))
	old := rec(now.Add(-72*time.Hour), now.Add(-72*time.Hour))
	imported := rec(now, now.Add(-72*time.Hour))
	if err := a.SetRetentionBase(ctx, imported, now.Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var got []ID
	q := Query{From: now.Add(-time.Hour), Limit: 2}
	for {
		recs, next, err := a.ListReceived(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if want := []ID{epoch, behind, ahead}; !slices.Equal(got, want) {
		t.Errorf("received in the last hour: %v, want %v (not %v, %v)", got, want, old, imported)
	}
	if _, _, err := a.ListReceived(ctx, Query{Text: "alice"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("with text: %v", err)
	}
}
