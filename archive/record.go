package archive

import (
	"bytes"
	"cmp"
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/seal"
)

// Recording is the metadata of one recording, decrypted.
type Recording struct {
	ID         ID
	State      State
	Received   time.Time // when the upload started
	Finished   time.Time // when Finish committed (zero while recording)
	StartTime  time.Time // capture time of the call's start (zero if unknown)
	DurationMs int64
	FileName   string
	CallGUID   string
	User       string
	Gzip       bool   // the upload was gzip; the original blob holds it decompressed
	GzipSHA256 []byte // sha256 of the compressed upload, when Gzip
	OrigSize   int64
	MapSize    int64
	OrigSHA256 [32]byte
	MapSHA256  [32]byte
	Info       []byte // the ingest result (JSON), opaque to the archive
	// Parties are the call's party numbers and names (Final.Parties).
	Parties []string
	Seal    *Seal // nil until sealed
	// Protected is the legal hold: no delete, retention or seat grace
	// removes the recording while it is set (SetProtected).
	Protected bool
	// Binned is when the recording was moved to the recycle bin (zero
	// when it is not there), BinnedBy who did it. A binned recording is
	// left out of List, ListFor and ByCall and nobody may read it
	// (MayRead) until it is restored.
	Binned   time.Time
	BinnedBy string
	// RetentionBase is the instant retention counts from: Received,
	// unless an import kept the call's own time (SetRetentionBase).
	RetentionBase time.Time
	// Imported tells a capture stored by callvault import from a call a
	// phone just recorded: webhooks do not announce old calls imported.
	// Not part of the core metadata a seal signs.
	Imported bool
	// CDRs are the call detail records stored for the recording's call
	// ids (its CallGUID and the SIP Call-IDs in Info), merged when the
	// recording is read; not part of the metadata or its seal (cdr.go).
	CDRs []CDR
}

// Limits on caller-supplied metadata, so records stay small.
const (
	maxNameLen = 4096
	maxInfoLen = 8 << 20
)

// metaRecord is the stored (encrypted) form of a recording's metadata.
// Times are unix nanoseconds, 0 meaning unset.
type metaRecord struct {
	V          int    `json:"v"`
	State      State  `json:"state"`
	Received   int64  `json:"received"`
	Finished   int64  `json:"finished,omitempty"`
	Start      int64  `json:"start,omitempty"`
	DurationMs int64  `json:"durationMs,omitempty"`
	FileName   string `json:"fileName,omitempty"`
	CallGUID   string `json:"callGuid,omitempty"`
	User       string `json:"user,omitempty"`
	Gzip       bool   `json:"gzip,omitempty"`
	GzipSHA256 []byte `json:"gzipSha256,omitempty"`
	OrigSize   int64  `json:"origSize"`
	MapSize    int64  `json:"mapSize"`
	// Chunk is the plaintext size of the blobs' full chunks (0:
	// legacyChunkSize); not core metadata.
	Chunk      int      `json:"chunk,omitempty"`
	OrigSHA256 []byte   `json:"origSha256,omitempty"`
	MapSHA256  []byte   `json:"mapSha256,omitempty"`
	Info       []byte   `json:"info,omitempty"`
	SealSeq    uint64   `json:"sealSeq,omitempty"`
	Parties    []string `json:"parties,omitempty"`
	// Lifecycle state; not part of the core metadata a seal signs.
	Protected bool   `json:"protected,omitempty"`
	Binned    int64  `json:"binned,omitempty"`
	BinnedBy  string `json:"binnedBy,omitempty"`
	// RetentionBase is when retention starts counting (0: Received).
	RetentionBase int64 `json:"retentionBase,omitempty"`
	// Imported: stored by callvault import (NewRecording.Imported); not
	// core metadata.
	Imported bool `json:"imported,omitempty"`

	// ExportsDue: sealed by a deferred seal whose exports entry is not
	// written yet; ExportsSeq: that entry, once written. Not core
	// metadata.
	ExportsDue bool   `json:"exportsDue,omitempty"`
	ExportsSeq uint64 `json:"exportsSeq,omitempty"`
}

