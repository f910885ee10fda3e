package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// partyMemo keeps, per recording, what the list's party column shows of
// it (from its decrypted info and CDRs), so sorting by party decrypts
// only the recordings new or changed since the last sort (the list
// index's Version tells). It lives in memory only, and is dropped when
// the users change (a call's direction depends on its owner's
// extensions).
type partyMemo struct {
	mu    sync.Mutex
	users string // the users the entries were made with
	m     map[archive.ID]segParty
}

// segParty is one recording's share of a call's party column.
type segParty struct {
	version uint64
	with    string   // webcore.With
	parties []string // the file name's parties, when no call names one
}

// usersStamp is what of the users the party column depends on.
func usersStamp(users map[string]*archive.User) string {
	var b strings.Builder
	keys := make([]string, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k)
		for _, x := range users[k].Extensions {
			b.WriteString("\x00" + x)
		}
		b.WriteString("\x01")
	}
	return b.String()
}

// partyKeys sets the party sort key of calls (segments by es' IDs),
// reading the recordings the memo does not hold at their version.
//
// es is every listed recording when all is true: then the memo forgets
// the recordings no longer listed.
func (u *UI) partyKeys(ctx context.Context, calls []indexCall, es []archive.ListEntry, all bool, users map[string]*archive.User) error {
	vers := make(map[archive.ID]uint64, len(es))
	for _, e := range es {
		vers[e.ID] = e.Version
	}
	stamp := usersStamp(users)
	pm := &u.party
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.m == nil || pm.users != stamp {
		pm.m, pm.users = map[archive.ID]segParty{}, stamp
	}
	for i := range calls {
		c := &calls[i]
		var withs, ps []string
		for _, id := range c.ids {
			sp, ok := pm.m[id]
			if !ok || sp.version != vers[id] {
				rec, err := u.arc.Get(ctx, id)
				if errors.Is(err, archive.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				in := recinfo.ParseLenient(rec.Info)
				d := webcore.Direction(rec, in, users[strings.ToLower(rec.User)])
				sp = segParty{version: vers[id], with: webcore.With(rec, in, d), parties: rec.Parties}
				pm.m[id] = sp
			}
			if sp.with != "" && !containsStr(withs, sp.with) {
				withs = append(withs, sp.with)
			}
			for _, x := range sp.parties {
				if x != "" && !containsStr(ps, x) {
					ps = append(ps, x)
				}
			}
		}
		with := strings.Join(withs, "; ")
		if with == "" {
			with = strings.Join(ps, ", ")
		}
		c.withKey = strings.ToLower(with)
	}
	// Forget what is no longer listed.
	if all && len(pm.m) > len(vers) {
		for id := range pm.m {
			if _, ok := vers[id]; !ok {
				delete(pm.m, id)
			}
		}
	}
	return nil
}
