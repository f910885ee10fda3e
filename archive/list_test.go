package archive

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	const n = 120
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w, err := a.Create(ctx, NewRecording{Received: base.Add(time.Duration(i) * time.Hour), User: fmt.Sprint(i % 3)})
			if err != nil {
				t.Error(err)
				return
			}
			f := Final{State: StateComplete}
			if i%4 != 0 { // the rest keep Received as their time
				f.StartTime = base.Add(time.Duration(i)*time.Hour - time.Minute)
			}
			if i%10 == 9 {
				return // left recording
			}
			if _, err := w.Finish(ctx, f); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	at := func(r *Recording) time.Time {
		if !r.StartTime.IsZero() {
			return r.StartTime
		}
		return r.Received
	}
	page := func(q Query) []*Recording {
		t.Helper()
		var all []*Recording
		for pages := 0; ; pages++ {
			recs, next, err := a.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) > q.Limit && q.Limit > 0 {
				t.Fatalf("page of %d > limit %d", len(recs), q.Limit)
			}
			all = append(all, recs...)
			if next == "" {
				return all
			}
			if pages > 1000 {
				t.Fatal("endless paging")
			}
			q.Cursor = next
			// New recordings arriving between pages do not disturb paging.
			record(t, a, NewRecording{Received: base.Add(1000 * time.Hour)}, nil, nil, Final{})
		}
	}
	all := page(Query{Limit: 7})
	if len(all) != n {
		t.Fatalf("listed %d, want %d", len(all), n)
	}
	seen := map[ID]bool{}
	for i, r := range all {
		if seen[r.ID] {
			t.Fatal("duplicate")
		}
		seen[r.ID] = true
		if i > 0 && at(r).After(at(all[i-1])) {
			t.Fatal("not newest first")
		}
	}
	// Time window [From, To).
	from, to := base.Add(10*time.Hour), base.Add(20*time.Hour)
	win := page(Query{From: from, To: to, Limit: 3})
	for _, r := range win {
		if at(r).Before(from) || !at(r).Before(to) {
			t.Fatalf("%v outside window", at(r))
		}
	}
	want := 0
	for _, r := range all {
		if !at(r).Before(from) && at(r).Before(to) {
			want++
		}
	}
	if len(win) != want || want < 9 {
		t.Fatalf("window holds %d, want %d", len(win), want)
	}
	// Match.
	user1 := page(Query{Limit: 5, To: base.Add(500 * time.Hour), Match: func(r *Recording) bool { return r.User == "1" }})
	if len(user1) != n/3 {
		t.Fatalf("match: %d", len(user1))
	}
	for _, r := range user1 {
		if r.User != "1" {
			t.Fatal("match ignored")
		}
	}
	// Default limit and a bad cursor.
	if recs, next, err := a.List(ctx, Query{}); err != nil || len(recs) != defaultLimit || next == "" {
		t.Fatalf("default page: %d %q %v", len(recs), next, err)
	}
	if _, _, err := a.List(ctx, Query{Cursor: "not-a-cursor"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	unf, _ := a.Unfinished(ctx)
	uns, _ := a.Unsealed(ctx)
	if len(unf) != n/10 || len(uns) < n-n/10 {
		t.Fatalf("unfinished %d, unsealed %d", len(unf), len(uns))
	}
	if err := a.Seal(ctx, uns[0], nil); err != nil {
		t.Fatal(err)
	}
	if uns2, _ := a.Unsealed(ctx); slices.Contains(uns2, uns[0]) {
		t.Fatal("sealed recording still unsealed")
	}
}

func TestListEmpty(t *testing.T) {
	a := OpenTest(t)
	recs, next, err := a.List(t.Context(), Query{})
	if err != nil || len(recs) != 0 || next != "" {
		t.Fatalf("%v %q %v", recs, next, err)
	}
	if got, err := a.ByCall(t.Context(), "x"); err != nil || len(got) != 0 {
		t.Fatal(got, err)
	}
}