// decodeMeta parses and validates a decrypted metadata record.
func decodeMeta(b []byte) (*metaRecord, error) {
	var m metaRecord
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("archive: metadata: %w", ErrCorrupt)
	}
	switch {
	case m.V < minFormat || m.V > curFormat:
		return nil, fmt.Errorf("archive: metadata format %d: %w", m.V, ErrCorrupt)
	case !m.State.valid():
		return nil, fmt.Errorf("archive: metadata state: %w", ErrCorrupt)
	case m.OrigSize < 0 || m.MapSize < 0 || m.DurationMs < 0:
		return nil, fmt.Errorf("archive: metadata sizes: %w", ErrCorrupt)
	case m.Chunk != 0 && (m.Chunk < minChunkSize || m.Chunk > legacyChunkSize):
		return nil, fmt.Errorf("archive: metadata chunk size %d: %w", m.Chunk, ErrCorrupt)
	case len(m.OrigSHA256) != 0 && len(m.OrigSHA256) != 32, len(m.MapSHA256) != 0 && len(m.MapSHA256) != 32:
		return nil, fmt.Errorf("archive: metadata hashes: %w", ErrCorrupt)
	case len(m.GzipSHA256) > 64:
		return nil, fmt.Errorf("archive: metadata gzip hash: %w", ErrCorrupt)
	case validParties(m.Parties) != nil:
		return nil, fmt.Errorf("archive: metadata parties: %w", ErrCorrupt)
	case m.Binned < 0 || len(m.BinnedBy) > maxWhoWhyLen:
		return nil, fmt.Errorf("archive: metadata recycle-bin fields: %w", ErrCorrupt)
	}
	return &m, nil
}

func (m *metaRecord) indexNS() int64 {
	if m.Start != 0 {
		return m.Start
	}
	return m.Received
}

// retentionNS is the instant retention and the seat grace count from:
// the appliance's own receive time unless an import set another.
func (m *metaRecord) retentionNS() int64 {
	if m.RetentionBase != 0 {
		return m.RetentionBase
	}
	return m.Received
}

// nsOf and timeOf store and read times as the sealed values do.
var (
	nsOf   = seal.UnixNano
	timeOf = seal.TimeOfUnixNano
)

func (m *metaRecord) recording(id ID, seal *Seal) *Recording {
	r := &Recording{
		ID: id, State: m.State,
		Received: timeOf(m.Received), Finished: timeOf(m.Finished), StartTime: timeOf(m.Start),
		DurationMs: m.DurationMs,
		FileName:   m.FileName, CallGUID: m.CallGUID, User: m.User,
		Gzip: m.Gzip, GzipSHA256: bytes.Clone(m.GzipSHA256),
		OrigSize: m.OrigSize, MapSize: m.MapSize,
		Info:      bytes.Clone(m.Info),
		Parties:   slices.Clone(m.Parties),
		Seal:      seal,
		Protected: m.Protected, Binned: timeOf(m.Binned), BinnedBy: m.BinnedBy,
		RetentionBase: timeOf(m.retentionNS()), Imported: m.Imported,
	}
	copy(r.OrigSHA256[:], m.OrigSHA256)
	copy(r.MapSHA256[:], m.MapSHA256)
	return r
}

const coreMetaLabel = "callvault core-meta\x00"

// CoreMetadata returns the canonical encoding of the recording's core
// metadata, the bytes whose sha256 a seal signs as MetaSHA256 (layout in
// FORMAT.md). It covers every field except Seal, with Info by its sha256.
func (r *Recording) CoreMetadata() []byte {
	b := make([]byte, 0, 256+len(r.FileName)+len(r.CallGUID)+len(r.User))
	b = append(b, coreMetaLabel...)
	b = append(b, curFormat)
	b = append(b, r.ID[:]...)
	lp := func(s []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	i64 := func(v int64) { b = binary.BigEndian.AppendUint64(b, uint64(v)) }
	lp([]byte(r.State))
	i64(nsOf(r.Received))
	i64(nsOf(r.Finished))
	i64(nsOf(r.StartTime))
	i64(r.DurationMs)
	lp([]byte(r.FileName))
	lp([]byte(r.CallGUID))
	lp([]byte(r.User))
	if r.Gzip {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	lp(r.GzipSHA256)
	i64(r.OrigSize)
	i64(r.MapSize)
	b = append(b, r.OrigSHA256[:]...)
	b = append(b, r.MapSHA256[:]...)
	info := sha256.Sum256(r.Info)
	b = append(b, info[:]...)
	// Parties were added to format 1 later: present only when non-empty,
	// so metadata hashes of recordings without parties are unchanged.
	if len(r.Parties) > 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Parties)))
		for _, p := range r.Parties {
			lp([]byte(p))
		}
	}
	return b
}

