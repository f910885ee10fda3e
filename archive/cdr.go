package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// A CDR (call detail record) is what a PBX or contact centre knows of a
// call that a capture does not: direction, the parties' names, the queue,
// the agent. CDRs are stored apart from the recordings, under a keyed
// hash of their call id, and meet the recordings of that call whichever
// arrives first: reading a recording merges the CDRs of its call ids
// (Recording.CDRs), and a CDR that arrives after a recording adds its
// names and numbers to that recording's search entries. Layout in
// FORMAT.md ("Call detail records").

// CDR directions.
const (
	CDRInbound  = "inbound"
	CDROutbound = "outbound"
	CDRInternal = "internal"
)

// Limits of a CDR.
const (
	maxCDRCallID = 512 // bytes of CallID
	maxCDRField  = 256 // bytes of every other text field
	maxCDRs      = 64  // CDRs kept per call id
	cdrV1        = 1   // version of the stored record
	cdrHashLen   = 16  // bytes of the content hash in a key
	cdrKeyLen    = callHashLen + cdrHashLen
	aadCDR       = "callvault cdr\x00"
	cdrDedupText = "cdr" // label of the content hash
)

// CDR is one call detail record. Times are zero and durations nil when
// unknown.
type CDR struct {
	// CallID is the conference GUID a recording's file name carries, or
	// a SIP Call-ID of the call.
	CallID          string
	Direction       string // CDRInbound, CDROutbound, CDRInternal or ""
	CallerNumber    string
	CallerName      string
	CalleeNumber    string
	CalleeName      string
	AccessNumber    string
	QueueName       string
	AnswerGroupID   string
	AnswerGroupName string
	AgentID         string
	AgentName       string
	StartTime       time.Time
	EndTime         time.Time
	WaitTimeMs      *int64
	TalkTimeMs      *int64
	ReferredBy      string
	ReferredTo      string
	// Received is when the archive stored it (set by PutCDR).
	Received time.Time
}

// CDRError reports the field of a CDR that PutCDR refuses, by its name
// in the JSON API. It wraps ErrInvalid.
type CDRError struct {
	Field string // e.g. "callerName"
	Msg   string // e.g. "at most 256 bytes"
}

func (e *CDRError) Error() string { return "archive: cdr: " + e.Field + ": " + e.Msg }
func (e *CDRError) Unwrap() error { return ErrInvalid }

// textFields lists the CDR's text fields with their JSON names.
func (c *CDR) textFields() []struct {
	name string
	v    *string
} {
	return []struct {
		name string
		v    *string
	}{
		{"callId", &c.CallID}, {"direction", &c.Direction},
		{"callerNumber", &c.CallerNumber}, {"callerName", &c.CallerName},
		{"calleeNumber", &c.CalleeNumber}, {"calleeName", &c.CalleeName},
		{"accessNumber", &c.AccessNumber}, {"queueName", &c.QueueName},
		{"answerGroupId", &c.AnswerGroupID}, {"answerGroupName", &c.AnswerGroupName},
		{"agentId", &c.AgentID}, {"agentName", &c.AgentName},
		{"referredBy", &c.ReferredBy}, {"referredTo", &c.ReferredTo},
	}
}

