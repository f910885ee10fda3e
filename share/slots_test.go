package share

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/slotfile"
)

// grantKeys captures each new grant's key, raw and wrapped, by grant id.
type grantKeys struct {
	mu   sync.Mutex
	raw  map[string][]byte
	wrap map[string][]byte
}

func captureKeys(s *Service) *grantKeys {
	k := &grantKeys{raw: map[string][]byte{}, wrap: map[string][]byte{}}
	s.keyHook = func(gid, key, wrapped []byte) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.raw[hex.EncodeToString(gid)] = bytes.Clone(key)
		k.wrap[hex.EncodeToString(gid)] = bytes.Clone(wrapped)
	}
	return k
}

func (k *grantKeys) of(t *testing.T, id string) (raw, wrapped []byte) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.raw[id] == nil {
		t.Fatalf("no key captured for grant %s", id)
	}
	return k.raw[id], k.wrap[id]
}

// onlyGrant returns the id of the one grant captured (a Send that did not
// return one).
func (k *grantKeys) onlyGrant(t *testing.T) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.raw) != 1 {
		t.Fatalf("%d keys captured, want 1", len(k.raw))
	}
	for id := range k.raw {
		return id
	}
	return ""
}

// files returns share.db and its grant-key file as they are on disk.
func (e *env) files(t *testing.T) (db, gkeys []byte) {
	t.Helper()
	db, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	gkeys, err = os.ReadFile(KeyFile(e.path))
	if err != nil {
		t.Fatal(err)
	}
	return db, gkeys
}

// holdsKey reports whether either file holds the key, raw or wrapped, or
// a 16-byte piece of either.
func holdsKey(files [][]byte, raw, wrapped []byte) string {
	for i, f := range files {
		name := []string{"share.db", "share.db.gkeys"}[i]
		for _, k := range []struct {
			what string
			b    []byte
		}{{"raw key", raw}, {"wrapped key", wrapped}} {
			for off := 0; off+16 <= len(k.b); off += 16 {
				if bytes.Contains(f, k.b[off:off+16]) {
					return name + " holds the " + k.what
				}
			}
		}
	}
	return ""
}

// nonZeroSlots counts the slots of a grant-key file that hold a key.
func nonZeroSlots(t *testing.T, gkeys []byte) int {
	t.Helper()
	if !bytes.HasPrefix(gkeys, []byte(gslotMagic)) || len(gkeys)%gslotSize != 0 {
		t.Fatalf("grant-key file of %d bytes, header %q", len(gkeys), gkeys[:min(len(gkeys), 32)])
	}
	n := 0
	for off := gslotSize; off < len(gkeys); off += gslotSize {
		if !slotfile.IsZero(gkeys[off : off+gslotSize]) {
			n++
		}
	}
	return n
}

