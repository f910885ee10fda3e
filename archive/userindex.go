package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// The who index (bucketByWho) answers "which recordings may this user
// read" without decrypting the others. For every recording it holds one
// key per term that MayRead can match on:
//
//	HMAC(index key, "who" ‖ 0x00 ‖ kind ‖ term)[:16] ‖ time key → ""
//
// with kind 'u' and term foldCase(User) for the owner, and kind 'p' and
// the terms foldCase(TrimSpace(party)) and partyKey(party) for each
// party. A user's own terms are built the same way from their login,
// access list and extensions (whoPrefixes), so a recording is a candidate
// exactly when MayRead would compare equal on one of its terms. MayRead
// stays the final check. Layout and leakage in FORMAT.md ("Who index").
const (
	whoHashLen      = 16
	whoKeyLen       = whoHashLen + timeKeyLen
	whoIndexVersion = 1 // bump when the terms change: Open rebuilds the index
	whoKindOwner    = 'u'
	whoKindParty    = 'p'
	whoLabel        = "who"
	// The backfill at Open reads whoBackfillBatch recordings per read
	// transaction, and writes the keys sorted, about whoBackfillRun
	// (20 MiB) at a time, whoWriteBatch per write transaction.
	whoBackfillBatch = 1000
	whoBackfillRun   = 1 << 19
	whoWriteBatch    = 100_000
)

// metaWhoIndex in bucketMeta holds u64 whoIndexVersion once every
// recording has its who-index entries (set by backfillWho).
var metaWhoIndex = []byte("who.index")

// foldCase maps s to a canonical form under Unicode simple case folding:
// every rune becomes the smallest rune of its case-folding orbit (ASCII
// letters the lower-case one). So foldCase(a) == foldCase(b) exactly when
// strings.EqualFold(a, b), invalid UTF-8 included (both see U+FFFD).
func foldCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' { // e.g. the Kelvin sign, in the orbit of 'K'
		m += 'a' - 'A'
	}
	return m
}

// whoHash is the 16-byte prefix of the who-index keys of one term.
func (a *Archive) whoHash(kind byte, term string) [whoHashLen]byte {
	h := keyedHash(a.keys.index, whoLabel, string(kind)+term)
	return [whoHashLen]byte(h[:whoHashLen])
}

// whoTerms calls add for each (kind, term) of a recording: its owner and
// its parties, normalised as MayRead compares them.
func whoTerms(user string, parties []string, add func(kind byte, term string)) {
	if user != "" {
		add(whoKindOwner, foldCase(user))
	}
	for _, p := range parties {
		if t := strings.TrimSpace(p); t != "" {
			add(whoKindParty, foldCase(t))
		}
		if n := partyKey(p); n != "" {
			add(whoKindParty, n)
		}
	}
}

// whoKeys returns the who-index keys of recording id with metadata m:
// its who terms and its search terms (search.go). It is the one source
// of a recording's keys in bucketByWho, for every writer and remover.
func (a *Archive) whoKeys(m *metaRecord, id ID, cdrs []CDR) [][]byte {
	tk := timeKey(m.indexNS(), id)
	h := a.newWhoHasher()
	seen := map[[whoHashLen]byte]bool{}
	var out [][]byte
	add := func(kind byte, term string) {
		p := h.hash(kind, term)
		if seen[p] {
			return
		}
		seen[p] = true
		k := make([]byte, 0, whoKeyLen)
		k = append(append(k, p[:]...), tk[:]...)
		out = append(out, k)
	}
	whoTerms(m.User, m.Parties, add)
	searchTerms(m, cdrs, add)
	return out
}

