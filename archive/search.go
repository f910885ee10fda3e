package archive

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// The search index answers Query.Text (a case-insensitive substring of a
// recording's names, numbers and ids) without decrypting every recording.
// Its entries live in bucketByWho beside the who index, under three more
// kinds of term (FORMAT.md, "Search index"):
//
//	't' trigram: every 3 consecutive runes of strings.ToLower(field),
//	             for each search field of the recording (searchFields)
//	'o' owner:   strings.ToLower(User), for matches on the owner's
//	             display name (which lives in the user record)
//	'*' overflow (empty term): instead of the trigrams when a recording
//	             has more than searchMaxGrams distinct ones
//
// A text of at least 3 runes is answered by intersecting the posting
// lists of its trigrams newest first (with the owner and overflow lists
// added), then confirming each candidate on its decrypted metadata;
// shorter texts, and archives whose search entries are still being built,
// decrypt every candidate instead. Both paths return the same recordings.
const (
	searchKindGram     = 't'
	searchKindOwner    = 'o'
	searchKindOverflow = '*'
	searchGramRunes    = 3
	// searchMaxGrams bounds the index entries of one recording: past it
	// the recording is a candidate of every text query (overflow term).
	searchMaxGrams = 1024
	// searchQueryGrams bounds the posting lists one query intersects.
	searchQueryGrams   = 16
	searchIndexVersion = 1
	// The background build reads and writes searchBuildBatch recordings
	// per pair of transactions.
	searchBuildBatch = 64
)

// metaSearchIndex in bucketMeta holds u64 searchIndexVersion once every
// recording has its search entries.
var metaSearchIndex = []byte("search.index")

// searchReady reports whether the search entries cover every recording.
func searchReady(tx kv.Tx) bool {
	v := tx.Bucket(bucketMeta).Get(metaSearchIndex)
	return len(v) == 8 && binary.BigEndian.Uint64(v) == searchIndexVersion
}

func putSearchReady(tx kv.Tx) error {
	return tx.Bucket(bucketMeta).Put(metaSearchIndex, binary.BigEndian.AppendUint64(nil, searchIndexVersion))
}

// infoCalls is the part of a recording's Info (the ingest result) that
// the search reads: each call's SIP Call-ID and its parties' names and
// numbers. Everything else in Info stays opaque to the archive.
type infoCalls struct {
	Result struct {
		Calls []struct {
			CallID string    `json:"callId"`
			From   infoParty `json:"from"`
			To     infoParty `json:"to"`
		} `json:"calls"`
	} `json:"result"`
}

type infoParty struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// searchFields calls add with each search field of a recording: User,
// FileName, CallGUID, each party, and the Call-IDs and party names and
// numbers of Info's calls. Empty fields are left out.
func searchFields(user, fileName, callGUID string, parties []string, info []byte, cdrs []CDR, add func(string)) {
	for i := range cdrs {
		cdrs[i].searchTexts(add)
	}
	for _, s := range []string{user, fileName, callGUID} {
		if s != "" {
			add(s)
		}
	}
	for _, p := range parties {
		if p != "" {
			add(p)
		}
	}
	if len(info) == 0 {
		return
	}
	var in infoCalls
	_ = json.Unmarshal(info, &in) // best effort, like every reader of Info
	for _, c := range in.Result.Calls {
		for _, s := range []string{c.CallID, c.From.Name, c.From.Number, c.To.Name, c.To.Number} {
			if s != "" {
				add(s)
			}
		}
	}
}

// searchNeedle is the normal form Text is compared in: strings.ToLower,
// as the fields are (invalid UTF-8 becomes U+FFFD).
func searchNeedle(text string) string { return strings.ToLower(text) }

// trigrams calls add with every run of searchGramRunes consecutive runes
// of s (already lower-cased, so valid UTF-8), in order, repeats included.
func trigrams(s string, add func(string)) {
	var start [searchGramRunes]int // byte offsets of the last runes, by rune number mod 3
	n := 0
	for i := range s {
		if n >= searchGramRunes {
			add(s[start[n%searchGramRunes]:i]) // runes n-3 .. n-1
		}
		start[n%searchGramRunes] = i
		n++
	}
	if n >= searchGramRunes {
		add(s[start[n%searchGramRunes]:])
	}
}

