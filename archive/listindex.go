package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// The list index is what the recordings list sorts, counts and groups on
// without decrypting every recording per request: for each listed
// recording (in the time index, not in the recycle bin) its time key,
// length, owner, call GUID and parties. It lives in memory only (FORMAT.md:
// nothing personal is written in the clear), is filled by one List scan
// on first use, and stays current by re-reading, after each committed
// write, the recordings that write touched (listTouchTx).
type listIndex struct {
	mu    sync.Mutex
	built bool
	byID  map[ID]*listEntry
	users map[string]string // owners' logins, interned
	calls map[string]int    // call GUID → listed recordings with it
	// multi are the call GUIDs of several listed recordings; replaced,
	// never changed in place.
	multi map[string]struct{}
	// ncalls is how many calls the listed recordings make.
	ncalls int
	// sorted is newest first by time key; replaced, never changed in
	// place, so a reader's copy of the slice stays valid.
	sorted []*listEntry
	// building is closed when the scan that fills the index ends.
	building chan struct{}
	// dirty are recordings written since they were last read.
	dirty map[ID]struct{}
	// resets counts listReset calls: a scan under way when one comes
	// is not used.
	resets int
}

type listEntry struct {
	tk         [timeKeyLen]byte // its time (StartTime, else Received) and ID
	durationMs int64
	version    uint64
	user       string
	callGUID   string
	parties    []string
}

// ListEntry is one listed recording as the list index holds it.
type ListEntry struct {
	ID         ID
	Time       time.Time // StartTime, else Received (the time index's order)
	DurationMs int64
	User       string
	CallGUID   string
	// Version changes whenever the recording's metadata or CDRs change.
	Version uint64
	// Shared: another listed recording has the same CallGUID (the call
	// was recorded in several segments).
	Shared bool
}

// listVersions numbers the list index's entries as they are read.
var listVersions atomic.Uint64

// listTouchTx marks id for re-reading into the list index once tx commits.
func (a *Archive) listTouchTx(tx kv.Tx, id ID) {
	tx.OnCommit(func() { a.listTouch(id) })
}

// listTouch marks ids for re-reading into the list index.
func (a *Archive) listTouch(ids ...ID) {
	a.lidx.mu.Lock()
	if a.lidx.dirty == nil {
		a.lidx.dirty = map[ID]struct{}{}
	}
	for _, id := range ids {
		a.lidx.dirty[id] = struct{}{}
	}
	a.lidx.mu.Unlock()
}

// listReset makes the list index scan the archive again on its next
// use (other daemons' changes that this one cannot follow key by key).
func (a *Archive) listReset() {
	a.lidx.mu.Lock()
	a.lidx.resets++
	a.lidx.built, a.lidx.dirty = false, nil
	a.lidx.mu.Unlock()
}

// newListEntry is r's entry; users interns the owners' logins.
func newListEntry(r *Recording, users map[string]string) *listEntry {
	at := r.StartTime
	if at.IsZero() {
		at = r.Received
	}
	user, ok := users[r.User]
	if !ok {
		user = r.User
		users[user] = user
	}
	return &listEntry{
		tk: timeKey(nsOf(at), r.ID), durationMs: r.DurationMs, version: listVersions.Add(1),
		user: user, callGUID: r.CallGUID, parties: slices.Clip(r.Parties),
	}
}

func (e *listEntry) id() ID { return ID(e.tk[8:]) }

func (e *listEntry) at() time.Time {
	return timeOf(int64(binary.BigEndian.Uint64(e.tk[:8]) ^ (1 << 63)))
}

func cmpEntries(a, b *listEntry) int { return bytes.Compare(b.tk[:], a.tk[:]) }