// whoUserTerms calls add for each (kind, term) under which MayRead lets
// u (role user or supervisor) read a recording: its login and access-list
// entries as owners, its extensions and access-list entries as parties.
func whoUserTerms(u *User, add func(kind byte, term string)) {
	// Owner: the login as is, access-list entries trimmed (as MayRead).
	add(whoKindOwner, foldCase(u.Login))
	for _, l := range u.AccessList {
		add(whoKindOwner, foldCase(strings.TrimSpace(l)))
	}
	// Parties: extensions and access-list entries, by name or number.
	for _, list := range [2][]string{u.Extensions, u.AccessList} {
		for _, x := range list {
			t := strings.TrimSpace(x)
			if t == "" {
				continue
			}
			add(whoKindParty, foldCase(t))
			add(whoKindParty, partyKey(t))
		}
	}
}

// whoPrefixes returns the who-index prefixes under which u's readable
// recordings are found, and the set of those that are owner terms.
func (a *Archive) whoPrefixes(u *User) ([][]byte, map[[whoHashLen]byte]bool) {
	seen := map[[whoHashLen]byte]bool{}
	owners := map[[whoHashLen]byte]bool{}
	var out [][]byte
	whoUserTerms(u, func(kind byte, term string) {
		if term == "" {
			return
		}
		h := a.whoHash(kind, term)
		if kind == whoKindOwner {
			owners[h] = true
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, bytes.Clone(h[:]))
		}
	})
	return out, owners
}