// searchTerms calls add for each search-index (kind, term) of a
// recording.
func searchTerms(m *metaRecord, cdrs []CDR, add func(kind byte, term string)) {
	grams := map[string]struct{}{}
	overflow := false
	searchFields(m.User, m.FileName, m.CallGUID, m.Parties, m.Info, cdrs, func(f string) {
		if overflow {
			return
		}
		trigrams(searchNeedle(f), func(g string) {
			if overflow {
				return
			}
			grams[g] = struct{}{}
			overflow = len(grams) > searchMaxGrams
		})
	})
	if overflow {
		add(searchKindOverflow, "")
	} else {
		sorted := make([]string, 0, len(grams))
		for g := range grams {
			sorted = append(sorted, g)
		}
		slices.Sort(sorted)
		for _, g := range sorted {
			add(searchKindGram, g)
		}
	}
	if m.User != "" {
		add(searchKindOwner, searchNeedle(m.User))
	}
}

// whoHasher computes whoHash for many terms with one HMAC state.
type whoHasher struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func (a *Archive) newWhoHasher() *whoHasher {
	return &whoHasher{mac: hmac.New(sha256.New, a.keys.index)}
}

// hash equals a.whoHash(kind, term).
func (h *whoHasher) hash(kind byte, term string) [whoHashLen]byte {
	h.mac.Reset()
	h.mac.Write([]byte(whoLabel))
	h.mac.Write([]byte{0, kind})
	h.mac.Write([]byte(term))
	return [whoHashLen]byte(h.mac.Sum(h.sum[:0])[:whoHashLen])
}

// textQuery is a Query's Text, prepared for one List or ListFor call.
type textQuery struct {
	needle string
	// names: lower-cased logins of the users whose display name contains
	// the needle (the owner field of the search).
	names map[string]bool
	// grams, owners, overflow: the posting-list prefixes of an indexed
	// query; grams is nil when the needle is shorter than a trigram.
	grams, owners [][]byte
	overflow      []byte
}

// prepareText reads the users (for their display names) and hashes the
// needle's trigrams.
func (a *Archive) prepareText(ctx context.Context, text string) (*textQuery, error) {
	users, err := a.Users(ctx)
	if err != nil {
		return nil, err
	}
	t := &textQuery{needle: searchNeedle(text), names: map[string]bool{}}
	h := a.newWhoHasher()
	for _, u := range users {
		if u.Name != "" && strings.Contains(searchNeedle(u.Name), t.needle) {
			login := searchNeedle(u.Login)
			if !t.names[login] {
				t.names[login] = true
				p := h.hash(searchKindOwner, login)
				t.owners = append(t.owners, bytes.Clone(p[:]))
			}
		}
	}
	if utf8.RuneCountInString(t.needle) < searchGramRunes {
		return t, nil
	}
	var all []string
	seen := map[string]bool{}
	trigrams(t.needle, func(g string) {
		if !seen[g] {
			seen[g] = true
			all = append(all, g)
		}
	})
	// At most searchQueryGrams lists, spread over the needle (first and
	// last included): the confirmation catches what the others would
	// have excluded.
	pick := all
	if len(all) > searchQueryGrams {
		pick = pick[:0:0]
		for i := range searchQueryGrams {
			pick = append(pick, all[i*(len(all)-1)/(searchQueryGrams-1)])
		}
	}
	for _, g := range pick {
		p := h.hash(searchKindGram, g)
		t.grams = append(t.grams, bytes.Clone(p[:]))
	}
	o := h.hash(searchKindOverflow, "")
	t.overflow = bytes.Clone(o[:])
	return t, nil
}

// indexed reports whether the query can be answered by the index.
func (t *textQuery) indexed() bool { return t != nil && t.grams != nil }

// match reports whether r's search fields, or its owner's display name,
// contain the needle (ignoring case, as strings.ToLower compares).
func (t *textQuery) match(r *Recording) bool {
	if t.names[searchNeedle(r.User)] && r.User != "" {
		return true
	}
	found := false
	searchFields(r.User, r.FileName, r.CallGUID, r.Parties, r.Info, r.CDRs, func(f string) {
		found = found || strings.Contains(searchNeedle(f), t.needle)
	})
	return found
}

// keep combines the text with another filter (nil = none).
func (t *textQuery) keep(other func(*Recording) bool) func(*Recording) bool {
	if t == nil {
		return other
	}
	return func(r *Recording) bool { return t.match(r) && (other == nil || other(r)) }
}

