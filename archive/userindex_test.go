package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

func TestFoldCase(t *testing.T) {
	words := []string{
		"", "a", "A", "alice", "ALICE", "Alice", "k", "K", "\u212a", "\u212aate", "kate", "KATE",
		"s", "S", "\u017f", "\u03c3", "\u03c2", "\u03a3", "i", "I", "\u0130", "\u0131", "ß", "ẞ", "ss",
		"Jürgen", "JÜRGEN", "jürgen", "\xff", "\xfe", "\ufffd", "a\xffb", "a\ufffdb", "µ", "\u039c", "\u03bc",
		"ǅ", "ǆ", "Ǆ", "+49 89", "204", " alice",
	}
	for _, x := range words {
		for _, y := range words {
			if got, want := foldCase(x) == foldCase(y), strings.EqualFold(x, y); got != want {
				t.Errorf("foldCase(%q) == foldCase(%q) is %v, EqualFold %v", x, y, got, want)
			}
		}
	}
	if got := foldCase("Alice \u212Aing"); got != "alice king" {
		t.Errorf("foldCase = %q", got)
	}
}

// termsMeet reports whether a recording's who terms and a user's meet.
func termsMeet(u *User, rec *Recording) bool {
	mine := map[string]bool{}
	whoUserTerms(u, func(kind byte, term string) {
		if term != "" {
			mine[string(kind)+term] = true
		}
	})
	meet := false
	whoTerms(rec.User, rec.Parties, func(kind byte, term string) {
		meet = meet || mine[string(kind)+term]
	})
	return meet
}

// FuzzWhoTerms checks that the who terms find exactly what MayRead allows
// a user (role user) to read.
func FuzzWhoTerms(f *testing.F) {
	f.Add("alice", "ALICE", "sip:204@pbx.example", "204")
	f.Add("bob", "carol", "+49 (89) 123-45", "tel:+498912345")
	f.Add("x", "", "Jürgen", " jürgen ")
	f.Add("\u212a", "k", "7", "(7)")
	f.Fuzz(func(t *testing.T, login, owner, party, entry string) {
		recs := []*Recording{{User: owner, Parties: []string{party}}, {User: owner}, {Parties: []string{party, entry}}}
		users := []*User{
			{Login: login, Role: RoleUser, Extensions: []string{entry}},
			{Login: login, Role: RoleUser, AccessList: []string{entry}},
			{Login: login, Role: RoleSupervisor, AccessList: []string{party}, Extensions: []string{owner}},
		}
		for _, u := range users {
			for _, r := range recs {
				if may, meet := MayRead(u, r), termsMeet(u, r); may != meet {
					t.Fatalf("user %+v, recording user %q parties %q: MayRead %v, who terms meet %v", u, r.User, r.Parties, may, meet)
				}
			}
		}
	})
}