// putWho adds who-index keys in tx.
func putWho(tx kv.Tx, keys [][]byte) error {
	b := tx.Bucket(bucketByWho)
	for _, k := range keys {
		if err := b.Put(k, []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// deleteWho removes who-index keys in tx.
func deleteWho(tx kv.Tx, keys [][]byte) error {
	b := tx.Bucket(bucketByWho)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// replaceWho replaces a recording's who-index keys old by cur in tx (its
// time key or terms changed).
func replaceWho(tx kv.Tx, old, cur [][]byte) error {
	keep := make(map[string]bool, len(cur))
	for _, k := range cur {
		keep[string(k)] = true
	}
	var gone [][]byte
	for _, k := range old {
		if !keep[string(k)] {
			gone = append(gone, k)
		}
	}
	if err := deleteWho(tx, gone); err != nil {
		return err
	}
	return putWho(tx, cur)
}

// whoReady reports whether the who index covers every recording.
func whoReady(tx kv.Tx) bool {
	v := tx.Bucket(bucketMeta).Get(metaWhoIndex)
	return len(v) == 8 && binary.BigEndian.Uint64(v) == whoIndexVersion
}

// backfillWho builds the who index of an archive written before it
// existed (or with another whoIndexVersion). It runs at Open, before any
// caller holds the archive: it clears the bucket, reads every recording's
// metadata in short read transactions (whoBackfillBatch each), and writes
// the keys sorted, in runs of about whoBackfillRun keys, so the tree is
// filled in key order instead of at random pages; metaWhoIndex is set in
// the last transaction. A failure is logged and leaves ListFor on its slow
// path (List with MayRead) until the next Open, which starts over.
func (a *Archive) backfillWho() {
	var ready bool
	var search bool
	if err := a.view(func(tx kv.Tx) error { ready, search = whoReady(tx), searchReady(tx); return nil }); err != nil {
		return
	}
	if ready {
		if !search { // an index from before the search terms: add them
			a.goBackground(a.backfillSearch)
		}
		return
	}
	if err := a.buildWho(context.Background(), whoBackfillBatch, whoBackfillRun, whoWriteBatch); err != nil {
		a.log.Error("archive who index: backfill failed; user listings stay slow until the next open", "err", err)
	}
}

// buildWho (re)builds the who index, reading readRecs recordings per
// read transaction, sorting about runKeys keys at a time and writing
// writeKeys per write transaction.
func (a *Archive) buildWho(ctx context.Context, readRecs, runKeys, writeKeys int) error {
	start := time.Now()
	// Entries of an older version, or of a backfill cut off midway:
	// start over.
	err := a.update(ctx, func(tx kv.Tx) error {
		if err := tx.Bucket(bucketMeta).Delete(metaWhoIndex); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Delete(metaSearchIndex); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketByWho, bucketWhoPending} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var (
		run       [][whoKeyLen]byte
		pending   []pendingEntry // unfinished: their keys come after Finish
		after     []byte
		recs, bad int
	)
	flush := func(last bool) error {
		slices.SortFunc(run, func(x, y [whoKeyLen]byte) int { return bytes.Compare(x[:], y[:]) })
		for i := 0; i == 0 || i < len(run); i += writeKeys {
			part := run[i:min(i+writeKeys, len(run))]
			final := last && i+writeKeys >= len(run)
			err := a.update(ctx, func(tx kv.Tx) error {
				b := tx.Bucket(bucketByWho)
				for j := range part {
					if err := b.Put(part[j][:], []byte{}); err != nil {
						return err
					}
				}
				if final {
					for _, p := range pending {
						if err := pendWho(tx, p.tk[:], p.v); err != nil {
							return err
						}
					}
					if err := putSearchReady(tx); err != nil {
						return err
					}
					return tx.Bucket(bucketMeta).Put(metaWhoIndex, binary.BigEndian.AppendUint64(nil, whoIndexVersion))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		run = run[:0]
		return nil
	}
	for {
		n := 0
		err := a.view(func(tx kv.Tx) error {
			after, n = ascBatch(tx, bucketRecs, after, readRecs, func(k, _ []byte) bool {
				m, err := a.listedMetaTx(tx, k)
				switch {
				case err != nil:
					bad++
				case m != nil && tx.Bucket(bucketUnfinished).Get(k) != nil:
					pending = append(pending, pendingEntry{timeKey(m.indexNS(), ID(k)), a.unfinishedWho(m.User)})
				case m != nil: // not nil: listed (not in the recycle bin)
					recs++
					for _, wk := range a.whoKeys(m, ID(k), a.cdrsTx(tx, m)) {
						run = append(run, [whoKeyLen]byte(wk))
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			return err
		}
		if n < readRecs {
			break
		}
		if len(run) >= runKeys {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	if recs > 0 || bad > 0 {
		a.log.Info("archive who index built", "recordings", recs, "unreadable_skipped", bad, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// ListFor returns the recordings u may read (MayRead) newest first, like
// List with a Match of MayRead and q.Match (and q.Text), with the same cursors
// (interchangeable with List's). An admin gets List(q). For other users it
// walks the who index under u's terms (login, access list, extensions),
// merging them newest first, so it decrypts only recordings u may read
// (and, with q.Match, the ones it filters): its cost follows what u can
// see, not the size of the archive. With q.Text of 3 or more runes it
// walks the search index's candidates among those terms instead. q.Match
// sees only recordings u may read.
func (a *Archive) ListFor(ctx context.Context, u *User, q Query) ([]*Recording, string, error) {
	limit, upper, lower, err := listBounds(q)
	if err != nil {
		return nil, "", err
	}
	if u == nil || u.Disabled {
		return nil, "", nil
	}
	switch u.Role {
	case RoleAdmin:
		return a.List(ctx, q)
	case RoleUser, RoleSupervisor:
	default:
		return nil, "", nil
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	var ready bool
	if err := a.view(func(tx kv.Tx) error { ready = whoReady(tx); return nil }); err != nil {
		return nil, "", fmt.Errorf("archive: list: %w", err)
	}
	if !ready { // backfill failed at Open: the slow path
		match := q.Match
		q.Match = func(r *Recording) bool { return MayRead(u, r) && (match == nil || match(r)) }
		return a.List(ctx, q)
	}
	prefixes, owners := a.whoPrefixes(u)
	walk := func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
		return newWhoMerge(tx, prefixes, owners, upper, lower).next
	}
	var text *textQuery
	if q.Text != "" {
		if text, err = a.prepareText(ctx, q.Text); err != nil {
			return nil, "", fmt.Errorf("archive: list: %w", err)
		}
		// The search index's candidates among the user's terms.
		walk = text.walk(lower, prefixes, walk)
	}
	return a.page(ctx, limit, upper, walk, func(r *Recording) bool {
		return MayRead(u, r) && (text == nil || text.match(r)) && (q.Match == nil || q.Match(r))
	})
}

// listBounds is List's reading of q: the page size and the time-key range
// [lower, upper) (nil = open).
func listBounds(q Query) (limit int, upper, lower []byte, err error) {
	limit = q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	if q.Cursor != "" {
		if upper, err = parseCursor(q.Cursor); err != nil {
			return 0, nil, nil, err
		}
	}
	if !q.To.IsZero() {
		k := timeKey(q.To.UnixNano(), ID{})
		if upper == nil || bytes.Compare(k[:], upper) < 0 {
			upper = k[:]
		}
	}
	if !q.From.IsZero() {
		k := timeKey(q.From.UnixNano(), ID{})
		lower = k[:]
	}
	return limit, upper, lower, nil
}

// whoMerge walks several who-index prefixes backwards (newest first) over
// the time range [lower, upper), and the recordings whose keys are not
// written yet (bucketWhoPending), merged by time key and without
// duplicates (a recording found under several terms comes once). It lives
// inside one read transaction.
type whoMerge struct {
	heap  []*whoCursor // max-heap by time key
	lower []byte
	last  [timeKeyLen]byte
	any   bool
}

type whoCursor struct {
	c      kv.Cursor
	prefix []byte
	tk     []byte // time key of the current entry
	// skip, when set, passes over entries (bucketWhoPending's
	// unfinished recordings of other owners).
	skip func(v []byte) bool
}

func newWhoMerge(tx kv.Tx, prefixes [][]byte, owners map[[whoHashLen]byte]bool, upper, lower []byte) *whoMerge {
	m := &whoMerge{lower: lower}
	if upper == nil {
		upper = bytes.Repeat([]byte{0xff}, timeKeyLen+1) // above every time key
	}
	seek := make([]byte, 0, whoHashLen+len(upper))
	b, pending := tx.Bucket(bucketByWho), tx.Bucket(bucketWhoPending)
	for i := range len(prefixes) + 1 {
		var wc *whoCursor
		if i < len(prefixes) {
			wc = &whoCursor{c: b.Cursor(), prefix: prefixes[i]}
		} else {
			wc = &whoCursor{c: pending.Cursor(), skip: func(v []byte) bool { return otherOwner(v, owners) }} // no prefix
		}
		seek = append(append(seek[:0], wc.prefix...), upper...)
		var k, v []byte
		if k, _ = wc.c.Seek(seek); k == nil {
			k, v = wc.c.Last()
		} else {
			k, v = wc.c.Prev()
		}
		if m.settle(wc, k, v) {
			m.heap = append(m.heap, wc)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

// settle moves wc from entry k, v backwards to its first usable entry;
// false when its range is exhausted.
func (m *whoMerge) settle(wc *whoCursor, k, v []byte) bool {
	for ; k != nil; k, v = wc.c.Prev() {
		if !bytes.HasPrefix(k, wc.prefix) {
			return false
		}
		if len(k) != len(wc.prefix)+timeKeyLen {
			continue
		}
		tk := k[len(wc.prefix):]
		if m.lower != nil && bytes.Compare(tk, m.lower) < 0 {
			return false
		}
		if wc.skip != nil && wc.skip(v) {
			continue
		}
		wc.tk = tk
		return true
	}
	return false
}

// next returns the next time key, newest first.
func (m *whoMerge) next() ([timeKeyLen]byte, bool) {
	for len(m.heap) > 0 {
		top := m.heap[0]
		tk := [timeKeyLen]byte(top.tk)
		k, v := top.c.Prev()
		if m.settle(top, k, v) {
			m.down(0)
		} else {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap = m.heap[:last]
			if last > 0 {
				m.down(0)
			}
		}
		if m.any && tk == m.last {
			continue // the same recording under another term
		}
		m.last, m.any = tk, true
		return tk, true
	}
	return [timeKeyLen]byte{}, false
}

func (m *whoMerge) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && bytes.Compare(h[r].tk, h[l].tk) > 0 {
			j = r
		}
		if bytes.Compare(h[j].tk, h[i].tk) <= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
