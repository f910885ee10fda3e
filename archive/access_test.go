package archive

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestMayRead(t *testing.T) {
	rec := func(user string, parties ...string) *Recording {
		return &Recording{User: user, Parties: parties}
	}
	alice := &User{Login: "alice", Role: RoleUser, Extensions: []string{"204"}}
	bob := &User{Login: "bob", Role: RoleUser, AccessList: []string{"alice", "+49 (89) 123-45"}}
	sup := &User{Login: "sup", Role: RoleSupervisor, AccessList: []string{"Carol"}}
	admin := &User{Login: "root", Role: RoleAdmin}
	ingest := &User{Login: "phones", Role: RoleIngest}
	disabledAdmin := &User{Login: "old", Role: RoleAdmin, Disabled: true}
	oddRole := &User{Login: "x", Role: "guest"}
	tests := []struct {
		name string
		u    *User
		r    *Recording
		want bool
	}{
		{"nil user", nil, rec("alice"), false},
		{"nil recording", admin, nil, false},
		{"admin any", admin, rec("zed"), true},
		{"admin no user", admin, rec(""), true},
		{"disabled admin", disabledAdmin, rec("old"), false},
		{"ingest own upload", ingest, rec("phones"), false},
		{"unknown role", oddRole, rec("x"), false},
		{"own", alice, rec("alice"), true},
		{"own case-insensitive", alice, rec("ALICE"), true},
		{"other", alice, rec("bob"), false},
		{"no user, no parties", alice, rec(""), false},
		{"empty login never matches empty user", &User{Login: "", Role: RoleUser}, rec(""), false},
		{"extension party", alice, rec("bob", "204"), true},
		{"extension in sip uri", alice, rec("", "sip:204@pbx.example;user=phone"), true},
		{"extension as substring does not match", alice, rec("", "2045"), false},
		{"access list user", bob, rec("alice"), true},
		{"access list user, case", sup, rec("carol"), true},
		{"access list number, formatted", bob, rec("", "+498912345"), true},
		{"access list number, tel uri", bob, rec("", "tel:+49-89-12345"), true},
		{"access list number, different", bob, rec("", "+498912346"), false},
		{"access list does not grant its entries' own lists", bob, rec("carol"), false},
		{"party name equals access entry", sup, rec("", "Carol"), true},
		{"names never match numerically", &User{Login: "n", Role: RoleUser, Extensions: []string{"a-b"}}, rec("", "a.b"), false},
		{"one digit matches only exactly", &User{Login: "n", Role: RoleUser, Extensions: []string{"7"}}, rec("", "(7)"), false},
		{"blank entries never match", &User{Login: "n", Role: RoleUser, Extensions: []string{" "}, AccessList: []string{""}}, rec("", " ", ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MayRead(tc.u, tc.r); got != tc.want {
				t.Fatalf("MayRead = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPartiesStoredAndSealed(t *testing.T) {
	a := OpenTest(t)
	parties := []string{"+4989123", "Jürgen Ämmälä", "204"}
	r := record(t, a, NewRecording{}, data(1000, 1), data(100, 2), Final{Parties: parties})
	got, err := a.Get(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Parties, parties) {
		t.Fatalf("parties %q", got.Parties)
	}
	// The parties are part of the sealed core metadata.
	without := *got
	without.Parties = nil
	if got.MetaSHA256() == without.MetaSHA256() {
		t.Fatal("parties not covered by the core metadata hash")
	}
	if !strings.Contains(string(got.CoreMetadata()), "Jürgen Ämmälä") {
		t.Fatal("core metadata lacks the parties")
	}
	if err := a.Seal(t.Context(), r.ID, nil); err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, a, r.ID); !res.Valid {
		t.Fatal(res.Problems)
	}
	// Limits.
	w, err := a.Create(t.Context(), NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(t.Context(), Final{State: StateComplete, Parties: make([]string, MaxParties+1)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("too many parties: %v", err)
	}
}

// FuzzMayRead feeds party strings from captures and access-list entries
// through the matcher: no panic, and a match by number is symmetric.
func FuzzMayRead(f *testing.F) {
	f.Add("sip:204@pbx.example", "204")
	f.Add("+49 (89) 123-45", "tel:+498912345")
	f.Add("Jürgen", "jürgen")
	f.Fuzz(func(t *testing.T, party, entry string) {
		u := &User{Login: "u", Role: RoleUser, Extensions: []string{entry}}
		got := MayRead(u, &Recording{Parties: []string{party}})
		back := MayRead(&User{Login: "u", Role: RoleUser, Extensions: []string{party}}, &Recording{Parties: []string{entry}})
		if k := partyKey(party); k != "" && k == partyKey(entry) && (!got || !back) {
			t.Fatalf("number match not symmetric: %q %q", party, entry)
		}
	})
}
