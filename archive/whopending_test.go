package archive

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// unindex takes the who keys of the finished recordings pick chooses out
// of bucketByWho and puts them in bucketWhoPending, ready: the state a
// recording is in between its final commit and the indexer's batch. It
// returns how many it took.
func unindex(t *testing.T, a *Archive, pick func(ID) bool) int {
	t.Helper()
	n := 0
	err := a.update(t.Context(), func(tx kv.Tx) error {
		n = 0
		var ids []ID
		if err := tx.Bucket(bucketRecs).ForEach(func(k, _ []byte) error {
			if tx.Bucket(bucketUnfinished).Get(k) == nil && pick(ID(k)) {
				ids = append(ids, ID(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			m, err := a.listedMetaTx(tx, id[:])
			if err != nil || m == nil {
				continue
			}
			if err := deleteWho(tx, a.whoKeys(m, id, a.cdrsTx(tx, m))); err != nil {
				return err
			}
			tk := timeKey(m.indexNS(), id)
			if err := pendWho(tx, tk[:], whoPendingReady); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pendingN(t *testing.T, a *Archive) int {
	t.Helper()
	n := 0
	if err := a.view(func(tx kv.Tx) error { n = tx.Bucket(bucketWhoPending).KeyN(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPendingWhoListed: recordings whose who keys the indexer has not
// written yet are listed for every user who may read them, and found by
// every text that matches them, with the same pages and cursors as the
// decrypting reference; the chain's index check accepts them; once
// indexed, the who bucket holds exactly the recordings' keys.
func TestPendingWhoListed(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	a := OpenTest(t)
	base := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	fillRandom(t, a, rng, 200, base)
	fields := fillSearch(t, a, rng, 200, base.Add(-time.Hour))
	checkWhoIndex(t, a)
	n := unindex(t, a, func(id ID) bool { return id[3]&1 == 0 })
	if n < 50 {
		t.Fatalf("only %d recordings taken out of the index: the test means little", n)
	}
	if u, err := a.Usage(t.Context()); err != nil || u.WhoQueue != n {
		t.Fatalf("usage: who queue %d, want %d (%v)", u.WhoQueue, n, err)
	}
	compareListFor(t, a, testUsers(), base)
	compareSearch(t, a, searchTexts(rng, fields, 60), []int{1, 4, 50})
	checkChain(t, a)

	// All of them pending, the index empty but for the unfinished.
	unindex(t, a, func(ID) bool { return true })
	compareListFor(t, a, testUsers(), base)
	compareSearch(t, a, searchTexts(rng, fields, 30), []int{2, 50})
	checkChain(t, a)

	checkWhoIndex(t, a) // indexes them all first
	unfinished := 0
	if err := a.view(func(tx kv.Tx) error { unfinished = tx.Bucket(bucketUnfinished).KeyN(); return nil }); err != nil {
		t.Fatal(err)
	}
	if n := pendingN(t, a); n != unfinished {
		t.Fatalf("%d recordings pending after indexing, %d unfinished", n, unfinished)
	}
	if u, err := a.Usage(t.Context()); err != nil || u.WhoQueue != 0 {
		t.Fatalf("usage: who queue %d after indexing (%v)", u.WhoQueue, err)
	}
}

// TestWhoIndexerRuns: a finished recording leaves bucketWhoPending by
// the indexer alone, with its keys written; an unfinished one stays
// pending and is listed for its owner; binning a pending recording takes
// it out.
func TestWhoIndexerRuns(t *testing.T) {
	clk := newClock()
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	u := &User{Login: "hedwig", Role: RoleUser}
	w, err := a.Create(ctx, NewRecording{User: "hedwig", FileName: "a.pcap", Received: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if n := pendingN(t, a); n != 1 {
		t.Fatalf("%d pending after Create", n)
	}
	if recs, _, err := a.ListFor(ctx, u, Query{}); err != nil || len(recs) != 1 || recs[0].ID != w.ID() {
		t.Fatalf("unfinished recording not listed for its owner: %v %v", recs, err)
	}
	if _, err := w.Finish(ctx, Final{State: StateComplete, StartTime: clk.Now().Add(-time.Minute), Parties: []string{"4711"}}); err != nil {
		t.Fatal(err)
	}
	// The indexer runs on its own: wait for it.
	for pendingN(t, a) != 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the indexer never took the finished recording")
		case <-time.After(5 * time.Millisecond):
		}
	}
	checkWhoIndex(t, a)
	party := &User{Login: "kurt", Role: RoleUser, Extensions: []string{"4711"}}
	for _, who := range []*User{u, party} {
		if recs, _, err := a.ListFor(ctx, who, Query{}); err != nil || len(recs) != 1 || recs[0].ID != w.ID() {
			t.Fatalf("%s: %v %v", who.Login, recs, err)
		}
	}

	// Binned while pending: out of the queue, and no keys.
	r := finishRec(t, a, NewRecording{User: "hedwig", Received: clk.Now()}, Final{State: StateComplete, StartTime: clk.Now()})
	unindex(t, a, func(id ID) bool { return id == r.ID })
	if err := a.Bin(ctx, r.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if n := pendingN(t, a); n != 0 {
		t.Fatalf("%d pending after binning", n)
	}
	recs, _, err := a.ListFor(ctx, u, Query{})
	if err != nil || !slices.ContainsFunc(recs, func(x *Recording) bool { return x.ID == w.ID() }) || slices.ContainsFunc(recs, func(x *Recording) bool { return x.ID == r.ID }) {
		t.Fatalf("after binning: %v %v", recs, err)
	}
	checkWhoIndex(t, a)
	checkChain(t, a)
}

// TestPendingWhoTakesLaterCDR: a CDR that arrives while its recording is
// pending finds it by text once indexed (the indexer reads the CDRs when
// it writes the keys).
func TestPendingWhoTakesLaterCDR(t *testing.T) {
	clk := newClock()
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	const guid = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	r := finishRec(t, a, NewRecording{User: "alice", CallGUID: guid, Received: clk.Now()}, Final{State: StateComplete, StartTime: clk.Now()})
	if err := a.indexWhoNow(ctx); err != nil {
		t.Fatal(err)
	}
	unindex(t, a, func(id ID) bool { return id == r.ID })
	if _, err := a.PutCDR(ctx, CDR{CallID: guid, Direction: CDRInbound, CallerNumber: "+4930555", AgentName: "Friedlinde Waage", StartTime: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if ids := listText(t, a, "friedlinde"); len(ids) != 1 || ids[0] != r.ID {
		t.Fatalf("pending: %v", ids)
	}
	if err := a.indexWhoNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n := pendingN(t, a); n != 0 {
		t.Fatalf("%d pending", n)
	}
	if ids := listText(t, a, "friedlinde"); len(ids) != 1 || ids[0] != r.ID {
		t.Fatalf("indexed: %v", ids)
	}
	// The index check counts the CDR's terms too.
	checkChain(t, a)
}