// MetaSHA256 returns sha256(CoreMetadata()).
func (r *Recording) MetaSHA256() [32]byte { return sha256.Sum256(r.CoreMetadata()) }

// metaAEAD returns the cipher for a recording's metadata.
func metaAEAD(dk []byte) (cipher.AEAD, error) { return subAEAD(dk, infoMeta) }

func sealMeta(aead cipher.AEAD, id ID, m *metaRecord) ([]byte, error) {
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("archive: encode metadata: %w", err)
	}
	return boxSeal(aead, boxAAD(aadMeta, id[:]), plain), nil
}

// dataKeyTx returns a recording's data key (from its slot) inside tx;
// ErrNotFound when it or, with !hasRec, its metadata record is gone. The
// caller clears the key when done.
func (a *Archive) dataKeyTx(tx kv.Tx, id ID, hasRec bool) ([]byte, error) {
	v := tx.Bucket(bucketDataKeys).Get(id[:])
	if v == nil || !hasRec {
		return nil, fmt.Errorf("archive: recording %s: %w", id, ErrNotFound)
	}
	box, err := a.dataKeyBox(id, v)
	if err != nil {
		return nil, err
	}
	return a.unwrapDataKey(id, box)
}

// loadTx reads and decrypts a recording's metadata inside tx. It returns
// the data key, which the caller must clear when done.
func (a *Archive) loadTx(tx kv.Tx, id ID) (*metaRecord, []byte, error) {
	recBox := tx.Bucket(bucketRecs).Get(id[:])
	dk, err := a.dataKeyTx(tx, id, recBox != nil)
	if err != nil {
		return nil, nil, err
	}
	aead, err := metaAEAD(dk)
	if err != nil {
		clear(dk)
		return nil, nil, err
	}
	plain, err := boxOpen(aead, boxAAD(aadMeta, id[:]), recBox)
	if err != nil {
		clear(dk)
		return nil, nil, fmt.Errorf("archive: recording %s: metadata: %w", id, ErrCorrupt)
	}
	m, err := decodeMeta(plain)
	if err != nil {
		clear(dk)
		return nil, nil, fmt.Errorf("archive: recording %s: %w", id, err)
	}
	return m, dk, nil
}

// recordingTx loads a recording and its seal inside tx. A seal entry that
// is missing or malformed leaves Seal nil (Verify reports it).
func (a *Archive) recordingTx(tx kv.Tx, id ID) (*Recording, error) {
	m, dk, err := a.loadTx(tx, id)
	if err != nil {
		return nil, err
	}
	clear(dk)
	var seal *Seal
	if m.SealSeq != 0 {
		if e, err := parseEntry(tx.Bucket(bucketChain).Get(seqKey(m.SealSeq))); err == nil && e.typ == entrySeal && e.id == id {
			seal = e.seal()
			a.attachExportsTx(tx, seal, m)
		}
	}
	r := m.recording(id, seal)
	r.CDRs = a.cdrsTx(tx, m)
	return r, nil
}

