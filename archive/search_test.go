package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
)

func gramsOf(s string) []string {
	var out []string
	trigrams(s, func(g string) { out = append(out, g) })
	return out
}

func TestTrigrams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"ab", nil},
		{"abc", []string{"abc"}},
		{"abcd", []string{"abc", "bcd"}},
		{"šiļķe", []string{"šiļ", "iļķ", "ļķe"}},
		{"åø\uFFFDx", []string{"åø\uFFFD", "ø\uFFFDx"}},
	} {
		if got := gramsOf(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("trigrams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSearchNeedle checks the property the index rests on: when a field
// contains a text (as the filter compares them), every trigram of the
// text's normal form is one of the field's.
func FuzzSearchNeedle(f *testing.F) {
	for _, s := range [][2]string{
		{"Jūratė Žilinskienė", "ŽILINSK"}, {"Søren Ærø", "ærø"}, {"İstanbul", "ist"},
		{"\u212aate", "kat"}, {"ab\xffcd", "b\xffc"}, {"+46 8 123 45 67", "8 12"}, {"x", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, field, text string) {
		lf, ln := searchNeedle(field), searchNeedle(text)
		if !utf8.ValidString(lf) || !utf8.ValidString(ln) {
			t.Fatalf("normal form not UTF-8: %q %q", lf, ln)
		}
		if n := utf8.RuneCountInString(ln); len(gramsOf(ln)) != max(n-2, 0) {
			t.Fatalf("%q: %d runes, %d trigrams", ln, n, len(gramsOf(ln)))
		}
		if !strings.Contains(strings.ToLower(field), strings.ToLower(text)) {
			return
		}
		have := map[string]bool{}
		trigrams(lf, func(g string) { have[g] = true })
		trigrams(ln, func(g string) {
			if !have[g] {
				t.Fatalf("field %q contains %q but lacks its trigram %q", field, text, g)
			}
		})
	})
}

var (
	searchNames = []string{
		"Åsa Öberg", "ÅSA ÖBERG", "Jūratė Žilinskienė", "Ģirts Ķēniņš", "Søren Ærø", "Łukasz Wójcik",
		"Märt Ääremaa", "Þórunn Ævarsdóttir", "İlkay", "Kari Nordmann", "Anne-Marie Ström",
		"Jürgen Müller", "Ōta", "x", "",
	}
	searchNumbers = []string{
		"+46 8 123 45 67", "+370 612 34567", "sip:204@pbx.example", "tel:+4989123456", "204", "0800-555 12 34",
		"+47 22 33 44 55", "1",
	}
	searchOwners = []string{"asa", "ASA", "jurate", "Jurate", "girts", "soren", "kate", "\u212aate", "", "märt", "MÄRT"}
)

// searchUsers are the accounts of the synthetic archive; some have a
// display name that only the user record holds.
func searchUsers() []User {
	return []User{
		{Login: "asa", Name: "Åsa Öberg", Role: RoleUser, Extensions: []string{"204"}},
		{Login: "jurate", Name: "Jūratė Žilinskienė", Role: RoleUser, AccessList: []string{"girts"}},
		{Login: "girts", Name: "Ģirts Ķēniņš", Role: RoleSupervisor, Extensions: []string{"+370 612 34567"}},
		{Login: "soren", Role: RoleUser, Extensions: []string{"+47 22 33 44 55"}},
		{Login: "märt", Name: "Märt Ääremaa", Role: RoleUser},
		{Login: "root", Name: "Administrator", Role: RoleAdmin},
	}
}

func searchInfo(rng *rand.Rand) []byte {
	if rng.IntN(5) == 0 {
		return nil
	}
	type party struct {
		Name   string `json:"name,omitempty"`
		Number string `json:"number,omitempty"`
	}
	type call struct {
		CallID string `json:"callId"`
		From   party  `json:"from"`
		To     party  `json:"to"`
		Start  string `json:"start"`
	}
	var doc struct {
		Result struct {
			Calls    []call   `json:"calls"`
			Warnings []string `json:"warnings"`
		} `json:"result"`
	}
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	for range rng.IntN(3) {
		doc.Result.Calls = append(doc.Result.Calls, call{
			CallID: fmt.Sprintf("%08x@pbx-%d.example", rng.Uint32(), rng.IntN(3)),
			From:   party{pick(searchNames), pick(searchNumbers)},
			To:     party{pick(searchNames), pick(searchNumbers)},
			Start:  "2025-05-01T08:00:00Z",
		})
	}
	doc.Result.Warnings = []string{"Warnings are not searched"}
	b, _ := json.Marshal(doc)
	return b
}

// fillSearch creates n recordings with names, numbers and ids to search
// for; some stay unfinished and some are deleted. It returns the search
// fields of the recordings, to pick texts from.
func fillSearch(t *testing.T, a *Archive, rng *rand.Rand, n int, base time.Time) []string {
	t.Helper()
	ctx := t.Context()
	for _, u := range searchUsers() {
		if err := a.PutUser(ctx, u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	specs := make([]recSpec, n)
	var fields []string
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	for i := range specs {
		s := &specs[i]
		owner := pick(searchOwners)
		s.nr = NewRecording{
			User: owner, Received: base.Add(time.Duration(rng.IntN(n/3+1)) * time.Minute),
			FileName: fmt.Sprintf("%032x-009033302ab1-11--%s.pcap", rng.Uint64(), owner),
			CallGUID: fmt.Sprintf("%016X", rng.Uint64()),
		}
		s.f = Final{State: StateComplete, Info: searchInfo(rng)}
		for range rng.IntN(4) {
			if rng.IntN(2) == 0 {
				s.f.Parties = append(s.f.Parties, pick(searchNames[:len(searchNames)-1]))
			} else {
				s.f.Parties = append(s.f.Parties, pick(searchNumbers))
			}
		}
		if rng.IntN(10) < 7 {
			s.f.StartTime = s.nr.Received.Add(-time.Duration(rng.IntN(600)) * time.Second)
		}
		if i == 0 { // more distinct trigrams than the index keeps per recording
			var long []string
			for j := range 600 {
				long = append(long, fmt.Sprintf("%x", j*7919))
			}
			s.f.Info = fmt.Appendf(nil, `{"result":{"calls":[{"callId":%q}]}}`, strings.Join(long, "~")+"-overflowonly")
		}
		s.finish = rng.IntN(10) != 0
		s.del = rng.IntN(12) == 0
		searchFields(s.nr.User, s.nr.FileName, s.nr.CallGUID, s.f.Parties, s.f.Info, nil, func(f string) { fields = append(fields, f) })
	}
	createAll(t, a, specs)
	return fields
}

// refMatch is the text filter written out plainly: the recording's
// fields, its Info calls and its owner's display name, compared in lower
// case.
func refMatch(t *testing.T, users []User, text string) func(*Recording) bool {
	needle := strings.ToLower(text)
	return func(r *Recording) bool {
		fields := []string{r.User, r.FileName, r.CallGUID}
		fields = append(fields, r.Parties...)
		var in struct {
			Result struct {
				Calls []struct {
					CallID   string
					From, To struct{ Name, Number string }
				}
			}
		}
		_ = json.Unmarshal(r.Info, &in)
		for _, c := range in.Result.Calls {
			fields = append(fields, c.CallID, c.From.Name, c.From.Number, c.To.Name, c.To.Number)
		}
		lower := strings.ToLower // not EqualFold: the filter compares lower-cased logins
		for _, u := range users {
			if r.User != "" && lower(u.Login) == lower(r.User) {
				fields = append(fields, u.Name)
			}
		}
		for _, f := range fields {
			if f != "" && strings.Contains(strings.ToLower(f), needle) {
				return true
			}
		}
		return false
	}
}

// searchTexts draws texts: pieces of fields (across word boundaries,
// in changed case), 1–2 rune texts and texts found nowhere.
func searchTexts(rng *rand.Rand, fields []string, n int) []string {
	texts := []string{
		"žilinsk", "ÆRØ", "ääre", "öberg", "Ķēn", "admin", "+46 8", "204", "pbx", "overflowonly", "ist",
		"a", "Å", "ö", "20", "ne", "zz9", "no such name", "ø\uFFFD", "\xff\xfe", "user\nfile",
	}
	for len(texts) < n {
		f := []rune(fields[rng.IntN(len(fields))])
		if len(f) == 0 {
			continue
		}
		i := rng.IntN(len(f))
		j := min(len(f), i+1+rng.IntN(8))
		s := string(f[i:j])
		switch rng.IntN(3) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = strings.ToLower(s)
		}
		texts = append(texts, s)
	}
	return texts
}

func compareSearch(t *testing.T, a *Archive, texts []string, limits []int) {
	t.Helper()
	ctx := t.Context()
	users, err := a.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readers := []*User{{Login: "root", Role: RoleAdmin}}
	for _, u := range users {
		if u.Role != RoleAdmin {
			readers = append(readers, &u)
		}
	}
	for i, text := range texts {
		limit := limits[i%len(limits)]
		ref := refMatch(t, users, text)
		q := Query{Limit: limit, Text: text}
		want := listAll(t, func(q Query) ([]*Recording, string, error) {
			return a.List(ctx, Query{Limit: q.Limit, Cursor: q.Cursor, Match: ref})
		}, q)
		got := listAll(t, func(q Query) ([]*Recording, string, error) { return a.List(ctx, q) }, q)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("List text %q limit %d: pages %v\nwant %v", text, limit, got, want)
		}
		u := readers[i%len(readers)]
		want = listAll(t, func(q Query) ([]*Recording, string, error) {
			return slowList(ctx, a, u, Query{Limit: q.Limit, Cursor: q.Cursor, Match: ref})
		}, q)
		got = listAll(t, func(q Query) ([]*Recording, string, error) { return a.ListFor(ctx, u, q) }, q)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("ListFor %s text %q limit %d: pages %v\nwant %v", u.Login, text, limit, got, want)
		}
	}
}

func TestSearchEqualsDecrypt(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 11))
	a := OpenTest(t)
	base := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	fields := fillSearch(t, a, rng, 300, base)
	checkWhoIndex(t, a)
	texts := searchTexts(rng, fields, 160)
	compareSearch(t, a, texts, []int{1, 3, 7, 50})

	// With Match, a time range and a cursor from the middle.
	ctx := t.Context()
	users, _ := a.Users(ctx)
	from, to := base.Add(20*time.Minute), base.Add(70*time.Minute)
	for _, text := range texts[:40] {
		odd := func(r *Recording) bool { return r.ID[15]&1 == 1 }
		ref := refMatch(t, users, text)
		want := listAll(t, func(q Query) ([]*Recording, string, error) {
			return a.List(ctx, Query{Limit: 2, From: from, To: to, Cursor: q.Cursor, Match: func(r *Recording) bool { return ref(r) && odd(r) }})
		}, Query{Limit: 2})
		got := listAll(t, func(q Query) ([]*Recording, string, error) { return a.List(ctx, q) },
			Query{Limit: 2, From: from, To: to, Text: text, Match: odd})
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("text %q in range with Match: pages %v\nwant %v", text, got, want)
		}
	}
	// The index finds what the texts are chosen to find.
	recs, _, err := a.List(ctx, Query{Text: "OVERFLOWONLY"})
	if err != nil || len(recs) != 1 {
		t.Errorf("overflow recording: %d found, %v", len(recs), err)
	}
	if recs, _, err := a.List(ctx, Query{Text: "žilinsk"}); err != nil || len(recs) == 0 {
		t.Errorf("display name: %d found, %v", len(recs), err)
	}

	// A rare text is answered from the index: few candidates.
	tq, err := a.prepareText(ctx, "žilinsk")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.view(func(tx kv.Tx) error {
		src := tq.source(tx, nil)
		if src == nil {
			t.Fatal("text not answered by the index")
		}
		n := 0
		for next := walkSource(src, nil); ; n++ {
			if _, ok := next(); !ok {
				break
			}
		}
		if n == 0 || n > 150 {
			t.Errorf("%d candidates for a rare text among 300 recordings", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Deleted recordings leave no entries and are not found.
	recs, _, err = a.List(ctx, Query{Text: "pbx", Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:5] {
		if err := a.Delete(ctx, r.ID, "test", "gone"); err != nil {
			t.Fatal(err)
		}
	}
	checkWhoIndex(t, a)
	after, _, err := a.List(ctx, Query{Text: "pbx", Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		for _, d := range recs[:5] {
			if r.ID == d.ID {
				t.Errorf("deleted %s still found", d.ID)
			}
		}
	}
	compareSearch(t, a, texts[:40], []int{4})
}

// searchEntries returns every recording's search entries.
func searchEntries(t *testing.T, a *Archive) [][]byte {
	t.Helper()
	var keys [][]byte
	err := a.view(func(tx kv.Tx) error {
		c := tx.Bucket(bucketRecs).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			m, dk, err := a.loadTx(tx, ID(k))
			clear(dk)
			if err != nil {
				return err
			}
			keys = append(keys, a.searchKeys(m, ID(k), nil)...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// stripSearch removes the search entries keys and the marker, leaving an
// archive as written before the search index.
func stripSearch(t *testing.T, db kv.Store, keys [][]byte) {
	t.Helper()
	err := db.Update(func(tx kv.Tx) error {
		if err := deleteWho(tx, keys); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(metaSearchIndex)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSearchBackfill(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 8))
	a := OpenTest(t)
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	fields := fillSearch(t, a, rng, 200, base)
	texts := searchTexts(rng, fields, 40)
	ctx := t.Context()

	// Without search entries: the decrypting path, same results.
	stripSearch(t, a.store, searchEntries(t, a))
	compareSearch(t, a, texts, []int{5})

	// The build, with recordings deleted and written meanwhile.
	recs, _, err := a.List(ctx, Query{Limit: 30})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, r := range recs {
			if err := a.Delete(ctx, r.ID, "test", "during build"); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i := range 20 {
			record(t, a, NewRecording{User: "asa", FileName: fmt.Sprintf("during-build-%d.pcap", i)}, nil, nil,
				Final{Parties: []string{"Åsa Öberg", "+46 8 123 45 67"}})
		}
	})
	if err := a.buildSearch(ctx, 7); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	checkWhoIndex(t, a)
	if err := a.view(func(tx kv.Tx) error {
		if !searchReady(tx) {
			t.Error("search index not marked complete")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compareSearch(t, a, texts, []int{5})

	// An archive opened without search entries builds them in the
	// background; until then text queries decrypt.
	path := a.Path()
	keys := searchEntries(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	db := openBolt(t, path)
	stripSearch(t, db, keys)
	db.Close()
	a, err = Open(path, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF(), InitialMmapSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	compareSearch(t, a, texts[:10], []int{3})
	deadline := time.Now().Add(time.Minute)
	for ready := false; !ready; {
		if err := a.view(func(tx kv.Tx) error { ready = searchReady(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if !ready && time.Now().After(deadline) {
			t.Fatal("the search index is not built after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkWhoIndex(t, a)
	compareSearch(t, a, texts, []int{5})
}

// BenchmarkListText pages through 100,000 recordings with a text filter:
// by the search index (Text) and by decrypting every candidate (Match),
// for an admin (List) and a user owning 1 % (ListFor).
func BenchmarkListText(b *testing.B) {
	a := OpenTestOptions(b, Options{InitialMmapSize: 1 << 30})
	const n = 100_000
	first := []string{"Åsa", "Jūratė", "Ģirts", "Søren", "Łukasz", "Märt", "Þórunn", "Kari", "Anne", "Jürgen"}
	last := []string{"Öberg", "Žilinskienė", "Ķēniņš", "Ærø", "Wójcik", "Ääremaa", "Nordmann", "Ström", "Müller", "Lind"}
	putSynthetic(b, a, n, func(i int) *metaRecord {
		owner := i % 100
		name := first[i%10] + " " + last[(i/10)%10]
		number := fmt.Sprintf("+49 89 %07d", i%50000)
		m := syntheticMeta(i, owner)
		m.Info = fmt.Appendf(nil, `{"result":{"calls":[{"callId":"%08x@pbx.example","from":{"name":%q,"number":"2%02d"},"to":{"name":%q,"number":%q}}]}}`,
			i*2654435761%(1<<32), "User "+fmt.Sprint(owner), owner, name, number)
		m.Parties = []string{fmt.Sprintf("sip:2%02d@pbx.example", owner), name, number}
		return m
	})
	b.Logf("who and search index of %d recordings built in %v", n, timeWhoBackfill(b, a))
	_ = a.view(func(tx kv.Tx) error {
		s := boltkv.BoltBucket(tx.Bucket(bucketByWho)).Stats()
		b.Logf("bywho: %.1f keys/recording, %.0f bytes/recording in pages (%.0f in use)", float64(s.KeyN)/n,
			float64(s.LeafAlloc+s.BranchAlloc)/n, float64(s.LeafInuse+s.BranchInuse)/n)
		return nil
	})
	ctx := b.Context()
	admin := &User{Login: "root", Role: RoleAdmin}
	user := &User{Login: "user7", Role: RoleUser, Extensions: []string{"207"}}
	cases := []struct {
		name string
		u    *User
		text string
		want int
	}{
		{"admin/rare", admin, "0012345", 3},         // a number on 2 recordings, a file name on 1
		{"admin/common", admin, "Žilinsk", 50},      // a name on 10 %
		{"user1pct/common", user, "öberg", 50},      // a name on all of the user's 1,000
		{"user1pct/rare", user, "89 0000107", 2},    // a number on 2 of the user's 1,000
		{"user1pct/absent", user, "Žilinskienė", 0}, // a name on none of the user's
		{"admin/absent", admin, "no such name", 0},
	}
	for _, c := range cases {
		tq, err := a.prepareText(ctx, c.text)
		if err != nil {
			b.Fatal(err)
		}
		for _, path := range []string{"index", "decrypt"} {
			b.Run("100k/"+c.name+"/"+path, func(b *testing.B) {
				q := Query{Limit: 50, Text: c.text}
				if path == "decrypt" {
					q = Query{Limit: 50, Match: tq.match}
				}
				for b.Loop() {
					recs, _, err := a.ListFor(ctx, c.u, q)
					if err != nil || len(recs) != c.want {
						b.Fatal(len(recs), err)
					}
				}
			})
		}
	}
}

// TestCloseWaitsForSearchBackfill: Open builds the search index of an
// archive written before it in the background; Close cancels that build
// and returns only after its goroutine ended.
func TestCloseWaitsForSearchBackfill(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	a := OpenTest(t)
	fillSearch(t, a, rng, 60, time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
	stripSearch(t, a.store, searchEntries(t, a))

	var ran, ended atomic.Bool
	searchBackfillDone = func(ctx context.Context) {
		ran.Store(true)
		<-ctx.Done() // only Close cancels it
		// The goroutine is still running here: give a Close that does not
		// wait every chance to return first.
		time.Sleep(20 * time.Millisecond)
		ended.Store(true)
	}
	t.Cleanup(func() { searchBackfillDone = nil })
	b := reopen(t, a)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !ran.Load() || !ended.Load() {
		t.Fatalf("Close returned before the search backfill ended (ran %v, ended %v)", ran.Load(), ended.Load())
	}
}