// sendAdmin sends as the admin, who may read every recording.
func (e *env) sendAdmin(t *testing.T, req SendRequest) *Grant {
	t.Helper()
	g, err := e.svc.Send(context.Background(), e.users["admin"], "", req)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// reopen closes the service as a crash would leave it (the files as they
// are) and opens it again behind a new server.
func (e *env) reopen(t *testing.T) {
	t.Helper()
	e.srv.Close()
	e.svc.Close()
	svc, err := Open(e.arc, patternMedia{}, Options{Path: e.path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	svc.SetURLs(srv.URL, "https://vault.example")
	svc.SetMailer(e.kicks)
	e.svc, e.srv = svc, srv
	t.Cleanup(func() { srv.Close(); svc.Close() })
}

// plays logs a new visitor in on token and checks the link lists want
// recordings and plays the first one's audio in full. With no want, the
// link has nothing left to play: a code request mails nothing.
func (e *env) plays(t *testing.T, token string, want ...*archive.Recording) {
	t.Helper()
	v := e.visitor(token)
	if len(want) == 0 {
		v.want(http.StatusAccepted, "POST", "/api/code", "")
		if ms := e.deliver(); len(ms) != 0 {
			t.Fatalf("a link with nothing to play mailed a code: %+v", ms)
		}
		return
	}
	v.login()
	l := v.recordings()
	if len(l.Recordings) != len(want) {
		t.Fatalf("%d recordings listed, want %d", len(l.Recordings), len(want))
	}
	got := v.want(http.StatusOK, "GET", "/audio/"+want[0].ID.String(), "")
	if !bytes.Equal(got, renderWAV(t, want[0])) {
		t.Fatalf("audio of %d bytes differs from the recording's", len(got))
	}
}

// TestDestroyedGrantKeyGone: after expiry and after cancel, neither
// share.db nor the grant-key file holds the destroyed grant's key, raw or
// wrapped — a copy of both files and the archive key recover nothing —
// while the other grant's key stays and plays. Before the destroy the
// search finds the wrapped key in the slot file (it is not blind).
func TestDestroyedGrantKeyGone(t *testing.T) {
	for _, how := range []string{"expire", "cancel"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, Options{})
			keys := captureKeys(e.svc)
			ctx := context.Background()
			gone := e.send(e.request(recipEmail, 0, e.recs[0]))
			tok := e.linkOf(e.deliver()[0])
			kept := e.send(e.request("other@customer.example", 5, e.recs[1]))
			tokKept := e.linkOf(e.deliver()[0])
			raw, wrapped := keys.of(t, gone.ID)
			keptRaw, keptWrapped := keys.of(t, kept.ID)
			db, gk := e.files(t)
			if !bytes.Contains(gk, wrapped) || !bytes.Contains(gk, keptWrapped) {
				t.Fatal("the grant-key file does not hold the wrapped keys")
			}
			if bytes.Contains(db, wrapped[12:28]) || bytes.Contains(db, raw[:16]) {
				t.Fatal("share.db holds a grant key")
			}
			e.plays(t, tok, e.recs[0])
			switch how {
			case "expire":
				e.clock.Add(15 * time.Hour) // past 23:59:59 in Oslo
				if n, err := e.svc.Expire(ctx); err != nil || n != 1 {
					t.Fatalf("expired %d: %v", n, err)
				}
			case "cancel":
				if err := e.svc.Cancel(ctx, e.users["admin"], "", gone.ID); err != nil {
					t.Fatal(err)
				}
			}
			// Right after the destroy, with the store still open.
			db, gk = e.files(t)
			if s := holdsKey([][]byte{db, gk}, raw, wrapped); s != "" {
				t.Fatal("after " + how + ": " + s)
			}
			if n := nonZeroSlots(t, gk); n != 1 {
				t.Fatalf("%d slots hold a key, want 1", n)
			}
			if !bytes.Contains(gk, keptWrapped) || holdsKey([][]byte{db}, keptRaw, keptWrapped) != "" {
				t.Fatal("the kept grant's key is not (only) in its slot")
			}
			e.reopen(t)
			db, gk = e.files(t)
			if s := holdsKey([][]byte{db, gk}, raw, wrapped); s != "" {
				t.Fatal("after reopening: " + s)
			}
			e.plays(t, tok)
			e.plays(t, tokKept, e.recs[1])
			// The freed slot is reused by the next grant.
			size := len(gk)
			e.sendAdmin(t, e.request("third@customer.example", 1, e.recs[2]))
			if _, gk = e.files(t); len(gk) != size || nonZeroSlots(t, gk) != 2 {
				t.Fatalf("the grant-key file grew from %d to %d bytes, %d keys", size, len(gk), nonZeroSlots(t, gk))
			}
		})
	}
}

