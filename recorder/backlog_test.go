package recorder

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/callvault/callvault/archive"
)

// TestSealBacklog stores recordings while sealing is off, then turns it on
// and seals the backlog; the seals carry the same export hashes an
// immediate seal would.
func TestSealBacklog(t *testing.T) {
	r, arc := openTestRecorder(t)
	ctx := t.Context()
	s, err := arc.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Sealing = false
	if err := arc.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	var ids []archive.ID
	for i := range 3 {
		name := fmt.Sprintf("f9e5956e47d460010630009033302a%02d-009033302ab1-11--alice.pcap", i)
		rec, err := r.Ingest(ctx, name, bytes.NewReader(makeCallPcap(testCall{seconds: 1})))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seal != nil {
			t.Fatal("sealed while sealing is off")
		}
		ids = append(ids, rec.ID)
	}
	if st := r.Stats(); st.Sealing != 0 {
		t.Fatalf("sealing counter %d", st.Sealing)
	}
	if n, err := r.SealBacklog(ctx); err != nil || n != 0 {
		t.Fatalf("backlog while off: %d %v", n, err)
	}
	if got := arc.Stats().SealBacklog; got != 3 {
		t.Fatalf("backlog %d", got)
	}
	s.Sealing = true
	if err := arc.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	n, err := r.SealBacklog(ctx)
	if err != nil || n != 3 {
		t.Fatalf("sealed %d: %v", n, err)
	}
	if got := arc.Stats().SealBacklog; got != 0 {
		t.Fatalf("backlog %d after sealing", got)
	}
	r.Wait() // the export hashes follow in their own chain entries
	for _, id := range ids {
		rec, err := arc.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := r.Exports(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seal == nil || !slices.Equal(rec.Seal.Exports, ex) || len(ex) != 1 {
			t.Fatalf("%s: seal %+v", id, rec.Seal)
		}
		res, err := arc.Verify(ctx, id, func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) })
		if err != nil || !res.Valid {
			t.Fatalf("%s: %v %+v", id, err, res)
		}
	}
}

func TestParties(t *testing.T) {
	a := &Analysis{Result: &Result{Calls: []Call{
		{From: Party{Name: " Jānis Bērziņš ", Number: "204"}, To: Party{Number: "+3716000000"}},
		{From: Party{Number: "204"}, To: Party{Name: "Åsa", Number: "bad\xff"}},
	}}}
	want := []string{"204", "Jānis Bērziņš", "+3716000000", "bad\uFFFD", "Åsa"}
	if got := a.parties(); !slices.Equal(got, want) {
		t.Fatalf("parties %q, want %q", got, want)
	}
	if (&Analysis{}).parties() != nil {
		t.Fatal("no result, parties")
	}
	many := &Analysis{Result: &Result{}}
	for i := range 100 {
		many.Result.Calls = append(many.Result.Calls, Call{From: Party{Number: fmt.Sprint(1000 + i)}})
	}
	if got := many.parties(); len(got) != archive.MaxParties {
		t.Fatalf("%d parties", len(got))
	}
}