// listAll pages through list with q until the end and returns the pages.
func listAll(t *testing.T, list func(Query) ([]*Recording, string, error), q Query) [][]ID {
	t.Helper()
	var pages [][]ID
	for n := 0; ; n++ {
		recs, next, err := list(q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(recs) > q.Limit {
			t.Fatalf("page of %d > limit %d", len(recs), q.Limit)
		}
		var ids []ID
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		pages = append(pages, ids)
		if next == "" {
			break
		}
		if n > 10000 {
			t.Fatal("endless paging")
		}
		q.Cursor = next
	}
	// List with Match may end on an empty page where ListFor ends one
	// page earlier: the pages must agree, not the trailing empty one.
	for len(pages) > 1 && len(pages[len(pages)-1]) == 0 {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// slowList is the reference: List with MayRead in Match.
func slowList(ctx context.Context, a *Archive, u *User, q Query) ([]*Recording, string, error) {
	match := q.Match
	q.Match = func(r *Recording) bool { return MayRead(u, r) && (match == nil || match(r)) }
	return a.List(ctx, q)
}

// checkWhoIndex compares the who bucket with the keys the live recordings
// should have: none missing, none left over.
func checkWhoIndex(t *testing.T, a *Archive) {
	t.Helper()
	// The indexer writes finished recordings' keys in the background.
	if err := a.indexWhoNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := a.view(func(tx kv.Tx) error {
		want := map[string]bool{}
		err := tx.Bucket(bucketRecs).ForEach(func(k, _ []byte) error {
			m, dk, err := a.loadTx(tx, ID(k))
			clear(dk)
			if err != nil {
				return err
			}
			tk := timeKey(m.indexNS(), ID(k))
			if m.Binned != 0 { // in the recycle bin: no keys
				if whoPending(tx, tk[:]) {
					t.Errorf("binned recording %x pending", k)
				}
				return nil
			}
			unfinished := tx.Bucket(bucketUnfinished).Get(k) != nil
			if pending := whoPending(tx, tk[:]); pending != unfinished {
				t.Errorf("recording %x: pending %v, unfinished %v", k, pending, unfinished)
			}
			if unfinished {
				return nil // its keys come after Finish
			}
			for _, wk := range a.whoKeys(m, ID(k), nil) {
				want[string(wk)] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		got := map[string]bool{}
		err = tx.Bucket(bucketByWho).ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
		if err != nil {
			return err
		}
		for k := range want {
			if !got[k] {
				t.Errorf("who index lacks %x", k)
			}
		}
		for k := range got {
			if !want[k] {
				t.Errorf("who index has stale %x", k)
			}
		}
		if !whoReady(tx) {
			t.Error("who index not marked complete")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var (
	testOwners  = []string{"alice", "ALICE", "Alice", "bob", "Bob", "carol", "dave2", "", "", "frank", "\u212aate", "kate", "eve-not"}
	testParties = []string{
		"204", "+49 (89) 1234-567", "sip:204@pbx.example", "tel:+49891234567", "+49891234567", "300", "sip:300@pbx",
		"Alice Smith", "alice smith", " ALICE SMITH ", "7", "(7)", "Bob", "bob", "555", "+1 555 0100", "unknown", "", " ",
		"sip:bob@pbx", "dave2", "Carol", "2045", "KATE",
	}
)

func testUsers() []*User {
	return []*User{
		{Login: "alice", Role: RoleUser, Extensions: []string{"204", "+49 89 1234-567"}, AccessList: []string{"Bob", "sip:300@pbx"}},
		{Login: "bob", Role: RoleSupervisor, Extensions: []string{"300"}, AccessList: []string{"carol", "Alice Smith"}},
		{Login: "carol", Role: RoleUser},
		{Login: "dave", Role: RoleUser, Extensions: []string{"7"}, AccessList: []string{"  DAVE2 "}},
		{Login: "eve", Role: RoleUser, Extensions: []string{"999"}},
		{Login: "KATE", Role: RoleUser, Extensions: []string{" ", ""}},
		{Login: "nobody", Role: RoleUser},
		{Login: "root", Role: RoleAdmin},
		{Login: "phones", Role: RoleIngest},
		{Login: "alice", Role: RoleUser, Disabled: true, Extensions: []string{"204"}},
		{Login: "guest", Role: "guest", Extensions: []string{"204"}},
	}
}

// fillRandom creates n recordings with random owners, parties and times
// (some sharing a time), leaves some unfinished and deletes some.
func fillRandom(t *testing.T, a *Archive, rng *rand.Rand, n int, base time.Time) {
	t.Helper()
	type spec struct {
		owner    string
		parties  []string
		received time.Time
		start    time.Time
		finish   bool
		del      bool
		call     string
	}
	specs := make([]spec, n)
	for i := range specs {
		s := &specs[i]
		s.owner = testOwners[rng.IntN(len(testOwners))]
		for range rng.IntN(4) {
			s.parties = append(s.parties, testParties[rng.IntN(len(testParties))])
		}
		s.received = base.Add(time.Duration(rng.IntN(n/4+1)) * time.Minute) // collisions on purpose
		if rng.IntN(10) < 7 {
			s.start = s.received.Add(-time.Duration(rng.IntN(600)) * time.Second)
		}
		s.finish = rng.IntN(10) != 0
		s.del = rng.IntN(10) == 0
		s.call = fmt.Sprint(rng.IntN(20))
	}
	rs := make([]recSpec, len(specs))
	for i, s := range specs {
		rs[i] = recSpec{
			nr:     NewRecording{User: s.owner, Received: s.received, CallGUID: s.call},
			f:      Final{State: StateComplete, StartTime: s.start, Parties: s.parties},
			finish: s.finish, del: s.del,
		}
	}
	createAll(t, a, rs)
}

// recSpec is a recording a test creates: finished with f when finish,
// then deleted when del.
type recSpec struct {
	nr     NewRecording
	f      Final
	finish bool
	del    bool
}

// createAll creates the recordings of specs, 16 at a time.
func createAll(t *testing.T, a *Archive, specs []recSpec) {
	t.Helper()
	ctx := t.Context()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, s := range specs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w, err := a.Create(ctx, s.nr)
			if err != nil {
				t.Error(err)
				return
			}
			if s.finish {
				if _, err := w.Finish(ctx, s.f); err != nil {
					t.Error(err)
					return
				}
			}
			if s.del {
				if err := a.Delete(ctx, w.ID(), "test", "random"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func compareListFor(t *testing.T, a *Archive, users []*User, base time.Time) {
	t.Helper()
	ctx := t.Context()
	queries := []Query{
		{},
		{Limit: 3},
		{Limit: 1, From: base.Add(10 * time.Minute), To: base.Add(25 * time.Minute)},
		{Limit: 7},
		{Limit: 50},
		{Limit: 10000},
		{Limit: 5, From: base.Add(20 * time.Minute), To: base.Add(60 * time.Minute)},
		{Limit: 3, To: base.Add(30 * time.Minute)},
		{Limit: 4, From: base.Add(45 * time.Minute)},
		{Limit: 6, Match: func(r *Recording) bool { return r.ID[0]&1 == 0 }},
		{Limit: 2, Match: func(r *Recording) bool { return r.State == StateRecording }},
		{Limit: 300, Match: func(r *Recording) bool { return r.ID[0] < 40 }},
	}
	for _, u := range users {
		for qi, q := range queries {
			if u.Role == RoleAdmin && q.Limit > 0 && q.Limit < 50 {
				continue // ListFor is List: small pages prove nothing more
			}
			want := listAll(t, func(q Query) ([]*Recording, string, error) { return slowList(ctx, a, u, q) }, q)
			got := listAll(t, func(q Query) ([]*Recording, string, error) { return a.ListFor(ctx, u, q) }, q)
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("user %s (%s) query %d: ListFor pages %v\nList+MayRead pages %v", u.Login, u.Role, qi, got, want)
			}
		}
	}
}

func TestListForEqualsListMayRead(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	a := OpenTest(t)
	base := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	fillRandom(t, a, rng, 300, base)
	checkWhoIndex(t, a)
	compareListFor(t, a, testUsers(), base)

	// A cursor from List continues in ListFor and the other way round.
	ctx := t.Context()
	u := testUsers()[0]
	p1, c1, err := slowList(ctx, a, u, Query{Limit: 10})
	if err != nil || c1 == "" {
		t.Fatal(len(p1), c1, err)
	}
	p2, _, err := a.ListFor(ctx, u, Query{Limit: 10, Cursor: c1})
	if err != nil {
		t.Fatal(err)
	}
	q2, _, err := slowList(ctx, a, u, Query{Limit: 10, Cursor: c1})
	if err != nil || len(p2) != len(q2) || (len(p2) > 0 && p2[0].ID != q2[0].ID) {
		t.Fatalf("cursor from List: %d vs %d recordings, %v", len(p2), len(q2), err)
	}
	if _, _, err := a.ListFor(ctx, u, Query{Cursor: "junk"}); err == nil {
		t.Fatal("bad cursor accepted")
	}
	if recs, _, err := a.ListFor(ctx, nil, Query{}); err != nil || len(recs) != 0 {
		t.Fatal("nil user listed", len(recs), err)
	}

	// Deleting everything leaves the who index empty.
	var ids []ID
	for _, p := range listAll(t, func(q Query) ([]*Recording, string, error) { return a.List(ctx, q) }, Query{Limit: 1000}) {
		ids = append(ids, p...)
	}
	for _, id := range ids {
		if err := a.Delete(ctx, id, "test", "all"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.view(func(tx kv.Tx) error {
		if n := tx.Bucket(bucketByWho).KeyN(); n != 0 {
			t.Errorf("%d who-index keys left after deleting everything", n)
		}
		if n := tx.Bucket(bucketWhoPending).KeyN(); n != 0 {
			t.Errorf("%d pending who-index entries left after deleting everything", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestListForPagingWhileArriving pages through a user's recordings while
// new ones arrive, newer than the first page and older than the cursor:
// each page equals what List+MayRead returns from the same cursor, and no
// recording comes twice.
func TestListForPagingWhileArriving(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	u := &User{Login: "alice", Role: RoleUser, Extensions: []string{"204"}}
	add := func(i int, at time.Time) ID {
		owner, parties := "bob", []string{"555"}
		switch i % 3 {
		case 0:
			owner = "Alice"
		case 1:
			parties = []string{"sip:204@pbx"}
		}
		return record(t, a, NewRecording{User: owner, Received: at}, nil, nil, Final{StartTime: at, Parties: parties}).ID
	}
	initial := map[ID]bool{}
	for i := range 90 {
		id := add(i, base.Add(time.Duration(i)*time.Hour))
		if i%3 != 2 {
			initial[id] = true
		}
	}
	seen := map[ID]bool{}
	cursor := ""
	for page := 0; ; page++ {
		q := Query{Limit: 7, Cursor: cursor}
		want, wantNext, err := slowList(ctx, a, u, q)
		if err != nil {
			t.Fatal(err)
		}
		got, next, err := a.ListFor(ctx, u, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, func(x, y *Recording) bool { return x.ID == y.ID }) {
			t.Fatalf("page %d differs", page)
		}
		if next != wantNext {
			// Only where List's next page would be empty.
			rest, _, err := slowList(ctx, a, u, Query{Limit: 7, Cursor: wantNext})
			if next != "" || err != nil || len(rest) != 0 {
				t.Fatalf("page %d: cursor %q, List's %q", page, next, wantNext)
			}
		}
		for _, r := range got {
			if seen[r.ID] {
				t.Fatalf("page %d: %s again", page, r.ID)
			}
			seen[r.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
		// Arrivals: one newer than everything, one just below the cursor.
		add(0, base.Add(time.Duration(1000+page)*time.Hour))
		add(3, got[len(got)-1].StartTime.Add(-time.Second))
	}
	for id := range initial {
		if !seen[id] {
			t.Errorf("recording %s never listed", id)
		}
	}
	checkWhoIndex(t, a)
}

// TestWhoBackfill opens an archive whose who index is missing (written
// before it existed) or of another version: Open rebuilds it, and ListFor
// falls back to List+MayRead while it is not marked complete.
func TestWhoBackfill(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	a := OpenTest(t)
	base := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	fillRandom(t, a, rng, 150, base)
	users := testUsers()

	// Without the marker (index incomplete): the slow path, still right.
	if err := a.store.Update(func(tx kv.Tx) error {
		if err := tx.Bucket(bucketMeta).Delete(metaWhoIndex); err != nil {
			return err
		}
		return tx.Bucket(bucketByWho).Delete(mustFirstKey(t, tx.Bucket(bucketByWho)))
	}); err != nil {
		t.Fatal(err)
	}
	compareListFor(t, a, users[:3], base)

	// Small runs and write transactions: the keys of later runs land
	// between those of earlier ones.
	if err := a.buildWho(t.Context(), 10, 50, 40); err != nil {
		t.Fatal(err)
	}
	checkWhoIndex(t, a)

	for _, tc := range []struct {
		name  string
		strip func(tx kv.Tx) error
	}{
		{"no index", func(tx kv.Tx) error {
			if err := tx.DeleteBucket(bucketByWho); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Delete(metaWhoIndex)
		}},
		{"other version", func(tx kv.Tx) error {
			if err := tx.Bucket(bucketByWho).Put(bytes.Repeat([]byte{1}, whoKeyLen), []byte{}); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(metaWhoIndex, []byte{0, 0, 0, 0, 0, 0, 0, 0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := a.Path()
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			db := openBolt(t, path)
			if err := db.Update(tc.strip); err != nil {
				t.Fatal(err)
			}
			db.Close()
			var err error
			a, err = Open(path, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF(), InitialMmapSize: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			checkWhoIndex(t, a)
			compareListFor(t, a, users[:7], base)
		})
	}
	t.Cleanup(func() { a.Close() })
}

func mustFirstKey(t *testing.T, b kv.Bucket) []byte {
	t.Helper()
	k, _ := b.Cursor().First()
	if k == nil {
		t.Fatal("empty bucket")
	}
	return bytes.Clone(k)
}

// TestWhoIndexNoPlaintext: the who index holds keyed hashes only, so no
// login, number or name appears in the file, in any normalised form.
func TestWhoIndexNoPlaintext(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	login, party, name := "Zebralogin", "+49 (89) 7788-9911", "Quixotic Person"
	for i := range 20 {
		w, err := a.Create(ctx, NewRecording{User: login, Received: time.Unix(int64(1e9+i), 0)})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := w.Finish(ctx, Final{State: StateComplete, Parties: []string{party, name, "sip:4711@pbx.example"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A call detail record, before and after its recording: its names
	// and numbers are sealed, its call id only hashed.
	cdrName, cdrNumber, cdrQueue, cdrGUID := "Xenophila Kraus", "+43 1 5556677", "Queue Zentralkasse", "cdr0guid0f00d0a1b2c3d4e5f6a7b8c9"
	cdr := CDR{CallID: cdrGUID, Direction: CDRInbound, CallerName: cdrName, CallerNumber: cdrNumber, QueueName: cdrQueue,
		AgentName: "Agentina Blau", CalleeName: "Calleeo Rot"}
	if _, err := a.PutCDR(ctx, cdr); err != nil {
		t.Fatal(err)
	}
	w, err := a.Create(ctx, NewRecording{User: login, CallGUID: cdrGUID, Received: time.Unix(2e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, Final{State: StateComplete}); err != nil {
		t.Fatal(err)
	}
	cdr.ReferredTo = "Referida Weiss"
	if _, err := a.PutCDR(ctx, cdr); err != nil {
		t.Fatal(err)
	}
	u := &User{Login: "zebralogin", Role: RoleUser, Extensions: []string{"4711"}}
	recs, _, err := a.ListFor(ctx, u, Query{})
	if err != nil || len(recs) != 21 {
		t.Fatal(len(recs), err)
	}
	if recs, _, err := a.List(ctx, Query{Text: "referida"}); err != nil || len(recs) != 1 || len(recs[0].CDRs) != 2 {
		t.Fatal(recs, err)
	}
	checkNotInClear(t, a, login, strings.ToLower(login), party, partyKey(party), "498977889911", name, foldCase(name), "4711", "sip:4711",
		cdrName, strings.ToLower(cdrName), cdrNumber, "5556677", cdrQueue, cdrGUID, "Agentina", "Calleeo", "Referida", "inbound")
}

// timeWhoBackfill drops the marker of a built who index, as in an archive
// written before the index existed, and times the backfill Open runs.
func timeWhoBackfill(b *testing.B, a *Archive) time.Duration {
	b.Helper()
	if err := a.store.Update(func(tx kv.Tx) error { return tx.Bucket(bucketMeta).Delete(metaWhoIndex) }); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	a.backfillWho()
	return time.Since(start).Round(time.Millisecond)
}

// BenchmarkListFor lists the first page (50) of a user's recordings in an
// archive of 100k: one who owns 1% of them (and is a party to the same
// ones), one who owns none, and the first with an access list of 200
// numbers and one more login (2%); ListFor against the List+Match path.
// The setup times the backfill of the who index for the 100k.
func BenchmarkListFor(b *testing.B) {
	a := OpenTestOptions(b, Options{InitialMmapSize: 1 << 30})
	const n = 100_000
	putSynthetic(b, a, n, func(i int) *metaRecord {
		m := syntheticMeta(i, i%100)
		m.Parties = []string{fmt.Sprintf("sip:2%02d@pbx.example", i%100), fmt.Sprintf("+49 89 %07d", i%50000)}
		return m
	})
	b.Logf("backfill of %d recordings: %v", n, timeWhoBackfill(b, a))
	ctx := b.Context()
	var acl []string
	for i := range 200 {
		acl = append(acl, fmt.Sprintf("+49 30 %07d", i)) // numbers on no recording
	}
	acl = append(acl, "user8")
	users := []struct {
		name string
		u    *User
		want int
	}{
		{"own1pct", &User{Login: "user7", Role: RoleUser, Extensions: []string{"207"}}, 50},
		{"none", &User{Login: "nobody", Role: RoleUser, Extensions: []string{"999"}}, 0},
		{"own1pct+acl201", &User{Login: "user7", Role: RoleUser, Extensions: []string{"207"}, AccessList: acl}, 50},
	}
	for _, us := range users {
		b.Run("100k/"+us.name+"/ListFor", func(b *testing.B) {
			for b.Loop() {
				recs, _, err := a.ListFor(ctx, us.u, Query{Limit: 50})
				if err != nil || len(recs) != us.want {
					b.Fatal(len(recs), err)
				}
			}
		})
		b.Run("100k/"+us.name+"/List+Match", func(b *testing.B) {
			for b.Loop() {
				recs, _, err := slowList(ctx, a, us.u, Query{Limit: 50})
				if err != nil || len(recs) != us.want {
					b.Fatal(len(recs), err)
				}
			}
		})
	}
}