// TestGrantKeyCrashPoints stops a Send or a destroy at each point between
// the slot file and the bbolt commit, as a crash would, then reopens:
// no slot without a grant holds a key, the stopped grant is whole or
// gone, and the grant that was live all along still plays.
func TestGrantKeyCrashPoints(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		point string
		op    string // send, cancel, expire
		// after reopening: does the stopped grant play?
		plays bool
		// before reopening: does the slot file still hold its key?
		keyLeft bool
	}{
		{"send: key stored", "send", false, true},
		{"send: before commit", "send", false, false},
		{"destroy: before commit", "cancel", true, true},
		{"destroy: committed", "cancel", false, true},
		{"destroy: before commit", "expire", true, true},
		{"destroy: committed", "expire", false, true},
	} {
		t.Run(tc.op+"/"+tc.point, func(t *testing.T) {
			e := newEnv(t, Options{})
			keys := captureKeys(e.svc)
			live := e.sendAdmin(t, e.request("live@customer.example", 7, e.recs[2]))
			tokLive := e.linkOf(e.deliver()[0])
			var id, tok string
			if tc.op != "send" {
				g := e.send(e.request(recipEmail, 0, e.recs[0], e.recs[1]))
				id, tok = g.ID, e.linkOf(e.deliver()[0])
			}
			e.svc.crashHook = func(p string) bool { return p == tc.point }
			var err error
			switch tc.op {
			case "send":
				_, err = e.svc.Send(ctx, e.users["alice"], "", e.request(recipEmail, 0, e.recs[0], e.recs[1]))
				keys.mu.Lock()
				delete(keys.raw, live.ID)
				keys.mu.Unlock()
				id = keys.onlyGrant(t)
			case "cancel":
				err = e.svc.Cancel(ctx, e.users["admin"], "", id)
			case "expire":
				e.clock.Add(15 * time.Hour)
				_, err = e.svc.Expire(ctx)
			}
			if !errors.Is(err, errCrashed) {
				t.Fatalf("stopped at %q: %v", tc.point, err)
			}
			raw, wrapped := keys.of(t, id)
			_, gk := e.files(t)
			if bytes.Contains(gk, wrapped) != tc.keyLeft {
				t.Fatalf("before reopening, key in the slot file: %v, want %v", !tc.keyLeft, tc.keyLeft)
			}
			e.reopen(t)
			db, gk := e.files(t)
			liveSlots := 1
			if tc.plays {
				liveSlots = 2
			}
			if n := nonZeroSlots(t, gk); n != liveSlots {
				t.Fatalf("%d slots hold a key, want %d", n, liveSlots)
			}
			if tc.plays {
				if !bytes.Contains(gk, wrapped) {
					t.Fatal("the grant's key is gone")
				}
			} else if s := holdsKey([][]byte{db, gk}, raw, wrapped); s != "" {
				t.Fatal(s)
			}
			// No chunk outlives its key.
			n := 0
			e.svc.db.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bChunks).ForEach(func(k, _ []byte) error {
					if hex.EncodeToString(k[:idLen]) == id {
						n++
					}
					return nil
				})
			})
			if tc.plays != (n > 0) {
				t.Fatalf("%d chunks of the stopped grant left", n)
			}
			if tc.op == "send" {
				if ents, _ := e.svc.List(ctx, Query{Q: recipEmail}); len(ents) != 0 {
					t.Fatalf("the stopped send is logged: %+v", ents)
				}
			} else {
				if tc.plays && tc.op == "cancel" {
					e.plays(t, tok, e.recs[0], e.recs[1])
				} else {
					e.plays(t, tok) // cancelled, or past its end
				}
				ents, _ := e.svc.List(ctx, Query{Q: recipEmail})
				want := map[string]string{"cancel": StatusCancelled, "expire": StatusExpired}[tc.op]
				if tc.plays {
					want = StatusValid
					if tc.op == "expire" {
						want = StatusExpired // past its end, destroyed at the next Expire
					}
				}
				if len(ents) != 1 || ents[0].Status != want {
					t.Fatalf("log %+v, want status %s", ents, want)
				}
			}
			e.plays(t, tokLive, e.recs[2])
			if tc.op == "expire" && tc.plays {
				// The interrupted expiry is done by the next run.
				if n, err := e.svc.Expire(ctx); err != nil || n != 1 {
					t.Fatalf("expired %d: %v", n, err)
				}
				db, gk := e.files(t)
				if s := holdsKey([][]byte{db, gk}, raw, wrapped); s != "" {
					t.Fatal(s)
				}
			}
		})
	}
}