// Get returns a recording's metadata.
func (a *Archive) Get(ctx context.Context, id ID) (*Recording, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r *Recording
	err := a.view(func(tx kv.Tx) error {
		var err error
		r, err = a.recordingTx(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Query selects recordings for List.
type Query struct {
	// From and To bound StartTime (Received while StartTime is unknown):
	// From <= t < To. A zero time leaves that side open.
	From, To time.Time
	// Limit is the page size: default 100, at most 10000.
	Limit int
	// Cursor continues after the page that returned it ("" = newest).
	Cursor string
	// Match, if set, filters decrypted recordings. It runs outside any
	// transaction and must not call back into List.
	Match func(*Recording) bool
	// Text, if set, keeps the recordings one of whose search fields
	// contains it, ignoring case (strings.ToLower on both sides): the
	// owner login (User) or the display name of the user with that login,
	// FileName, CallGUID, a party, or a Call-ID or party name or number
	// of Info's calls. Text of 3 or more runes is looked up in the search
	// index (FORMAT.md, "Search index"); Match sees only recordings that
	// contain it.
	Text string
}

const (
	defaultLimit = 100
	maxLimit     = 10000
	matchBatch   = 256
	cursorV1     = 1
)

func encodeCursor(k []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{cursorV1}, k...))
}

// parseCursor decodes a List cursor: base64url(0x01 ‖ time key).
func parseCursor(s string) ([]byte, error) {
	if len(s) != base64.RawURLEncoding.EncodedLen(1+timeKeyLen) {
		return nil, fmt.Errorf("archive: cursor: %w", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 1+timeKeyLen || b[0] != cursorV1 {
		return nil, fmt.Errorf("archive: cursor: %w", ErrInvalid)
	}
	return b[1:], nil
}

type listItem struct {
	key [timeKeyLen]byte
	rec *Recording
}

// List returns recordings newest first (by StartTime, else Received) and a
// cursor for the next page ("" at the end). Without Match it walks the time
// index and decrypts only the recordings it returns; with Match it decrypts
// candidates in batches; with Text it walks the search index's candidates
// (search.go). The cursor is a position in the time index, so pages stay
// stable while new recordings arrive.
func (a *Archive) List(ctx context.Context, q Query) ([]*Recording, string, error) {
	limit, upper, lower, err := listBounds(q)
	if err != nil {
		return nil, "", err
	}
	var text *textQuery
	if q.Text != "" {
		if text, err = a.prepareText(ctx, q.Text); err != nil {
			return nil, "", fmt.Errorf("archive: list: %w", err)
		}
	}
	walk := descWalk(bucketByTime, lower)
	if text != nil {
		walk = text.walk(lower, nil, walk)
	}
	return a.page(ctx, limit, upper, walk, text.keep(q.Match))
}

// page collects up to limit recordings newest first from the time keys
// that walk yields below upper (walk is opened anew in each short read
// transaction), decrypting candidates in batches — growing ones when keep
// filters — and returns them with the cursor after the last ("" at the
// end). keep (nil = all) sees every decrypted candidate.
func (a *Archive) page(ctx context.Context, limit int, upper []byte,
	walk func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool), keep func(*Recording) bool) ([]*Recording, string, error) {
	var out []*Recording
	grow := 0 // with keep: candidates per batch grow up to matchBatch
	for {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		need := limit - len(out)
		decrypt := need
		if keep != nil {
			grow = min(max(grow*2, need), matchBatch)
			decrypt = max(need, grow)
		}
		var items []listItem
		more := false
		err := a.view(func(tx kv.Tx) error {
			next := prefetchRecordings(tx, walk(tx, upper), decrypt+1)
			for {
				k, ok := next()
				if !ok {
					return nil
				}
				if len(items) == decrypt {
					more = true
					return nil
				}
				id := ID(k[8:])
				r, err := a.recordingTx(tx, id)
				if err != nil {
					a.log.Error("archive list: unreadable recording skipped", "id", id.String(), "err", err)
					upper = bytes.Clone(k[:]) // keep the position
					continue
				}
				items = append(items, listItem{key: k, rec: r})
			}
		})
		if err != nil {
			return nil, "", fmt.Errorf("archive: list: %w", err)
		}
		for i := range items {
			it := &items[i]
			upper = it.key[:]
			if keep != nil && !keep(it.rec) {
				continue
			}
			out = append(out, it.rec)
			if len(out) == limit {
				if i < len(items)-1 || more {
					return out, encodeCursor(it.key[:]), nil
				}
				return out, "", nil
			}
		}
		if !more {
			return out, "", nil
		}
	}
}

// prefetchRecordings passes on the time keys next yields, reading ahead
// n at a time when tx is a Prefetcher: the metadata records and data keys
// of those recordings in one round trip each, instead of one (and an
// object GET) per recording.
func prefetchRecordings(tx kv.Tx, next func() ([timeKeyLen]byte, bool), n int) func() ([timeKeyLen]byte, bool) {
	p, ok := tx.(kv.Prefetcher)
	if !ok {
		return next
	}
	var buf [][timeKeyLen]byte
	done := false
	return func() ([timeKeyLen]byte, bool) {
		if len(buf) == 0 && !done {
			ids := make([][]byte, 0, n)
			for len(buf) < n {
				k, ok := next()
				if !ok {
					done = true
					break
				}
				buf = append(buf, k)
				ids = append(ids, bytes.Clone(k[8:]))
			}
			p.Prefetch(bucketRecs, ids)
			p.Prefetch(bucketDataKeys, ids)
		}
		if len(buf) == 0 {
			return [timeKeyLen]byte{}, false
		}
		k := buf[0]
		buf = buf[1:]
		return k, true
	}
}

// ByCall returns all recordings (segments) of a call, ordered by StartTime
// then Received. The call index holds only a keyed hash of the GUID.
func (a *Archive) ByCall(ctx context.Context, guid string) ([]*Recording, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if guid == "" {
		return nil, fmt.Errorf("archive: by call: empty call id: %w", ErrInvalid)
	}
	h := a.callHash(guid)
	var out []*Recording
	err := a.view(func(tx kv.Tx) error {
		c := tx.Bucket(bucketByCall).Cursor()
		for k, _ := c.Seek(h[:]); k != nil && bytes.HasPrefix(k, h[:]); k, _ = c.Next() {
			if len(k) != callKeyLen {
				continue
			}
			id := ID(k[callHashLen:])
			r, err := a.recordingTx(tx, id)
			if err != nil {
				a.log.Error("archive by call: unreadable recording skipped", "id", id.String(), "err", err)
				continue
			}
			if r.CallGUID == guid {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: by call: %w", err)
	}
	slices.SortFunc(out, func(x, y *Recording) int {
		return cmp.Or(x.StartTime.Compare(y.StartTime), x.Received.Compare(y.Received), bytes.Compare(x.ID[:], y.ID[:]))
	})
	return out, nil
}

func (a *Archive) callHash(guid string) [callHashLen]byte {
	h := keyedHash(a.keys.index, "call", guid)
	return [callHashLen]byte(h[:callHashLen])
}

func (a *Archive) callKey(guid string, id ID) []byte {
	h := a.callHash(guid)
	return append(h[:], id[:]...)
}

func (a *Archive) origKey(sum []byte, id ID) []byte {
	h := keyedHash(a.keys.index, "orig", hex.EncodeToString(sum))
	return append(h[:callHashLen], id[:]...)
}

// ByOriginal returns the recordings whose stored original has the SHA-256
// sum (of the capture as stored: a gzip upload's decompressed bytes), via
// a keyed-hash index. An import uses it to skip what is already there.
func (a *Archive) ByOriginal(ctx context.Context, sum [32]byte) ([]ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := a.origKey(sum[:], ID{})[:callHashLen]
	var out []ID
	err := a.view(func(tx kv.Tx) error {
		c := tx.Bucket(bucketByOrig).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) == callKeyLen {
				out = append(out, ID(k[callHashLen:]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: by original: %w", err)
	}
	return out, nil
}

// Unfinished returns the recordings left in state "recording" — cut off by
// a crash or still being written by this process, but not those another
// live process is writing (claims.go), which it claims for this one. The
// caller Resumes them, reparses, Finishes them as interrupted and Seals
// them.
func (a *Archive) Unfinished(ctx context.Context) ([]ID, error) {
	ids, err := a.idsIn(ctx, bucketUnfinished)
	if err != nil {
		return nil, err
	}
	return a.claimUnfinished(ctx, ids)
}

// Unsealed returns the recordings that are finished but not sealed.
func (a *Archive) Unsealed(ctx context.Context) ([]ID, error) {
	return a.idsIn(ctx, bucketUnsealed)
}

func (a *Archive) idsIn(ctx context.Context, bucket []byte) ([]ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ids []ID
	err := a.view(func(tx kv.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			if len(k) == len(ID{}) {
				ids = append(ids, ID(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archive: list %s: %w", bucket, err)
	}
	return ids, nil
}

// chunkSize returns the plaintext size of the recording's full chunks.
func (m *metaRecord) chunkSize() int {
	if m.Chunk == 0 {
		return legacyChunkSize
	}
	return m.Chunk
}