// listSnapshot returns the index's entries newest first, building it on
// first use (Open starts that in the background) and re-reading the
// recordings written since the last call.
func (a *Archive) listSnapshot(ctx context.Context) ([]*listEntry, map[string]struct{}, error) {
	if err := a.syncFeed(ctx); err != nil { // other daemons' commits (feed.go)
		return nil, nil, err
	}
	x := &a.lidx
	x.mu.Lock()
	for !x.built {
		if ch := x.building; ch != nil { // one scan at a time: wait for it
			x.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			x.mu.Lock()
			continue
		}
		ch := make(chan struct{})
		x.building = ch
		x.dirty = nil // the scan below sees every commit before it starts
		resets := x.resets
		x.mu.Unlock()
		byID, users := map[ID]*listEntry{}, map[string]string{}
		for cursor := ""; ; {
			page, next, err := a.List(ctx, Query{Limit: 10000, Cursor: cursor})
			if err != nil {
				x.mu.Lock()
				x.building = nil
				close(ch)
				x.mu.Unlock()
				return nil, nil, err
			}
			for _, r := range page {
				byID[r.ID] = newListEntry(r, users)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		x.mu.Lock()
		x.building = nil
		close(ch)
		if x.resets != resets {
			continue // scan again
		}
		x.byID, x.users, x.built = byID, users, true
		x.sorted = make([]*listEntry, 0, len(byID))
		x.calls = map[string]int{}
		for _, e := range byID {
			x.sorted = append(x.sorted, e)
			x.countCall(e, 1)
		}
		x.remulti()
		slices.SortFunc(x.sorted, cmpEntries)
	}
	defer x.mu.Unlock()
	if len(x.dirty) > 0 {
		if err := a.listReload(x); err != nil {
			return nil, nil, err
		}
	}
	return x.sorted, x.multi, nil
}

// countCall adds n to e's call's count of listed recordings (x.mu held)
// and reports whether the call's being in multi changed.
func (x *listIndex) countCall(e *listEntry, n int) bool {
	if e.callGUID == "" {
		return false
	}
	was := x.calls[e.callGUID]
	if c := was + n; c > 0 {
		x.calls[e.callGUID] = c
	} else {
		delete(x.calls, e.callGUID)
	}
	return (was > 1) != (x.calls[e.callGUID] > 1)
}

// remulti makes x.multi anew from x.calls (x.mu held).
func (x *listIndex) remulti() {
	x.multi = map[string]struct{}{}
	for g, c := range x.calls {
		if c > 1 {
			x.multi[g] = struct{}{}
		}
	}
	x.countCalls()
}

// countCalls sets x.ncalls (x.mu held).
func (x *listIndex) countCalls() {
	x.ncalls = len(x.sorted)
	for g := range x.multi {
		x.ncalls -= x.calls[g] - 1
	}
}

// CountListed returns how many calls (listed recordings, those of one
// CallGUID counted once) u may read (MayRead), from the list index.
func (a *Archive) CountListed(ctx context.Context, u *User) (int, error) {
	if u != nil && !u.Disabled && u.Role == RoleAdmin {
		if _, _, err := a.listSnapshot(ctx); err != nil {
			return 0, err
		}
		a.lidx.mu.Lock()
		defer a.lidx.mu.Unlock()
		return a.lidx.ncalls, nil
	}
	es, err := a.Listing(ctx, u, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	seen := map[string]struct{}{}
	for _, e := range es {
		if !e.Shared {
			n++
		} else if _, ok := seen[e.CallGUID]; !ok {
			seen[e.CallGUID] = struct{}{}
			n++
		}
	}
	return n, nil
}

// listReload re-reads x's dirty recordings (x.mu held).
func (a *Archive) listReload(x *listIndex) error {
	got := map[ID]*listEntry{}
	err := a.view(func(tx kv.Tx) error {
		for id := range x.dirty {
			m, err := a.listedMetaTx(tx, id[:])
			if err != nil && !errors.Is(err, ErrNotFound) {
				a.log.Error("archive list index: unreadable recording left out", "id", id.String(), "err", err)
			}
			if err != nil || m == nil {
				got[id] = nil
				continue
			}
			got[id] = newListEntry(m.recording(id, nil), x.users)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: list index: %w", err)
	}
	sorted := make([]*listEntry, 0, len(x.sorted)+len(got))
	for _, e := range x.sorted {
		if _, ok := got[e.id()]; !ok {
			sorted = append(sorted, e)
		}
	}
	changed := false
	var added []*listEntry
	for id, e := range got {
		if old := x.byID[id]; old != nil {
			changed = x.countCall(old, -1) || changed
		}
		if e == nil {
			delete(x.byID, id)
			continue
		}
		x.byID[id] = e
		changed = x.countCall(e, 1) || changed
		added = append(added, e)
	}
	if len(added) > 64 { // many writes since the last view: sort once
		sorted = append(sorted, added...)
		slices.SortFunc(sorted, cmpEntries)
	} else {
		for _, e := range added {
			i, _ := slices.BinarySearchFunc(sorted, e, cmpEntries)
			sorted = slices.Insert(sorted, i, e)
		}
	}
	x.sorted, x.dirty = sorted, nil
	if changed {
		x.remulti()
	} else {
		x.countCalls()
	}
	return nil
}

// Listing returns, newest first, the listed recordings u may read
// (MayRead) that keep (nil = all) accepts, from the list index: no
// recording is decrypted. keep sees a Recording with only ID, StartTime,
// DurationMs, User, CallGUID and Parties set, valid during the call. For
// a user who is not an admin, the candidates come from the who index, as
// in ListFor.
func (a *Archive) Listing(ctx context.Context, u *User, keep func(*Recording) bool) ([]ListEntry, error) {
	if u == nil || u.Disabled || (u.Role != RoleAdmin && u.Role != RoleUser && u.Role != RoleSupervisor) {
		return nil, nil
	}
	all, multi, err := a.listSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	cands := all
	if u.Role != RoleAdmin {
		if cands, err = a.listCandidates(u, all); err != nil {
			return nil, err
		}
	}
	out := make([]ListEntry, 0, len(cands))
	var r Recording
	for _, e := range cands {
		r = Recording{ID: e.id(), StartTime: e.at(), DurationMs: e.durationMs, User: e.user, CallGUID: e.callGUID, Parties: e.parties}
		if !MayRead(u, &r) || keep != nil && !keep(&r) {
			continue
		}
		le := ListEntry{ID: r.ID, Time: r.StartTime, DurationMs: e.durationMs, User: e.user, CallGUID: e.callGUID, Version: e.version}
		if e.callGUID != "" {
			_, le.Shared = multi[e.callGUID]
		}
		out = append(out, le)
	}
	return out, ctx.Err()
}

// listCandidates narrows all (newest first) to the recordings under u's
// who-index terms; all when the who index is not ready.
func (a *Archive) listCandidates(u *User, all []*listEntry) ([]*listEntry, error) {
	var tks [][timeKeyLen]byte
	err := a.view(func(tx kv.Tx) error {
		if !whoReady(tx) {
			tks = nil
			return errWhoNotReady
		}
		prefixes, owners := a.whoPrefixes(u)
		next := newWhoMerge(tx, prefixes, owners, nil, nil).next
		for k, ok := next(); ok; k, ok = next() {
			tks = append(tks, k)
		}
		return nil
	})
	if errors.Is(err, errWhoNotReady) {
		return all, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: list index: %w", err)
	}
	var out []*listEntry
	for _, tk := range tks {
		if i, ok := slices.BinarySearchFunc(all, tk, func(e *listEntry, k [timeKeyLen]byte) int {
			return cmp.Compare(0, bytes.Compare(e.tk[:], k[:]))
		}); ok {
			out = append(out, all[i])
		}
	}
	return out, nil
}

var errWhoNotReady = errors.New("who index not ready")