// Validate checks a CDR as PutCDR stores it; the error is a *CDRError.
// Text fields are trimmed first.
func (c *CDR) Validate() error {
	for _, f := range c.textFields() {
		*f.v = strings.TrimSpace(*f.v)
		limit := maxCDRField
		if f.name == "callId" {
			limit = maxCDRCallID
		}
		switch {
		case !utf8.ValidString(*f.v):
			return &CDRError{f.name, "not valid UTF-8"}
		case len(*f.v) > limit:
			return &CDRError{f.name, fmt.Sprintf("at most %d bytes", limit)}
		case strings.ContainsFunc(*f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return &CDRError{f.name, "control characters are not allowed"}
		}
	}
	switch {
	case c.CallID == "":
		return &CDRError{"callId", "required"}
	case c.Direction != "" && c.Direction != CDRInbound && c.Direction != CDROutbound && c.Direction != CDRInternal:
		return &CDRError{"direction", "must be inbound, outbound or internal"}
	case !c.StartTime.IsZero() && (c.StartTime.Year() < 1970 || c.StartTime.Year() > 9999):
		return &CDRError{"startTime", "out of range"}
	case !c.EndTime.IsZero() && (c.EndTime.Year() < 1970 || c.EndTime.Year() > 9999):
		return &CDRError{"endTime", "out of range"}
	case !c.StartTime.IsZero() && !c.EndTime.IsZero() && c.EndTime.Before(c.StartTime):
		return &CDRError{"endTime", "before startTime"}
	case c.WaitTimeMs != nil && (*c.WaitTimeMs < 0 || *c.WaitTimeMs > maxCDRDurationMs):
		return &CDRError{"waitTimeMs", "must be between 0 and 31 days"}
	case c.TalkTimeMs != nil && (*c.TalkTimeMs < 0 || *c.TalkTimeMs > maxCDRDurationMs):
		return &CDRError{"talkTimeMs", "must be between 0 and 31 days"}
	}
	return nil
}

const maxCDRDurationMs = 31 * 24 * 3600 * 1000

// cdrRecord is the stored (encrypted) form of a CDR. Times are unix
// nanoseconds, 0 meaning unset.
type cdrRecord struct {
	V               int    `json:"v"`
	CallID          string `json:"callId"`
	Direction       string `json:"direction,omitempty"`
	CallerNumber    string `json:"callerNumber,omitempty"`
	CallerName      string `json:"callerName,omitempty"`
	CalleeNumber    string `json:"calleeNumber,omitempty"`
	CalleeName      string `json:"calleeName,omitempty"`
	AccessNumber    string `json:"accessNumber,omitempty"`
	QueueName       string `json:"queueName,omitempty"`
	AnswerGroupID   string `json:"answerGroupId,omitempty"`
	AnswerGroupName string `json:"answerGroupName,omitempty"`
	AgentID         string `json:"agentId,omitempty"`
	AgentName       string `json:"agentName,omitempty"`
	Start           int64  `json:"start,omitempty"`
	End             int64  `json:"end,omitempty"`
	WaitTimeMs      *int64 `json:"waitTimeMs,omitempty"`
	TalkTimeMs      *int64 `json:"talkTimeMs,omitempty"`
	ReferredBy      string `json:"referredBy,omitempty"`
	ReferredTo      string `json:"referredTo,omitempty"`
	Received        int64  `json:"received,omitempty"`
}

func cdrRecordOf(c *CDR) cdrRecord {
	r := cdrRecord{
		V: cdrV1, CallID: c.CallID, Direction: c.Direction,
		CallerNumber: c.CallerNumber, CallerName: c.CallerName,
		CalleeNumber: c.CalleeNumber, CalleeName: c.CalleeName,
		AccessNumber: c.AccessNumber, QueueName: c.QueueName,
		AnswerGroupID: c.AnswerGroupID, AnswerGroupName: c.AnswerGroupName,
		AgentID: c.AgentID, AgentName: c.AgentName,
		WaitTimeMs: c.WaitTimeMs, TalkTimeMs: c.TalkTimeMs,
		ReferredBy: c.ReferredBy, ReferredTo: c.ReferredTo,
	}
	if !c.StartTime.IsZero() {
		r.Start = nsOf(c.StartTime)
	}
	if !c.EndTime.IsZero() {
		r.End = nsOf(c.EndTime)
	}
	return r
}

func (r *cdrRecord) cdr() CDR {
	c := CDR{
		CallID: r.CallID, Direction: r.Direction,
		CallerNumber: r.CallerNumber, CallerName: r.CallerName,
		CalleeNumber: r.CalleeNumber, CalleeName: r.CalleeName,
		AccessNumber: r.AccessNumber, QueueName: r.QueueName,
		AnswerGroupID: r.AnswerGroupID, AnswerGroupName: r.AnswerGroupName,
		AgentID: r.AgentID, AgentName: r.AgentName,
		WaitTimeMs: r.WaitTimeMs, TalkTimeMs: r.TalkTimeMs,
		ReferredBy: r.ReferredBy, ReferredTo: r.ReferredTo,
	}
	if r.Start != 0 {
		c.StartTime = timeOf(r.Start)
	}
	if r.End != 0 {
		c.EndTime = timeOf(r.End)
	}
	if r.Received != 0 {
		c.Received = timeOf(r.Received)
	}
	return c
}

// searchTexts calls add with the CDR's names, numbers and ids (its
// search fields).
func (c *CDR) searchTexts(add func(string)) {
	for _, s := range []string{c.CallerNumber, c.CallerName, c.CalleeNumber, c.CalleeName,
		c.AccessNumber, c.QueueName, c.AnswerGroupID, c.AnswerGroupName, c.AgentID, c.AgentName,
		c.ReferredBy, c.ReferredTo} {
		if s != "" {
			add(s)
		}
	}
}

// PutCDR stores a CDR (after Validate) and adds its names and numbers
// to the search entries of the recordings of its call that are already
// stored. A CDR equal in every field to one already stored for its call
// is not stored again: created is false. A call id holds at most 64
// CDRs (ErrInvalid beyond).
func (a *Archive) PutCDR(ctx context.Context, c CDR) (created bool, err error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	rec := cdrRecordOf(&c)
	canon, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("archive: cdr: %w", err)
	}
	ch := a.callHash(c.CallID)
	sum := keyedHash(a.keys.index, cdrDedupText, string(canon))
	key := append(ch[:], sum[:cdrHashLen]...)
	rec.Received = nsOf(a.now())
	box, err := a.sealState(aadCDR, key, rec)
	if err != nil {
		return false, fmt.Errorf("archive: cdr: %w", err)
	}
	err = a.update(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketCDRs)
		if b.Get(key) != nil {
			return nil
		}
		n := 0
		cur := b.Cursor()
		for k, _ := cur.Seek(ch[:]); k != nil && bytes.HasPrefix(k, ch[:]); k, _ = cur.Next() {
			n++
		}
		if n >= maxCDRs {
			return &CDRError{"callId", fmt.Sprintf("a call keeps at most %d CDRs", maxCDRs)}
		}
		// The recordings of the call, with their who keys before the CDR.
		type affected struct {
			id  ID
			m   *metaRecord
			old [][]byte
		}
		var recs []affected
		for _, id := range a.callRecordingsTx(tx, c.CallID) {
			m, err := a.listedMetaTx(tx, id[:])
			if err != nil || m == nil || !slices.Contains(callIDs(m), c.CallID) {
				continue
			}
			if tk := timeKey(m.indexNS(), id); whoPending(tx, tk[:]) {
				continue // the indexer reads the CDRs when it writes the keys
			}
			recs = append(recs, affected{id, m, a.whoKeys(m, id, a.cdrsTx(tx, m))})
		}
		if err := b.Put(key, box); err != nil {
			return err
		}
		created = true
		for _, r := range recs {
			a.listTouchTx(tx, r.id) // its CDRs changed
			if err := replaceWho(tx, r.old, a.whoKeys(r.m, r.id, a.cdrsTx(tx, r.m))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("archive: put cdr: %w", err)
	}
	return created, nil
}

// CDRs returns the CDRs stored for a call id, oldest first.
func (a *Archive) CDRs(ctx context.Context, callID string) ([]CDR, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []CDR
	err := a.view(func(tx kv.Tx) error {
		out = a.cdrsOfTx(tx, []string{callID})
		return nil
	})
	return out, err
}

// callIDs returns the call ids a recording answers to: its conference
// GUID and the SIP Call-IDs of Info's calls, without repeats.
func callIDs(m *metaRecord) []string {
	var out []string
	if m.CallGUID != "" {
		out = append(out, m.CallGUID)
	}
	if len(m.Info) > 0 {
		var in infoCalls
		_ = json.Unmarshal(m.Info, &in) // best effort, like every reader of Info
		for _, c := range in.Result.Calls {
			if c.CallID != "" && !slices.Contains(out, c.CallID) {
				out = append(out, c.CallID)
			}
		}
	}
	return out
}

// cdrsTx returns the CDRs of a recording's call ids (nil when none).
func (a *Archive) cdrsTx(tx kv.Tx, m *metaRecord) []CDR {
	b := tx.Bucket(bucketCDRs)
	if b == nil {
		return nil
	}
	if k, _ := b.Cursor().First(); k == nil {
		return nil // no CDR at all: Info is not parsed
	}
	return a.cdrsOfTx(tx, callIDs(m))
}

// cdrsOfTx returns the CDRs stored for any of ids, ordered by start time,
// then by when they arrived. An unreadable CDR is logged and left out.
func (a *Archive) cdrsOfTx(tx kv.Tx, ids []string) []CDR {
	b := tx.Bucket(bucketCDRs)
	if b == nil {
		return nil
	}
	var out []CDR
	for _, id := range ids {
		if id == "" {
			continue
		}
		ch := a.callHash(id)
		cur := b.Cursor()
		for k, v := cur.Seek(ch[:]); k != nil && bytes.HasPrefix(k, ch[:]); k, v = cur.Next() {
			r, ok := a.openCDR(k, v)
			if !ok || r.CallID != id {
				a.log.Error("archive: unreadable call detail record skipped")
				continue
			}
			out = append(out, r.cdr())
		}
	}
	slices.SortStableFunc(out, func(x, y CDR) int {
		return cmp.Or(x.StartTime.Compare(y.StartTime), x.Received.Compare(y.Received))
	})
	return out
}

// callRecordingsTx returns candidates for the recordings of a call id:
// those whose conference GUID is id (the call index), and those the
// search index lists under every trigram of id (a SIP Call-ID in Info).
// The caller confirms each on its metadata. While the search index is
// being built, only the call index is asked.
func (a *Archive) callRecordingsTx(tx kv.Tx, id string) []ID {
	var out []ID
	seen := map[ID]bool{}
	ch := a.callHash(id)
	c := tx.Bucket(bucketByCall).Cursor()
	for k, _ := c.Seek(ch[:]); k != nil && bytes.HasPrefix(k, ch[:]); k, _ = c.Next() {
		if len(k) == callKeyLen {
			rid := ID(k[callHashLen:])
			seen[rid] = true
			out = append(out, rid)
		}
	}
	needle := searchNeedle(id)
	if !searchReady(tx) || utf8.RuneCountInString(needle) < searchGramRunes {
		return out
	}
	h := a.newWhoHasher()
	var srcs []tkSource
	done := map[string]bool{}
	b := tx.Bucket(bucketByWho)
	trigrams(needle, func(g string) {
		if done[g] || len(srcs) >= searchQueryGrams {
			return
		}
		done[g] = true
		p := h.hash(searchKindGram, g)
		srcs = append(srcs, newPosting(b, bytes.Clone(p[:]), nil))
	})
	o := h.hash(searchKindOverflow, "")
	next := walkSource(newUnion([]tkSource{newIntersect(srcs), newPosting(b, bytes.Clone(o[:]), nil)}), nil)
	for {
		k, ok := next()
		if !ok {
			return out
		}
		rid := ID(k[8:])
		if !seen[rid] {
			seen[rid] = true
			out = append(out, rid)
		}
	}
}

// callAnsweredTx reports whether a listed recording answers to call id,
// or one that cannot be read might.
func (a *Archive) callAnsweredTx(tx kv.Tx, id string) bool {
	// The call index holds only listed recordings (indexTx), under a
	// keyed hash of their conference GUID: an entry answers without
	// opening the recording. The daily run meets every recorded call
	// older than the cutoff, so this is its usual way out.
	ch := a.callHash(id)
	if k, _ := tx.Bucket(bucketByCall).Cursor().Seek(ch[:]); k != nil && bytes.HasPrefix(k, ch[:]) && len(k) == callKeyLen {
		return true
	}
	for _, rid := range a.callRecordingsTx(tx, id) {
		m, err := a.listedMetaTx(tx, rid[:])
		if err != nil || m != nil && slices.Contains(callIDs(m), id) {
			return true
		}
	}
	return false
}

// openCDR opens the stored CDR under key k, and reports whether it is
// one: readable, of this version, under a key of the right length.
func (a *Archive) openCDR(k, box []byte) (cdrRecord, bool) {
	var r cdrRecord
	if len(k) != cdrKeyLen || a.openState(aadCDR, k, box, &r) != nil || r.V != cdrV1 {
		return cdrRecord{}, false
	}
	return r, true
}

// dropCDRsTx deletes, with the recording m (being purged, its index
// entries already removed), the CDRs of each of its call ids that no other
// listed recording answers to (callAnsweredTx): the call's details go
// with its last recording. A recording of the call in the recycle bin
// does not keep them.
func (a *Archive) dropCDRsTx(tx kv.Tx, m *metaRecord) error {
	b := tx.Bucket(bucketCDRs)
	if b == nil {
		return nil
	}
	if k, _ := b.Cursor().First(); k == nil {
		return nil
	}
	for _, cid := range callIDs(m) {
		if a.callAnsweredTx(tx, cid) {
			continue
		}
		ch := a.callHash(cid)
		if err := deletePrefix(b, ch[:]); err != nil {
			return err
		}
	}
	return nil
}
