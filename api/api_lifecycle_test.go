package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// addRec stores one more finished recording of owner, started at start.
func (e *apiEnv) addRec(owner string, start time.Time) *archive.Recording {
	e.t.Helper()
	ctx := context.Background()
	w, err := e.arc.Create(ctx, archive.NewRecording{User: owner, Received: start})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("capture of " + owner)); err != nil {
		e.t.Fatal(err)
	}
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, Info: []byte(`{"version":1}`),
		Parties: []string{"+4930" + owner}})
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// patchUser sets fields of login as admin.
func (e *apiEnv) patchUser(login string, fields map[string]any) {
	e.t.Helper()
	e.want("admin", "PATCH", "/api/v1/users/"+login, fields, 200)
}

// gone reports whether rec was purged (its metadata is gone).
func (e *apiEnv) gone(rec *archive.Recording) bool {
	e.t.Helper()
	_, err := e.arc.Get(context.Background(), rec.ID)
	if err != nil && !errors.Is(err, archive.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err != nil
}

func (e *apiEnv) inBin(rec *archive.Recording) bool {
	e.t.Helper()
	got, err := e.arc.Get(context.Background(), rec.ID)
	return err == nil && !got.Binned.IsZero()
}

// TestAPIDeleteMatrix deletes recordings of alice as each kind of caller,
// under each deletion mode, protected and not: owner (alice), a reader
// who is not the owner (bob, whose access list names alice), someone who
// may not read it (carol) and an admin.
func TestAPIDeleteMatrix(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, mode := range []string{"recoverable", "permanent", "denied"} {
		for _, login := range []string{"admin", "alice", "bob", "carol"} {
			e.patchUser(login, map[string]any{"deletionMode": mode})
		}
		for _, protected := range []bool{false, true} {
			for _, caller := range []string{"carol", "bob", "alice", "admin"} {
				name := fmt.Sprintf("%s/protected=%t/%s", mode, protected, caller)
				rec := e.addRec("alice", start)
				if protected {
					if err := e.arc.SetProtected(ctx, rec.ID, true); err != nil {
						t.Fatal(err)
					}
				}
				path := "/api/v1/recordings/" + rec.ID.String()
				resp, body := e.call(caller, "DELETE", path, nil)
				want, result := 200, map[string]string{"recoverable": "binned", "permanent": "purged"}[mode]
				switch {
				case caller == "carol":
					want = 404
				case caller == "bob" || mode == "denied":
					want = 403
				case protected:
					want = 409
				}
				if resp.StatusCode != want {
					t.Errorf("%s: %d, want %d: %s", name, resp.StatusCode, want, body)
					continue
				}
				switch {
				case want == 200 && result == "binned":
					if !strings.Contains(body, `"result": "binned"`) || !strings.Contains(body, `"purgeDate"`) || !e.inBin(rec) {
						t.Errorf("%s: not binned: %s", name, body)
					}
				case want == 200:
					if !strings.Contains(body, `"result": "purged"`) || !e.gone(rec) {
						t.Errorf("%s: not purged: %s", name, body)
					}
				default:
					if e.gone(rec) || e.inBin(rec) {
						t.Errorf("%s: refused with %d, but the recording was removed", name, want)
					}
				}
				if want == 403 && mode == "denied" && caller != "bob" && !strings.Contains(body, "may not delete recordings") {
					t.Errorf("%s: message %s", name, body)
				}
				if want == 409 && !strings.Contains(body, "protected") {
					t.Errorf("%s: message %s", name, body)
				}
			}
		}
	}
	// A recording in the bin is not found for DELETE (the bin's own purge
	// removes it), nor is a guessed id.
	e.patchUser("alice", map[string]any{"deletionMode": "recoverable"})
	rec := e.addRec("alice", start)
	e.want("alice", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 200)
	e.want("alice", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 404)
	e.want("admin", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 404)
	e.want("admin", "DELETE", "/api/v1/recordings/0123456789abcdef0123456789abcdef", nil, 404)
	e.want("admin", "DELETE", "/api/v1/recordings/nothex", nil, 404)
	e.want("", "DELETE", "/api/v1/recordings/"+e.recs["alice"].ID.String(), nil, 401)

	// Every outcome is in the audit log: done, and refused to readers.
	var ok, refused int
	for _, ev := range e.audited("recording.delete") {
		if ev.OK {
			ok++
		} else {
			refused++
			if !strings.HasPrefix(ev.Detail, "refused: ") {
				t.Errorf("refusal detail %q", ev.Detail)
			}
		}
	}
	// Done: recoverable and permanent, unprotected, by alice and admin (4),
	// plus the one above. Refused: bob 6 times, alice and admin when denied
	// (4) or protected (4).
	if ok != 5 || refused != 14 {
		t.Errorf("audit: %d deletes, %d refusals; want 5 and 14", ok, refused)
	}
}

func TestAPIProtect(t *testing.T) {
	e := newAPIEnv(t)
	rec := e.recs["alice"]
	path := "/api/v1/recordings/" + rec.ID.String() + "/protect"
	for _, method := range []string{"PUT", "DELETE"} {
		e.want("carol", method, path, nil, 404) // may not read it
		e.want("bob", method, path, nil, 403)   // reads it, no right
		e.want("alice", method, path, nil, 403) // owner, no right
		e.want("sup", method, path, nil, 404)   // reads nothing
		e.want("", method, path, nil, 401)      // anonymous
		e.want("admin", method, "/api/v1/recordings/0123456789abcdef0123456789abcdef/protect", nil, 404)
	}
	body := e.want("admin", "PUT", path, nil, 200, `"protected": true`)
	if strings.Contains(body, "deletionDate") {
		t.Errorf("a protected recording has a deletion date: %s", body)
	}
	e.want("admin", "PUT", path, nil, 200, `"protected": true`) // again: no change
	e.want("alice", "GET", "/api/v1/recordings/"+rec.ID.String(), nil, 200, `"protected": true`)
	e.want("alice", "GET", "/api/v1/recordings", nil, 200, `"protected": true`)
	// No deletion path removes it.
	e.want("alice", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 409, "protected")
	e.want("admin", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 409, "protected")
	e.patchUser("admin", map[string]any{"deletionMode": "permanent"})
	e.want("admin", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 409, "protected")
	// bob gets the right: he may lift and set the hold on what he reads.
	e.patchUser("bob", map[string]any{"mayProtect": true})
	body = e.want("bob", "DELETE", path, nil, 200, `"protected": false`)
	if !strings.Contains(body, `"deletionDate"`) { // alice has no seat
		t.Errorf("deletion date missing after unprotect: %s", body)
	}
	e.want("bob", "PUT", path, nil, 200, `"protected": true`)
	e.want("bob", "PUT", "/api/v1/recordings/"+e.recs["carol"].ID.String()+"/protect", nil, 404) // not his to read
	e.want("admin", "DELETE", path, nil, 200, `"protected": false`)
	// A binned recording cannot be protected: restore it first.
	e.want("alice", "DELETE", "/api/v1/recordings/"+rec.ID.String(), nil, 200, "binned")
	e.want("admin", "PUT", path, nil, 404)

	var got []string
	for _, ev := range e.audited("recording") {
		if strings.Contains(ev.Action, "protect") {
			got = append(got, fmt.Sprintf("%s %s %t", ev.Actor, ev.Action, ev.OK))
		}
	}
	slices.Reverse(got)
	want := []string{
		"bob recording.protect false", "alice recording.protect false",
		"bob recording.unprotect false", "alice recording.unprotect false",
		"admin recording.protect true", // the second PUT changed nothing
		"bob recording.unprotect true", "bob recording.protect true", "admin recording.unprotect true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
}

func TestAPIRecycleBin(t *testing.T) {
	e := newAPIEnv(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var alices, carols []*archive.Recording
	for i := range 7 {
		r := e.addRec("alice", start.Add(time.Duration(i)*time.Minute))
		e.want("alice", "DELETE", "/api/v1/recordings/"+r.ID.String(), nil, 200, "binned")
		alices = append(alices, r)
	}
	for i := range 2 {
		r := e.addRec("carol", start.Add(time.Duration(i)*time.Minute))
		e.want("admin", "DELETE", "/api/v1/recordings/"+r.ID.String(), nil, 200, "binned")
		carols = append(carols, r)
	}
	// Paging: alice sees her 7, 3 at a time, newest first, each once.
	var seen []string
	next := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q := "/api/v1/recyclebin?limit=3"
		if next != "" {
			q += "&cursor=" + url.QueryEscape(next)
		}
		var out struct {
			Recordings []struct {
				ID        string    `json:"id"`
				User      string    `json:"user"`
				Binned    time.Time `json:"binned"`
				BinnedBy  string    `json:"binnedBy"`
				PurgeDate time.Time `json:"purgeDate"`
				Deletion  time.Time `json:"deletionDate"`
			} `json:"recordings"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal([]byte(e.want("alice", "GET", q, nil, 200)), &out); err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Recordings {
			if r.User != "alice" || r.BinnedBy != "alice" || r.Binned.IsZero() || !r.PurgeDate.Equal(r.Deletion) ||
				r.PurgeDate.Sub(r.Binned).Round(time.Hour) != 30*24*time.Hour {
				t.Errorf("entry %+v", r)
			}
			if slices.Contains(seen, r.ID) {
				t.Errorf("%s twice", r.ID)
			}
			seen = append(seen, r.ID)
		}
		if next = out.Next; next == "" {
			break
		}
	}
	if len(seen) != 7 || seen[0] != alices[6].ID.String() || seen[6] != alices[0].ID.String() {
		t.Errorf("alice's bin: %v", seen)
	}
	// The admin sees all; bob (reads alice's, owns nothing) and carol see
	// none of alice's; carol sees hers (binned by the admin).
	if body := e.want("admin", "GET", "/api/v1/recyclebin?limit=1000", nil, 200); strings.Count(body, `"binnedBy"`) != 9 {
		t.Errorf("admin's bin: %d entries", strings.Count(body, `"binnedBy"`))
	}
	e.want("bob", "GET", "/api/v1/recyclebin", nil, 200, `"recordings": []`)
	if body := e.want("carol", "GET", "/api/v1/recyclebin", nil, 200, carols[0].ID.String(), `"binnedBy": "admin"`); strings.Contains(body, alices[0].ID.String()) {
		t.Error("carol sees alice's bin")
	}
	e.want("alice", "GET", "/api/v1/recyclebin?cursor=garbage", nil, 400)
	e.want("alice", "GET", "/api/v1/recyclebin?limit=0", nil, 400)
	e.want("alice", "GET", "/api/v1/recyclebin?from=notadate", nil, 400)
	e.want("", "GET", "/api/v1/recyclebin", nil, 401)
	// Binned recordings are out of the list and unreadable, for everyone.
	for _, who := range []string{"alice", "bob", "admin"} {
		if body := e.want(who, "GET", "/api/v1/recordings", nil, 200); strings.Contains(body, alices[0].ID.String()) {
			t.Errorf("%s's list shows a binned recording", who)
		}
		e.want(who, "GET", "/api/v1/recordings/"+alices[0].ID.String(), nil, 404)
	}

	// Restore: the owner or an admin; never another user.
	restore := func(r *archive.Recording) string { return "/api/v1/recyclebin/" + r.ID.String() + "/restore" }
	e.want("bob", "POST", restore(alices[0]), nil, 404)
	e.want("carol", "POST", restore(alices[0]), nil, 404)
	e.want("sup", "POST", restore(alices[0]), nil, 404)
	e.want("alice", "POST", restore(carols[0]), nil, 404)
	e.want("alice", "POST", restore(alices[0]), nil, 200, alices[0].ID.String())
	e.want("alice", "POST", restore(alices[0]), nil, 404) // not in the bin any more
	e.want("alice", "GET", "/api/v1/recordings/"+alices[0].ID.String(), nil, 200)
	e.want("admin", "POST", restore(alices[1]), nil, 200)
	e.want("admin", "POST", "/api/v1/recyclebin/0123456789abcdef0123456789abcdef/restore", nil, 404)
	e.want("admin", "POST", "/api/v1/recyclebin/nothex/restore", nil, 404)

	// Purge: admins only, not with mode denied, only what is in the bin.
	purge := func(r *archive.Recording) string { return "/api/v1/recyclebin/" + r.ID.String() }
	e.want("alice", "DELETE", purge(alices[2]), nil, 403)
	e.want("bob", "DELETE", purge(alices[2]), nil, 403)
	e.want("carol", "DELETE", purge(carols[0]), nil, 403)
	e.want("alice", "DELETE", purge(alices[0]), nil, 403) // restored, and not hers to purge anyway
	e.want("admin", "DELETE", purge(alices[0]), nil, 404) // restored: not in the bin
	e.patchUser("admin", map[string]any{"deletionMode": "denied"})
	e.want("admin", "DELETE", purge(alices[2]), nil, 403, "may not delete")
	e.patchUser("admin", map[string]any{"deletionMode": "recoverable"})
	e.want("admin", "DELETE", purge(alices[2]), nil, 200, `"purged"`)
	if !e.gone(alices[2]) {
		t.Fatal("purged recording still stored")
	}
	e.want("admin", "DELETE", purge(alices[2]), nil, 404)

	// The seal chain holds the purge's tombstone and verifies.
	e.want("admin", "GET", "/api/v1/seal/verify", nil, 200, `"valid": true`, `"tombstones": 1`, `"problems": []`)
	for _, who := range []string{"alice", "bob", "sup"} {
		e.want(who, "GET", "/api/v1/seal/verify", nil, 403)
	}
	e.want("", "GET", "/api/v1/seal/verify", nil, 401)

	for action, want := range map[string]int{"recording.restore": 2, "recording.purge": 1, "seal.verify": 1} {
		if n := len(e.audited(action)); n != want {
			t.Errorf("audit %s: %d events, want %d", action, n, want)
		}
	}
}

func TestAPILifecycleSettings(t *testing.T) {
	e := newAPIEnv(t)
	body := e.want("admin", "GET", "/api/v1/settings", nil, 200, `"retentionDays": 0`, `"recycleBinDays": 30`)
	if strings.Contains(body, "lastExpire") {
		t.Errorf("lastExpire before any run: %s", body)
	}
	for _, bad := range []string{
		`{"retentionDays": -1}`, `{"retentionDays": 11001}`, `{"retentionDays": "x"}`, `{"retentionDays": 1.5}`,
		`{"retentionDays": null, "recycleBinDays": 0}`, `{"recycleBinDays": 11001}`, `{"recycleBinDays": -3}`,
		`{"recycleBinDays": "30"}`, `{"lastExpire": {}}`,
	} {
		resp, got := e.call("admin", "PATCH", "/api/v1/settings", bad)
		if resp.StatusCode != 400 || !strings.Contains(got, "Days") && !strings.Contains(got, "lastExpire") {
			t.Errorf("PATCH %s: %d %s", bad, resp.StatusCode, got)
		}
	}
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": -1}`, 400, "0 (keep forever) to 11000")
	e.want("admin", "PATCH", "/api/v1/settings", `{"recycleBinDays": 0}`, 400, "from 1 to 11000")
	for _, ok := range []string{`{"retentionDays": 11000}`, `{"retentionDays": 0}`, `{"recycleBinDays": 1}`, `{"recycleBinDays": 11000}`} {
		e.want("admin", "PATCH", "/api/v1/settings", ok, 200)
	}
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 90, "recycleBinDays": 14}`, 200, `"retentionDays": 90`, `"recycleBinDays": 14`)
	if s, _ := e.arc.Settings(context.Background()); s.RetentionDays != 90 || s.RecycleBinDays != 14 {
		t.Fatalf("stored: %+v", s)
	}
	for _, who := range []string{"alice", "sup"} {
		e.want(who, "PATCH", "/api/v1/settings", `{"retentionDays": 1}`, 403)
	}
	evs := e.audited("settings.change")
	if len(evs) != 5 || evs[0].Detail != "retentionDays=90, recycleBinDays=14" || evs[0].Actor != "admin" {
		t.Errorf("audit: %+v", evs)
	}

	// The last lifecycle run shows read-only.
	res, err := e.arc.Expire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		LastExpire *archive.ExpireResult `json:"lastExpire"`
	}
	if err := json.Unmarshal([]byte(e.want("admin", "GET", "/api/v1/settings", nil, 200)), &out); err != nil {
		t.Fatal(err)
	}
	if out.LastExpire == nil || !out.LastExpire.Ran.Equal(res.Ran) || out.LastExpire.Removed() != res.Removed() {
		t.Errorf("lastExpire %+v, want %+v", out.LastExpire, res)
	}
}

func TestAPIUserLifecycleFields(t *testing.T) {
	e := newAPIEnv(t)
	e.want("admin", "GET", "/api/v1/users/alice", nil, 200, `"deletionMode": "recoverable"`, `"mayProtect": false`)
	e.want("admin", "POST", "/api/v1/users", map[string]any{"login": "dora", "deletionMode": "permanent", "mayProtect": true},
		201, `"deletionMode": "permanent"`, `"mayProtect": true`)
	e.want("admin", "POST", "/api/v1/users", map[string]any{"login": "eve"}, 201, `"deletionMode": "recoverable"`)
	e.want("admin", "POST", "/api/v1/users", map[string]any{"login": "fay", "deletionMode": "forever"}, 400, "deletionMode must be")
	for _, bad := range []any{"forever", "", "DENIED", 1, true} {
		e.want("admin", "PATCH", "/api/v1/users/alice", map[string]any{"deletionMode": bad}, 400)
	}
	e.want("admin", "PATCH", "/api/v1/users/alice", map[string]any{"mayProtect": "yes"}, 400)
	e.want("admin", "PATCH", "/api/v1/users/alice", map[string]any{"deletionMode": "denied", "mayProtect": true}, 200,
		`"deletionMode": "denied"`, `"mayProtect": true`)
	// Only admins set them, also on one's own account.
	e.want("alice", "PATCH", "/api/v1/users/me", map[string]any{"deletionMode": "permanent"}, 403)
	e.want("alice", "PATCH", "/api/v1/users/me", map[string]any{"mayProtect": false}, 403)
	u, _ := e.arc.GetUser(context.Background(), "alice")
	if u.DeletionMode != archive.DeleteDenied || !u.MayProtect {
		t.Fatalf("alice: %+v", u)
	}
	if evs := e.audited("user.change"); len(evs) == 0 || !strings.Contains(evs[0].Detail, "deletionMode=denied") ||
		!strings.Contains(evs[0].Detail, "mayProtect=true") {
		t.Errorf("audit: %+v", evs)
	}
}

// TestAPIDeletionDates: the recording JSON shows when the lifecycle job
// removes a recording, and nothing when no rule will.
func TestAPIDeletionDates(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	e := newAPIEnvOn(t, archivetest.OpenTestOptions(t, archive.Options{Now: func() time.Time { return now }}))
	ctx := context.Background()
	start := time.Date(2026, 11, 20, 23, 30, 0, 0, time.UTC) // 2026-11-21 in Riga
	withSeat := e.addRec("carol", start)
	e.patchUser("carol", map[string]any{"seat": true})
	noSeat := e.addRec("alice", start)
	nobody := e.addRec("zed", start)
	date := func(who string, rec *archive.Recording) string {
		t.Helper()
		var out struct {
			Deletion string `json:"deletionDate"`
		}
		_ = json.Unmarshal([]byte(e.want(who, "GET", "/api/v1/recordings/"+rec.ID.String(), nil, 200)), &out)
		return out.Deletion
	}
	// Retention off: only the seat grace, 30 days after the day of the call.
	if got := date("admin", withSeat); got != "" {
		t.Errorf("seat holder's recording: deletion date %q", got)
	}
	for _, rec := range []*archive.Recording{noSeat, nobody} {
		if got := date("admin", rec); got != "2026-12-21T00:00:00Z" {
			t.Errorf("%s: deletion date %q", rec.User, got)
		}
	}
	// Retention shorter than the grace, in the settings' time zone.
	// It deletes carol's recording received on 2026-01-02, which her seat
	// keeps today: the change is refused until it is confirmed.
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 10, "timeZone": "Europe/Riga"}`, 409, `"wouldDelete": 1`)
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 10, "timeZone": "Europe/Riga", "confirmDeletion": 1}`, 200)
	for _, rec := range []*archive.Recording{withSeat, noSeat, nobody} {
		if got := date("admin", rec); got != "2026-12-02T00:00:00+02:00" {
			t.Errorf("%s: deletion date %q", rec.User, got)
		}
	}
	// The list carries the same dates; a protected recording has none.
	if err := e.arc.SetProtected(ctx, noSeat.ID, true); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Recordings []recordingSummary `json:"recordings"`
	}
	if err := json.Unmarshal([]byte(e.want("admin", "GET", "/api/v1/recordings?limit=1000", nil, 200)), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Recordings {
		switch s.ID {
		case noSeat.ID.String():
			if !s.Protected || !s.DeletionDate.IsZero() {
				t.Errorf("protected: %+v", s)
			}
		case withSeat.ID.String(), nobody.ID.String():
			if s.Protected || s.DeletionDate.Format(time.DateOnly) != "2026-12-02" {
				t.Errorf("listed: %+v", s)
			}
		}
	}
}

// TestAPISettingsConfirmDeletion: a retention change that deletes
// recordings is refused with their number until it is confirmed; the
// preview counts as the run does; the run then writes one audit entry per
// recording it deletes.
func TestAPISettingsConfirmDeletion(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	e := newAPIEnvOn(t, archivetest.OpenTestOptions(t, archive.Options{Now: func() time.Time { return now }}))
	// The fixture's three recordings were received on 2026-01-02: alice
	// has no seat and zed is no user (both already due by the seat
	// grace); carol's seat keeps hers.
	e.patchUser("carol", map[string]any{"seat": true})
	var pv archive.ExpirePreview
	if err := json.Unmarshal([]byte(e.want("admin", "POST", "/api/v1/settings/preview", `{"retentionDays": 30}`, 200)), &pv); err != nil {
		t.Fatal(err)
	}
	if pv != (archive.ExpirePreview{WouldDelete: 1, Retention: 3}) {
		t.Errorf("preview %+v", pv)
	}
	e.want("alice", "POST", "/api/v1/settings/preview", `{"retentionDays": 30}`, 403)
	e.want("admin", "POST", "/api/v1/settings/preview", `{"retentionDays": 11001}`, 400)
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 30}`, 409, `"wouldDelete": 1`, "deletes 1 recording")
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 30, "confirmDeletion": 0}`, 409)
	if s, _ := e.arc.Settings(context.Background()); s.RetentionDays != 0 {
		t.Fatalf("a refused change was saved: %+v", s)
	}
	e.want("admin", "PATCH", "/api/v1/settings", `{"pbxName": "PBX 1"}`, 200) // no lifecycle change
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 30, "confirmDeletion": 1}`, 200, `"retentionDays": 30`)
	if evs := e.audited("settings.change"); len(evs) == 0 || !strings.Contains(evs[0].Detail, "confirmed") {
		t.Errorf("settings audit: %+v", evs)
	}
	res, err := e.arc.Expire(context.Background())
	if err != nil || res.Retention != 3 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	var targets []string
	for _, ev := range e.audited(archive.AuditLifecycleDelete) {
		targets = append(targets, ev.Target)
		if ev.Actor != archive.SystemActor || !strings.Contains(ev.Detail, "retention") {
			t.Errorf("audit entry %+v", ev)
		}
	}
	var want []string
	for _, r := range e.recs {
		want = append(want, r.ID.String())
	}
	slices.Sort(targets)
	slices.Sort(want)
	if !slices.Equal(targets, want) {
		t.Errorf("lifecycle.delete entries for %v, want %v", targets, want)
	}
}
