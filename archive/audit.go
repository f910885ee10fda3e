package archive

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// AuditEvent is one entry of the audit log: who (Actor, a login or "" when
// unknown) did what (Action) to what (Target: a recording ID, a login, a
// setting), from where (Remote: the client address), whether it succeeded,
// and free-form Detail. Actions are short dotted names: "login",
// "logout", "play", "download", "verify", "note.add", "note.edit",
// "note.delete", "settings.change", "user.create", "user.change",
// "user.delete", "token.create", "token.revoke", "key.rotate",
// "webdav.get", "original.get" (others are allowed).
//
// Audit fills Seq and Hash and, when zero, Time. Detail must never hold
// a password, token or key.
type AuditEvent struct {
	Seq    uint64
	Time   time.Time
	Actor  string
	Action string
	Target string
	Remote string
	OK     bool
	Detail string
	// Hash is sha256 of the stored entry, which includes the previous
	// entry's hash: the chain link.
	Hash [32]byte
}

// Limits on audit fields; longer values are cut (at a rune boundary and
// marked with "…"), invalid UTF-8 is replaced, so recording an event never
// fails because of what a client sent.
const (
	maxAuditField  = 512
	maxAuditDetail = 8 << 10
	maxAuditAction = 64
	auditBatch     = 512 // entries per read transaction
	maxAuditLimit  = 1000
	auditHeaderLen = 1 + 8 + 8 + 32
	auditCursorV1  = 1
)

const (
	aadAudit          = "callvault audit\x00"
	auditGenesisLabel = "callvault audit genesis\x00"
	auditHeadLabel    = "audit.head"
)

