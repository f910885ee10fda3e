package archive

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

func TestNotes(t *testing.T) {
	clk := newClock()
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	r := record(t, a, NewRecording{}, data(100, 1), nil, Final{})
	other := record(t, a, NewRecording{}, data(100, 2), nil, Final{})
	if _, err := a.AddNote(ctx, ID{1}, "alice", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("note on unknown recording: %v", err)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", MaxNoteText+1), "bad\xff", "nul\x00"} {
		if _, err := a.AddNote(ctx, r.ID, "alice", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("text %.10q: %v", bad, err)
		}
	}
	n1, err := a.AddNote(ctx, r.ID, "alice", "  Kunde ruft zurück – Æøå ĄČĘ  ")
	if err != nil {
		t.Fatal(err)
	}
	if n1.Text != "Kunde ruft zurück – Æøå ĄČĘ" || n1.Author != "alice" || n1.Recording != r.ID || !n1.Created.Equal(clk.Now()) || !n1.Updated.Equal(n1.Created) {
		t.Fatalf("note %+v", n1)
	}
	clk.Add(time.Minute)
	n2, err := a.AddNote(ctx, r.ID, "bob", "second")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddNote(ctx, other.ID, "bob", "on the other recording"); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	e, err := a.EditNote(ctx, r.ID, n1.ID, "edited")
	if err != nil || e.Text != "edited" || !e.Updated.Equal(clk.Now()) || !e.Created.Equal(n1.Created) || e.Author != "alice" {
		t.Fatalf("edit: %v %+v", err, e)
	}
	if _, err := a.EditNote(ctx, other.ID, n1.ID, "wrong recording"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("edit via another recording: %v", err)
	}
	notes, err := a.Notes(ctx, r.ID)
	if err != nil || len(notes) != 2 || notes[0].ID != n1.ID || notes[0].Text != "edited" || notes[1].ID != n2.ID {
		t.Fatalf("notes: %v %+v", err, notes)
	}
	if got, err := a.Note(ctx, r.ID, n2.ID); err != nil || got.Text != "second" {
		t.Fatalf("note: %v %+v", err, got)
	}
	if err := a.DeleteNote(ctx, r.ID, n2.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteNote(ctx, r.ID, n2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("double delete: %v", err)
	}
	if notes, _ := a.Notes(ctx, r.ID); len(notes) != 1 {
		t.Fatalf("after delete: %+v", notes)
	}
	if notes, _ := a.Notes(ctx, other.ID); len(notes) != 1 {
		t.Fatalf("other recording: %+v", notes)
	}
	// Notes are not part of the seal: adding one keeps a sealed recording valid.
	if err := a.Seal(ctx, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddNote(ctx, r.ID, "alice", "after sealing"); err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, a, r.ID); !res.Valid {
		t.Fatal(res.Problems)
	}
}

// TestNotesCryptoShredded deletes a recording and checks that its notes
// went with it: not in the file in the clear before, gone from the live
// file after, and a note value put back from an earlier copy cannot be
// read, because the recording's data key is gone.
func TestNotesCryptoShredded(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	r := record(t, a, NewRecording{}, data(100, 1), nil, Final{})
	n, err := a.AddNote(ctx, r.ID, "alice", "zz-unique-note-text")
	if err != nil {
		t.Fatal(err)
	}
	path := a.Path()
	var saved []byte
	a = withBolt(t, a, func(tx kv.Tx) error {
		saved = bytes.Clone(tx.Bucket(bucketNotes).Get(noteKey(r.ID, n.ID)))
		return nil
	})
	if saved == nil {
		t.Fatal("note not stored")
	}
	if err := a.Delete(ctx, r.ID, "admin", "retention"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Notes(ctx, r.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("notes after delete: %v", err)
	}
	a = withBolt(t, a, func(tx kv.Tx) error {
		if k, _ := tx.Bucket(bucketNotes).Cursor().Seek(r.ID[:]); k != nil && bytes.HasPrefix(k, r.ID[:]) {
			t.Error("note left in the live file")
		}
		return tx.Bucket(bucketNotes).Put(noteKey(r.ID, n.ID), saved)
	})
	if _, err := a.Note(ctx, r.ID, n.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restored note value readable: %v", err)
	}
	// Not even with the archive's remaining keys: the note key derives from
	// the destroyed data key only.
	for _, aead := range []cipher.AEAD{a.keys.state, a.keys.wrap} {
		if _, err := boxOpen(aead, boxAAD(aadRecNote, noteKey(r.ID, n.ID)), saved); err == nil {
			t.Fatal("note opens without the data key")
		}
	}
	a.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("zz-unique-note-text")) {
		t.Fatal("note text in the file in the clear")
	}
}

// TestMayChangeNote: a note's author (the login exactly as it wrote the
// note) and admins may change it; nobody else, not a login that differs
// only in case (logins are case-sensitive), and no one without a user.
func TestMayChangeNote(t *testing.T) {
	n := &Note{Author: "alice"}
	for _, c := range []struct {
		u    *User
		want bool
	}{
		{&User{Login: "alice", Role: RoleUser}, true},
		{&User{Login: "root", Role: RoleAdmin}, true},
		{&User{Login: "Alice", Role: RoleUser}, false},
		{&User{Login: "ALICE", Role: RoleSupervisor}, false},
		{&User{Login: "bob", Role: RoleSupervisor}, false},
		{nil, false},
	} {
		if got := MayChangeNote(c.u, n); got != c.want {
			t.Errorf("MayChangeNote(%+v) = %t, want %t", c.u, got, c.want)
		}
	}
	if MayChangeNote(&User{Login: "root", Role: RoleAdmin}, nil) {
		t.Error("a missing note may be changed")
	}
}
