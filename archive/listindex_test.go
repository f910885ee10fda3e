package archive

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestListingFollowsList: the list index gives the same recordings, in
// the same order, as List and ListFor, after recordings are created,
// finished (moving in time), binned, restored and deleted, for an admin
// and for a user who sees part of them by owner or by party.
func TestListingFollowsList(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	var ids []ID
	create := func(i int) {
		t.Helper()
		w, err := a.Create(ctx, NewRecording{Received: base.Add(time.Duration(i) * time.Hour), User: []string{"alice", "bob", ""}[i%3], CallGUID: fmt.Sprint("call", i%5)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID())
		if i%7 == 6 {
			return // still recording
		}
		f := Final{State: StateComplete, DurationMs: int64(1000 * (i%4 + 1)), Parties: []string{fmt.Sprint("20", i%4)}}
		if i%2 == 0 {
			f.StartTime = base.Add(time.Duration(i)*time.Hour - 30*time.Minute)
		}
		if _, err := w.Finish(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	admin := &User{Login: "root", Role: RoleAdmin}
	alice := &User{Login: "alice", Role: RoleUser, Extensions: []string{"203"}}
	ingest := &User{Login: "phone", Role: RoleIngest}
	check := func(step string) {
		t.Helper()
		for _, u := range []*User{admin, alice, ingest} {
			want, _, err := a.ListFor(ctx, u, Query{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Listing(ctx, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			if u == admin { // every listed recording: Shared counts them
				n := map[string]int{}
				for _, r := range want {
					n[r.CallGUID]++
				}
				for _, e := range got {
					if e.Shared != (n[e.CallGUID] > 1) {
						t.Fatalf("%s: %s of call %q (%d listed) has Shared %v", step, e.ID, e.CallGUID, n[e.CallGUID], e.Shared)
					}
				}
			}
			calls := map[string]bool{}
			for _, r := range want {
				calls[r.CallGUID] = true // every recording here has one
			}
			if n, err := a.CountListed(ctx, u); err != nil || n != len(calls) {
				t.Fatalf("%s, %s: CountListed %d, %v; want %d", step, u.Login, n, err, len(calls))
			}
			if len(got) != len(want) {
				t.Fatalf("%s, %s: Listing has %d recordings, ListFor %d", step, u.Login, len(got), len(want))
			}
			for i, r := range want {
				at := r.StartTime
				if at.IsZero() {
					at = r.Received
				}
				e := got[i]
				if e.ID != r.ID || !e.Time.Equal(at) || e.DurationMs != r.DurationMs || e.User != r.User || e.CallGUID != r.CallGUID {
					t.Fatalf("%s, %s: row %d is %+v, ListFor has %s %v %d %q %q", step, u.Login, i, e, r.ID, at, r.DurationMs, r.User, r.CallGUID)
				}
			}
		}
	}
	for i := range 20 {
		create(i)
	}
	check("created")
	for i := 20; i < 30; i++ { // after the index was built
		create(i)
	}
	check("more created")
	if err := a.Bin(ctx, ids[3], "root"); err != nil {
		t.Fatal(err)
	}
	if err := a.Bin(ctx, ids[21], "root"); err != nil {
		t.Fatal(err)
	}
	check("binned")
	if err := a.Restore(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	check("restored")
	if err := a.Delete(ctx, ids[0], "root", "test"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, ids[22], "root", "test"); err != nil {
		t.Fatal(err)
	}
	check("deleted")

	// keep sees what MayRead decides on and filters further.
	got, err := a.Listing(ctx, admin, func(r *Recording) bool { return r.User == "bob" && len(r.Parties) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || slices.ContainsFunc(got, func(e ListEntry) bool { return e.User != "bob" }) {
		t.Fatalf("keep: %+v", got)
	}
	if got, _ := a.Listing(ctx, &User{Login: "root", Role: RoleAdmin, Disabled: true}, nil); len(got) != 0 {
		t.Fatalf("a disabled admin lists %d", len(got))
	}
}