// source finds candidates by the search index within [lower, …]; nil
// when the archive's search entries are not complete yet.
func (t *textQuery) source(tx kv.Tx, lower []byte) tkSource {
	if !t.indexed() || !searchReady(tx) {
		return nil
	}
	b := tx.Bucket(bucketByWho)
	grams := make([]tkSource, len(t.grams))
	for i, p := range t.grams {
		grams[i] = newPosting(b, p, lower)
	}
	alts := []tkSource{newIntersect(grams), newPosting(b, t.overflow, lower)}
	for _, p := range t.owners {
		alts = append(alts, newPosting(b, p, lower))
	}
	return newUnion(alts)
}

// tkSource is an ordered set of time keys that can be searched
// downwards: le returns its largest key <= k.
type tkSource interface {
	le(k [timeKeyLen]byte) ([timeKeyLen]byte, bool)
}

// posting is one term's keys in bucketByWho (prefix ‖ time key), or with
// an empty prefix the time keys of bucketWhoPending, from lower up. It remembers its last answer: le is monotone, so a key at or
// below the last one asked often needs no seek.
type posting struct {
	c       kv.Cursor
	prefix  []byte
	lower   []byte
	seek    []byte
	asked   [timeKeyLen]byte
	ans     [timeKeyLen]byte
	has, ok bool
}

func newPosting(b kv.Bucket, prefix, lower []byte) *posting {
	return &posting{c: b.Cursor(), prefix: prefix, lower: lower, seek: make([]byte, 0, whoKeyLen)}
}

func (p *posting) le(k [timeKeyLen]byte) ([timeKeyLen]byte, bool) {
	if p.has && bytes.Compare(k[:], p.asked[:]) <= 0 {
		if !p.ok {
			return k, false
		}
		if bytes.Compare(p.ans[:], k[:]) <= 0 {
			return p.ans, true
		}
	}
	p.asked, p.has = k, true
	p.ans, p.ok = p.find(k)
	return p.ans, p.ok
}

func (p *posting) find(k [timeKeyLen]byte) ([timeKeyLen]byte, bool) {
	p.seek = append(append(p.seek[:0], p.prefix...), k[:]...)
	key, _ := p.c.Seek(p.seek)
	if key != nil && bytes.Equal(key, p.seek) {
		return k, true
	}
	if key == nil {
		key, _ = p.c.Last()
	} else {
		key, _ = p.c.Prev()
	}
	for ; key != nil; key, _ = p.c.Prev() {
		if !bytes.HasPrefix(key, p.prefix) {
			break
		}
		if len(key) != len(p.prefix)+timeKeyLen {
			continue
		}
		tk := key[len(p.prefix):]
		if p.lower != nil && bytes.Compare(tk, p.lower) < 0 {
			break
		}
		return [timeKeyLen]byte(tk), true
	}
	return [timeKeyLen]byte{}, false
}

// union holds the keys of any of its sources.
type union []tkSource

func newUnion(s []tkSource) tkSource {
	if len(s) == 1 {
		return s[0]
	}
	return union(s)
}

func (u union) le(k [timeKeyLen]byte) ([timeKeyLen]byte, bool) {
	var best [timeKeyLen]byte
	found := false
	for _, s := range u {
		if x, ok := s.le(k); ok && (!found || bytes.Compare(x[:], best[:]) > 0) {
			best, found = x, true
			if x == k {
				break
			}
		}
	}
	return best, found
}

// intersect holds the keys of all of its sources (leapfrog: each source
// is asked for the largest key at or below the current bound until all
// agree).
type intersect []tkSource

func newIntersect(s []tkSource) tkSource {
	if len(s) == 1 {
		return s[0]
	}
	return intersect(s)
}

func (in intersect) le(k [timeKeyLen]byte) ([timeKeyLen]byte, bool) {
	for {
		agree := true
		for _, s := range in {
			x, ok := s.le(k)
			if !ok {
				return k, false
			}
			if x != k {
				k, agree = x, false
			}
		}
		if agree {
			return k, true
		}
	}
}

// walkSource yields src's keys below upper (exclusive; nil = no bound)
// newest first, for page.
func walkSource(src tkSource, upper []byte) func() ([timeKeyLen]byte, bool) {
	var k [timeKeyLen]byte
	done := false
	if upper == nil {
		for i := range k {
			k[i] = 0xff
		}
	} else {
		k = [timeKeyLen]byte(upper)
		done = !decKey(&k)
	}
	return func() ([timeKeyLen]byte, bool) {
		if done {
			return k, false
		}
		x, ok := src.le(k)
		if !ok {
			done = true
			return x, false
		}
		k = x
		done = !decKey(&k)
		return x, true
	}
}