// auditBody is the encrypted part of an entry.
type auditBody struct {
	Actor  string `json:"actor,omitempty"`
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
	Remote string `json:"remote,omitempty"`
	OK     bool   `json:"ok,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// auditEntry is an entry as stored: header (0x01 ‖ u64 seq ‖ i64 time ‖
// prev(32)) ‖ box(state key, AAD "callvault audit\0" ‖ 0x01 ‖ header,
// JSON body). Its hash is sha256 of the whole value.
type auditEntry struct {
	seq  uint64
	time int64
	prev [32]byte
	box  []byte
}

func (e *auditEntry) header() []byte {
	b := make([]byte, 0, auditHeaderLen)
	b = append(b, curFormat)
	b = binary.BigEndian.AppendUint64(b, e.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.time))
	return append(b, e.prev[:]...)
}

func (e *auditEntry) marshal() []byte { return append(e.header(), e.box...) }

func parseAuditEntry(b []byte) (*auditEntry, error) {
	if len(b) < auditHeaderLen+boxOverhead || b[0] < minFormat || b[0] > curFormat {
		return nil, errEntry
	}
	e := &auditEntry{
		seq:  binary.BigEndian.Uint64(b[1:]),
		time: int64(binary.BigEndian.Uint64(b[9:])),
		prev: [32]byte(b[17:49]),
		box:  bytes.Clone(b[auditHeaderLen:]),
	}
	if e.seq == 0 {
		return nil, errEntry
	}
	return e, nil
}

// auditGenesis is the prev of audit entry 1: sha256("callvault audit
// genesis\0" ‖ seal public key).
func auditGenesis(pub []byte) [32]byte {
	return sha256.Sum256(append([]byte(auditGenesisLabel), pub...))
}

// auditHeadMAC authenticates the stored head, so that entries cut from the
// end of the log are detected by whoever lacks the archive key.
func (a *Archive) auditHeadMAC(seq uint64, h [32]byte) [32]byte {
	return keyedHash(a.keys.index, auditHeadLabel, string(append(seqKey(seq), h[:]...)))
}

// auditTail returns the last sequence number and hash of the audit log.
func (a *Archive) auditTail(tx kv.Tx) (uint64, [32]byte, error) {
	v := tx.Bucket(bucketMeta).Get(metaAuditHead)
	if v == nil {
		if k, _ := tx.Bucket(bucketAudit).Cursor().First(); k != nil {
			return 0, [32]byte{}, fmt.Errorf("archive: audit head record missing: %w", ErrCorrupt)
		}
		return 0, auditGenesis(a.keys.sealPub), nil
	}
	if len(v) != 8+32+32 {
		return 0, [32]byte{}, fmt.Errorf("archive: audit head record: %w", ErrCorrupt)
	}
	seq, h := binary.BigEndian.Uint64(v), [32]byte(v[8:40])
	mac := a.auditHeadMAC(seq, h)
	if !hmac.Equal(mac[:], v[40:]) {
		return 0, [32]byte{}, fmt.Errorf("archive: audit head record: %w", ErrCorrupt)
	}
	return seq, h, nil
}

// cutField makes s valid UTF-8 of at most n bytes.
func cutField(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

// Audit appends an event to the audit log and returns when it is durable.
// The log is append-only and hash-chained (each entry's hash covers the
// previous entry's hash); entries are encrypted under the state key. An
// empty Action is ErrInvalid; overlong or invalid UTF-8 fields are cut or
// repaired rather than refused.
func (a *Archive) Audit(ctx context.Context, e AuditEvent) error {
	plain, err := auditPlain(e)
	if err != nil {
		return err
	}
	err = a.update(ctx, func(tx kv.Tx) error { return a.appendAuditTx(tx, e.Time, plain) })
	if err != nil {
		return fmt.Errorf("archive: audit: %w", err)
	}
	return nil
}

// AddrHost is the address in remote without its port ("192.0.2.1:5060",
// "[2001:db8::1]:443" → the address); other text is returned as it is.
// The audit log stores sources this way, and shows older entries so.
func AddrHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// auditPlain checks e's action and returns its body as stored (fields
// cut or repaired).
func auditPlain(e AuditEvent) ([]byte, error) {
	action := strings.TrimSpace(e.Action)
	if action == "" || len(action) > maxAuditAction {
		return nil, fmt.Errorf("archive: audit: action empty or longer than %d bytes: %w", maxAuditAction, ErrInvalid)
	}
	body := auditBody{
		Actor:  cutField(e.Actor, maxAuditField),
		Action: cutField(action, maxAuditAction),
		Target: cutField(e.Target, maxAuditField),
		Remote: cutField(AddrHost(e.Remote), maxAuditField),
		OK:     e.OK,
		Detail: cutField(e.Detail, maxAuditDetail),
	}
	plain, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("archive: audit: %w", err)
	}
	return plain, nil
}

// appendAuditTx appends the entry with body plain (from auditPlain) at
// time when (zero: the archive's clock) inside tx, so that an action and
// its audit entry commit together.
func (a *Archive) appendAuditTx(tx kv.Tx, when time.Time, plain []byte) error {
	seq, prev, err := a.auditTail(tx)
	if err != nil {
		return err
	}
	if when.IsZero() {
		when = a.now()
	}
	en := &auditEntry{seq: seq + 1, time: when.UnixNano(), prev: prev}
	en.box = boxSeal(a.keys.state, boxAAD(aadAudit, en.header()), plain)
	v := en.marshal()
	if err := tx.Bucket(bucketAudit).Put(seqKey(en.seq), v); err != nil {
		return err
	}
	h := sha256.Sum256(v)
	mac := a.auditHeadMAC(en.seq, h)
	head := append(append(seqKey(en.seq), h[:]...), mac[:]...)
	return tx.Bucket(bucketMeta).Put(metaAuditHead, head)
}

// openAuditEntry authenticates and decodes an entry.
func (a *Archive) openAuditEntry(e *auditEntry) (*AuditEvent, error) {
	plain, err := boxOpen(a.keys.state, boxAAD(aadAudit, e.header()), e.box)
	if err != nil {
		return nil, errAuth
	}
	var b auditBody
	if err := json.Unmarshal(plain, &b); err != nil || b.Action == "" {
		return nil, errEntry
	}
	return &AuditEvent{
		Seq: e.seq, Time: time.Unix(0, e.time).UTC(),
		Actor: b.Actor, Action: b.Action, Target: b.Target, Remote: b.Remote, OK: b.OK, Detail: b.Detail,
		Hash: sha256.Sum256(e.marshal()),
	}, nil
}

// AuditQuery selects audit events for AuditLog.
type AuditQuery struct {
	// From and To bound the event time: From <= t < To; zero leaves a
	// side open. The log is walked newest first and the walk stops at
	// the first event older than From.
	From, To time.Time
	// Actor matches the actor exactly (case-insensitive).
	Actor string
	// Action matches the action exactly or as a dotted prefix ("note"
	// matches "note.add").
	Action string
	// Text matches a case-insensitive substring of actor, action,
	// target, remote or detail.
	Text string
	// Limit is the page size: default 100, at most 1000.
	Limit int
	// Cursor continues after the page that returned it ("" = newest).
	Cursor string
}

func (q *AuditQuery) match(e *AuditEvent) bool {
	t := e.Time
	if !q.To.IsZero() && !t.Before(q.To) {
		return false
	}
	if q.Actor != "" && !strings.EqualFold(q.Actor, e.Actor) {
		return false
	}
	if q.Action != "" && e.Action != q.Action && !strings.HasPrefix(e.Action, q.Action+".") {
		return false
	}
	if q.Text != "" {
		needle := strings.ToLower(q.Text)
		found := false
		for _, s := range []string{e.Actor, e.Action, e.Target, e.Remote, e.Detail} {
			if strings.Contains(strings.ToLower(s), needle) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func encodeAuditCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64([]byte{auditCursorV1}, seq))
}

func parseAuditCursor(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 9 || b[0] != auditCursorV1 {
		return 0, fmt.Errorf("archive: audit cursor: %w", ErrInvalid)
	}
	seq := binary.BigEndian.Uint64(b[1:])
	if seq == 0 || encodeAuditCursor(seq) != s {
		return 0, fmt.Errorf("archive: audit cursor: %w", ErrInvalid)
	}
	return seq, nil
}

// AuditLog returns audit events newest first and a cursor for the next
// page ("" at the end). Filters run on decrypted entries, walked in
// batches, each in its own short read transaction. An entry that does not
// authenticate is skipped here (VerifyAudit reports it).
func (a *Archive) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEvent, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxAuditLimit)
	var below uint64 // walk seq < below; 0 = from the end
	if q.Cursor != "" {
		var err error
		if below, err = parseAuditCursor(q.Cursor); err != nil {
			return nil, "", err
		}
	}
	var out []AuditEvent
	for {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		var raws [][]byte
		var seqs []uint64
		err := a.view(func(tx kv.Tx) error {
			c := tx.Bucket(bucketAudit).Cursor()
			var k, v []byte
			if below == 0 {
				k, v = c.Last()
			} else if k, _ = c.Seek(seqKey(below)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			for ; k != nil && len(raws) < auditBatch; k, v = c.Prev() {
				if len(k) != seqKeyLen {
					continue
				}
				raws = append(raws, bytes.Clone(v))
				seqs = append(seqs, binary.BigEndian.Uint64(k))
			}
			return nil
		})
		if err != nil {
			return nil, "", fmt.Errorf("archive: audit log: %w", err)
		}
		if len(raws) == 0 {
			return out, "", nil
		}
		for i, raw := range raws {
			seq := seqs[i]
			below = seq
			en, err := parseAuditEntry(raw)
			if err != nil || en.seq != seq {
				continue
			}
			ev, err := a.openAuditEntry(en)
			if err != nil {
				continue
			}
			if !q.From.IsZero() && ev.Time.Before(q.From) {
				return out, "", nil
			}
			if !q.match(ev) {
				continue
			}
			out = append(out, *ev)
			if len(out) == limit {
				if seq > 1 {
					return out, encodeAuditCursor(seq), nil
				}
				return out, "", nil
			}
		}
		if below <= 1 {
			return out, "", nil
		}
	}
}

// VerifyAudit walks the whole audit log and checks that every entry
// authenticates under the archive key, that sequence numbers are
// contiguous from 1 (a gap is a removed entry), that each entry links to
// the previous entry's hash (a removed, inserted or replaced entry breaks
// the link), and that the last entry is the authenticated head (entries
// cut from the end). Entries, HeadSeq and Head are filled in; Head can be
// anchored outside the appliance, which also detects a rollback of the
// whole file. It returns an error only when it could not run.
func (a *Archive) VerifyAudit(ctx context.Context) (*VerifyResult, error) {
	res := &VerifyResult{}
	var (
		headSeq   uint64
		headHash  [32]byte
		headErr   error
		haveHead  bool
		expectSeq uint64 = 1
		prev             = auditGenesis(a.keys.sealPub)
		after     []byte // last key seen
		done      bool
	)
	err := a.view(func(tx kv.Tx) error {
		v := tx.Bucket(bucketMeta).Get(metaAuditHead)
		haveHead = v != nil
		headSeq, headHash, headErr = a.auditTail(tx)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: verify audit: %w", err)
	}
	if headErr != nil {
		res.problem("audit head record is missing or does not authenticate")
	}
	for !done {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		type pair struct{ k, v []byte }
		var batch []pair
		err := a.view(func(tx kv.Tx) error {
			c := tx.Bucket(bucketAudit).Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
			for ; k != nil && len(batch) < auditBatch; k, v = c.Next() {
				batch = append(batch, pair{bytes.Clone(k), bytes.Clone(v)})
			}
			done = k == nil
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("archive: verify audit: %w", err)
		}
		for _, it := range batch {
			after = it.k
			res.Entries++
			if len(it.k) != seqKeyLen {
				res.problem("audit: malformed key %x (inserted entry)", it.k)
				continue
			}
			seq := binary.BigEndian.Uint64(it.k)
			if seq != expectSeq {
				if seq > expectSeq {
					res.problem("audit: entries %d..%d missing", expectSeq, seq-1)
				} else {
					res.problem("audit: entry %d out of order", seq)
				}
			}
			expectSeq = seq + 1
			en, err := parseAuditEntry(it.v)
			if err != nil || en.seq != seq {
				res.problem("audit entry %d: malformed", seq)
				prev = sha256.Sum256(it.v)
				continue
			}
			if en.prev != prev {
				res.problem("audit entry %d: does not link to the previous entry", seq)
			}
			if _, err := a.openAuditEntry(en); err != nil {
				res.problem("audit entry %d: does not authenticate", seq)
			}
			prev = sha256.Sum256(it.v)
			res.HeadSeq, res.Head = seq, prev
		}
	}
	last := expectSeq - 1
	switch {
	case headErr != nil:
	case !haveHead && last != 0:
		res.problem("audit head record missing")
	case haveHead && (headSeq != last || headHash != prev):
		if headSeq > last {
			res.problem("audit: entries after %d missing (head is %d)", last, headSeq)
		} else {
			res.problem("audit: head is entry %d, the log ends at %d", headSeq, last)
		}
	}
	res.Valid = len(res.Problems) == 0
	return res, nil
}