// TestGrantKeyFileMismatch: share.db whose slots the grant-key file does
// not hold is refused when the file is missing, too short or holds the
// keys of fewer than half the grants, and with another archive's key; a
// grant whose slot was zeroed (the file from an older copy) loses its
// copies, and the others keep playing.
func TestGrantKeyFileMismatch(t *testing.T) {
	e := newEnv(t, Options{})
	keys := captureKeys(e.svc)
	g := e.send(e.request(recipEmail, 3, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	e.send(e.request("other@customer.example", 3, e.recs[1]))
	tokOther := e.linkOf(e.deliver()[0])
	e.svc.Close()
	_, gk := e.files(t)

	os.Remove(KeyFile(e.path))
	if svc, err := Open(e.arc, patternMedia{}, Options{Path: e.path}, nil); err == nil {
		svc.Close()
		t.Fatal("opened without the grant-key file")
	} else if !strings.Contains(err.Error(), "missing") {
		t.Fatalf("error %v", err)
	}
	os.WriteFile(KeyFile(e.path), gk[:2*gslotSize], 0o600)
	if svc, err := Open(e.arc, patternMedia{}, Options{Path: e.path}, nil); err == nil {
		svc.Close()
		t.Fatal("opened with a short grant-key file")
	}

	// Another archive's key opens no slot reference: refused, nothing
	// destroyed.
	os.WriteFile(KeyFile(e.path), gk, 0o600)
	if svc, err := Open(archivetest.OpenTest(t), patternMedia{}, Options{Path: e.path}, nil); err == nil {
		svc.Close()
		t.Fatal("opened with another archive's key")
	} else if !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("error %v", err)
	}
	// A slot file that holds neither grant's key: refused.
	empty := bytes.Clone(gk[:gslotSize])
	empty = append(empty, make([]byte, len(gk)-gslotSize)...)
	os.WriteFile(KeyFile(e.path), empty, 0o600)
	if svc, err := Open(e.arc, patternMedia{}, Options{Path: e.path}, nil); err == nil {
		svc.Close()
		t.Fatal("opened with a grant-key file that holds no key")
	} else if !strings.Contains(err.Error(), "holds no key for 2 of the 2") {
		t.Fatalf("error %v", err)
	}

	_, wrapped := keys.of(t, g.ID)
	i := bytes.Index(gk, wrapped) - idLen
	clear(gk[i : i+gslotSize])
	os.WriteFile(KeyFile(e.path), gk, 0o600)
	e.reopen(t)
	e.plays(t, tok)
	e.plays(t, tokOther, e.recs[1])
	if ents, _ := e.svc.List(context.Background(), Query{Q: recipEmail}); len(ents) != 1 || ents[0].Status != StatusExpired {
		t.Fatalf("log %+v", ents)
	}
	if n := countChunks(t, e.svc); n != 2 {
		t.Fatalf("%d chunks, want the other grant's 2", n)
	}
}

// TestInlineKeysMoved: a store that kept wrapped keys in share.db (and has
// no grant-key file) gets them moved into slots at Open, and plays.
func TestInlineKeysMoved(t *testing.T) {
	e := newEnv(t, Options{})
	keys := captureKeys(e.svc)
	g := e.send(e.request(recipEmail, 3, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	_, wrapped := keys.of(t, g.ID)
	gid, _ := hex.DecodeString(g.ID)
	if err := e.svc.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bKeys).Put(gid, wrapped) }); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	os.Remove(KeyFile(e.path))
	e.reopen(t)
	_, gk := e.files(t)
	if nonZeroSlots(t, gk) != 1 || !bytes.Contains(gk, wrapped) {
		t.Fatal("the key is not in a slot")
	}
	e.plays(t, tok, e.recs[0])
}
