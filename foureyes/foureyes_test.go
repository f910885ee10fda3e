package foureyes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// newAccess returns 4-eyes state over an archive with alice (supervised
// by sam) and sam.
func newAccess(t *testing.T) (*Access, *archive.User, *archive.User) {
	t.Helper()
	arc := archivetest.OpenTest(t)
	alice := &archive.User{Login: "alice", Role: archive.RoleUser, Supervisor: "sam"}
	sam := &archive.User{Login: "sam", Role: archive.RoleSupervisor}
	for _, u := range []*archive.User{alice, sam} {
		if err := arc.PutUser(context.Background(), *u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	f := New(arc, Options{}, nil)
	t.Cleanup(f.Close)
	return f, alice, sam
}

// TestBindEndsWithGrant: a request bound to a grant loses its context and
// its writer when the supervisor ends the grant; without a grant Bind
// refuses, and for a user not under 4-eyes access it changes nothing.
func TestBindEndsWithGrant(t *testing.T) {
	f, alice, sam := newAccess(t)
	ctx := context.Background()
	r := httptest.NewRequest("GET", "/", nil)
	if _, _, _, ok := f.Bind(httptest.NewRecorder(), r, alice); ok {
		t.Fatal("bound without a grant")
	}
	w0 := httptest.NewRecorder()
	if w, r2, release, ok := f.Bind(w0, r, sam); !ok || w != http.ResponseWriter(w0) || r2 != r {
		t.Fatal("a user not under 4-eyes access was bound")
	} else {
		release()
	}

	p, err := f.Join("sam", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Leave(p)
	if err := f.Grant(ctx, sam, "alice", "127.0.0.1"); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("grant without a request: %v", err)
	}
	if _, err := f.Request(ctx, alice, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Grant(ctx, sam, "alice", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	w, r2, release, ok := f.Bind(httptest.NewRecorder(), r, alice)
	if !ok {
		t.Fatal("not bound under a grant")
	}
	defer release()
	if _, err := w.Write([]byte("audio")); err != nil {
		t.Fatalf("write under the grant: %v", err)
	}
	if err := f.End(ctx, sam, "alice", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	<-r2.Context().Done()
	if _, err := w.Write([]byte("audio")); !errors.Is(err, errGrantEnded) {
		t.Fatalf("write after the grant ended: %v", err)
	}
	if st, _ := f.Status(alice); st.State != Ended || st.Reason != ReasonEnded {
		t.Fatalf("status %+v", st)
	}
}

// TestEvents: a stream starts with its retry hint, and a state event is
// written only when it differs from the last.
func TestEvents(t *testing.T) {
	w := httptest.NewRecorder()
	es, err := StartEvents(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "a", "b"} {
		if err := es.SendState(map[string]string{"state": v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := es.Comment("ping"); err != nil {
		t.Fatal(err)
	}
	want := "retry: 1000\n\nevent: state\ndata: {\"state\":\"a\"}\n\nevent: state\ndata: {\"state\":\"b\"}\n\n: ping\n\n"
	if got := w.Body.String(); got != want {
		t.Fatalf("stream:\n%q\nwant\n%q", got, want)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
}