// decKey makes k the key just below it; false when k is the smallest.
func decKey(k *[timeKeyLen]byte) bool {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] > 0 {
			k[i]--
			return true
		}
		k[i] = 0xff
	}
	return false
}

// walk is the walk of List and ListFor for a text query: the search
// index's candidates when it can answer, else fallback (the bytime or
// who-index walk, whose candidates keep then confirms by decrypting).
// userPrefixes, when not nil, restrict the candidates to a user's who
// terms.
func (t *textQuery) walk(lower []byte, userPrefixes [][]byte,
	fallback func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool)) func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
	return func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
		src := t.source(tx, lower)
		if src == nil {
			return fallback(tx, upper)
		}
		if userPrefixes != nil {
			b := tx.Bucket(bucketByWho)
			mine := make([]tkSource, len(userPrefixes))
			for i, p := range userPrefixes {
				mine[i] = newPosting(b, p, lower)
			}
			src = newIntersect([]tkSource{src, newUnion(mine)})
		}
		// Recordings whose keys are not written yet are candidates too.
		src = newUnion([]tkSource{src, newPosting(tx.Bucket(bucketWhoPending), nil, lower)})
		return walkSource(src, upper)
	}
}

// buildSearch adds the search entries of every indexed recording to an
// archive whose who index is complete but predates them, then sets
// metaSearchIndex. It runs in the background after Open: recordings
// written meanwhile get their entries from whoKeys as usual, and a batch
// skips every recording whose metadata changed or left the time index
// since it was read (its writer has put the current entries).
func (a *Archive) buildSearch(ctx context.Context, batch int) error {
	start := time.Now()
	var after []byte
	recs := 0
	type item struct {
		id   ID
		box  []byte
		keys [][]byte
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var items []item
		n := 0
		err := a.view(func(tx kv.Tx) error {
			if searchReady(tx) {
				n = -1
				return nil
			}
			after, n = ascBatch(tx, bucketRecs, after, batch, func(k, v []byte) bool {
				if m, err := a.listedMetaTx(tx, k); m != nil && err == nil {
					id := ID(k)
					if tk := timeKey(m.indexNS(), id); whoPending(tx, tk[:]) {
						return true // the indexer writes all its keys
					}
					items = append(items, item{id: id, box: bytes.Clone(v), keys: a.searchKeys(m, id, a.cdrsTx(tx, m))})
				}
				return true
			})
			return nil
		})
		if err != nil {
			return err
		}
		if n < 0 {
			return nil
		}
		last := n < batch
		err = a.update(ctx, func(tx kv.Tx) error {
			recsB, who := tx.Bucket(bucketRecs), tx.Bucket(bucketByWho)
			for _, it := range items {
				if !bytes.Equal(recsB.Get(it.id[:]), it.box) {
					continue
				}
				for _, k := range it.keys {
					if err := who.Put(k, []byte{}); err != nil {
						return err
					}
				}
			}
			if last {
				return putSearchReady(tx)
			}
			return nil
		})
		if err != nil {
			return err
		}
		recs += len(items)
		if last {
			a.log.Info("archive search index built", "recordings", recs, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
	}
}

// backfillSearch runs buildSearch and logs a failure (text queries stay
// on the decrypting path until the next Open starts over). Close cancels
// ctx and waits for it to return.
func (a *Archive) backfillSearch(ctx context.Context) {
	if searchBackfillDone != nil {
		defer searchBackfillDone(ctx)
	}
	err := a.buildSearch(ctx, searchBuildBatch)
	if err != nil && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
		a.log.Error("archive search index: build failed; text filters stay slow until the next open", "err", err)
	}
}

// searchBackfillDone, when set (by tests), runs as backfillSearch returns.
var searchBackfillDone func(ctx context.Context)

// searchKeys returns the search-index keys of recording id with metadata
// m (part of whoKeys).
func (a *Archive) searchKeys(m *metaRecord, id ID, cdrs []CDR) [][]byte {
	tk := timeKey(m.indexNS(), id)
	h := a.newWhoHasher()
	var out [][]byte
	searchTerms(m, cdrs, func(kind byte, term string) {
		p := h.hash(kind, term)
		out = append(out, append(append(make([]byte, 0, whoKeyLen), p[:]...), tk[:]...))
	})
	return out
}
