package share

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
)

// Limits of a grant.
const (
	MaxRecordings = 40
	MaxDays       = 365
	maxText       = 4096
	maxBody       = 32 << 10
)

// Statuses of a grant.
const (
	StatusValid     = "valid"
	StatusExpired   = "expired"
	StatusCancelled = "cancelled"
)

// Audit actions.
const (
	actionSend     = "share.send"
	actionInternal = "share.internal"
	actionCancel   = "share.cancel"
	actionExpire   = "share.expire"
	actionConfig   = "share.config"
	actionPlay     = "play"
	// The recipient's steps on the playback page (http.go).
	actionCodeRequest = "share.code.request"
	actionCodeEnter   = "share.code.enter"
	actionTerms       = "share.terms.accept"
)

// SendRequest is an external link to send.
type SendRequest struct {
	Recordings       []string // recording ids
	RecipientName    string
	RecipientEmail   string
	Reason           string
	Days             int // today and Days more days
	Subject, Body    string
	Language         string
	ShowAccessNumber bool
	ShowQueueName    bool
}

// Grant is a sent external link's grant, as Send returns it.
type Grant struct {
	ID        string
	ExpiresAt time.Time
	Status    string
}

// Entry is one grant in the log of external links.
type Entry struct {
	ID             string
	RecipientEmail string
	RecipientName  string
	Sender         string
	Reason         string
	Recordings     []string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	Status         string
	CancelledBy    string
	CancelledAt    time.Time
	MailStatus     string // queued, sent, failed, dropped, outbox
	MailError      string
}

// grantRecord is a grant as stored (sealed under the log key). It
// outlives the grant's copies.
type grantRecord struct {
	ID          string    `json:"id"`
	Link        string    `json:"link"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Sender      string    `json:"sender"`
	Reason      string    `json:"reason"`
	Recordings  []string  `json:"recordings"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Language    string    `json:"language"`
	Cancelled   bool      `json:"cancelled,omitempty"`
	CancelledBy string    `json:"cancelledBy,omitempty"`
	CancelledAt time.Time `json:"cancelledAt,omitzero"`
	Destroyed   bool      `json:"destroyed,omitempty"`
	Mail        uint64    `json:"mail"`
}

func (g *grantRecord) status(now time.Time) string {
	switch {
	case g.Cancelled:
		return StatusCancelled
	case g.Destroyed || now.After(g.Expires):
		return StatusExpired
	}
	return StatusValid
}

// recMeta is one copied recording (sealed under the grant key).
type recMeta struct {
	ID           string    `json:"id"`
	Start        time.Time `json:"start"`
	DurationMs   int64     `json:"durationMs"`
	AccessNumber string    `json:"accessNumber,omitempty"`
	QueueName    string    `json:"queueName,omitempty"`
	Size         int64     `json:"size"`
}

// linkRecord is a recipient's link (sealed under the log key).
type linkRecord struct {
	ID     string   `json:"id"`
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Grants []string `json:"grants"`
	// Codes are the active codes, one per source that asked for one.
	Codes []codeRecord `json:"codes,omitempty"`
	// Issued are the codes mailed in the last day: when, for which source.
	Issued []sourceTime `json:"issued,omitempty"`
	// Opened are the sources a right code came from, the latest last.
	Opened []sourceTime `json:"opened,omitempty"`
}

// codeRecord is a source's active code: its HMAC, expiry and wrong
// entries. Sources are kept as HMACs (see Service.sourceKey).
type codeRecord struct {
	Source []byte    `json:"source"`
	MAC    []byte    `json:"mac"`
	Until  time.Time `json:"until"`
	Wrong  int       `json:"wrong,omitempty"`
}

// sourceTime is a source and a time.
type sourceTime struct {
	Source []byte    `json:"source"`
	At     time.Time `json:"at"`
}

func (s *Service) now() time.Time { return s.arc.Now() }

// location is the appliance's time zone (archive settings).
func (s *Service) location(ctx context.Context) (*time.Location, string) {
	st, err := s.arc.Settings(ctx)
	if err == nil {
		if loc, err := time.LoadLocation(st.TimeZone); err == nil {
			return loc, st.TimeZone
		}
	}
	return time.UTC, "UTC"
}

// endOfDay is 23:59:59 of the day days after now's, in loc.
func endOfDay(now time.Time, days int, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d+days, 23, 59, 59, 0, loc)
}

func validText(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\r\n")
}

func validEmail(s string) bool {
	if !validText(s, 254) || s == "" {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

func (s *Service) mayReadRecordings(ctx context.Context, u *archive.User, ids []string) ([]*archive.Recording, error) {
	if len(ids) == 0 {
		return nil, badRequest("choose at least one recording")
	}
	if len(ids) > MaxRecordings {
		return nil, badRequest("at most %d recordings per link", MaxRecordings)
	}
	var recs []*archive.Recording
	seen := map[archive.ID]bool{}
	for _, s0 := range ids {
		id, err := archive.ParseID(s0)
		if err != nil {
			return nil, &Error{Status: http.StatusNotFound, Msg: "recording not found"}
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		rec, err := s.arc.Get(ctx, id)
		if errors.Is(err, archive.ErrNotFound) || (err == nil && !archive.MayRead(u, rec)) {
			return nil, &Error{Status: http.StatusNotFound, Msg: "recording " + id.String() + " not found"}
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func maySend(u *archive.User) error {
	if u == nil || u.Disabled || !(u.MaySendLinks || u.Role == archive.RoleAdmin) {
		return &Error{Status: http.StatusForbidden, Msg: "you may not send links"}
	}
	return nil
}

// validate checks req against the configuration c.
func (req *SendRequest) validate(c *Config) error {
	switch {
	case strings.TrimSpace(req.RecipientName) == "" || !validText(req.RecipientName, 256):
		return badRequest("the recipient's name is required (one line, at most 256 bytes)")
	case !validEmail(req.RecipientEmail):
		return badRequest("the recipient's email address is required and must be a plain address (name@example.org)")
	case strings.TrimSpace(req.Reason) == "" || !utf8.ValidString(req.Reason) || len(req.Reason) > maxText:
		return badRequest("the reason is required (at most %d bytes)", maxText)
	case req.Days < 0 || req.Days > MaxDays:
		return badRequest("days must be 0..%d", MaxDays)
	case !validText(req.Subject, 512):
		return badRequest("the subject must be one line of at most 512 bytes")
	case !utf8.ValidString(req.Body) || len(req.Body) > maxBody:
		return badRequest("the body must be text of at most %d bytes", maxBody)
	case !strings.Contains(req.Body, "{{link}}"):
		return badRequest("the body must contain {{link}}")
	case !validLanguage(req.Language) || c.terms(req.Language) == "":
		return badRequest("choose a language that has terms of use")
	}
	return nil
}

// Send copies the recordings into the external store under a new grant
// for the recipient, logs it, and queues the link mail, all in one
// transaction; then it audits and wakes the mailer.
func (s *Service) Send(ctx context.Context, sender *archive.User, remote string, req SendRequest) (*Grant, error) {
	if err := maySend(sender); err != nil {
		return nil, err
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	if err := req.validate(cfg); err != nil {
		return nil, err
	}
	if base, _ := s.baseURLs(); base == "" {
		return nil, &Error{Status: http.StatusServiceUnavailable, Msg: "links cannot be sent: no listener serves the playback zone and share.public_url is not set"}
	}
	recs, err := s.mayReadRecordings(ctx, sender, req.Recordings)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.State == archive.StateRecording {
			return nil, &Error{Status: http.StatusConflict, Msg: "recording " + rec.ID.String() + " is still being recorded"}
		}
		if len(recinfo.ParseLenient(rec.Info).Result.Calls) == 0 {
			return nil, &Error{Status: http.StatusUnprocessableEntity, Msg: "recording " + rec.ID.String() + " holds no call that can be played"}
		}
		if _, err := s.arc.CheckPlayback(ctx, rec.ID); err != nil {
			if errors.Is(err, archive.ErrCorrupt) {
				return nil, &Error{Status: http.StatusUnprocessableEntity, Msg: "recording " + rec.ID.String() + " failed its integrity check"}
			}
			return nil, err
		}
	}
	email := strings.ToLower(req.RecipientEmail)
	now := s.now()
	loc, zone := s.location(ctx)
	expires := endOfDay(now, req.Days, loc)

	gid := randomBytes(idLen)
	gkey := randomBytes(32)
	defer clear(gkey)
	ga, err := newAEAD(gkey)
	if err != nil {
		return nil, err
	}
	// The copies go in first, in transactions of their own; the grant
	// commits last. Copies of a grant that never committed are dropped
	// when the Send fails, or at the next Open.
	s.setCopying(gid, true)
	defer s.setCopying(gid, false)
	metas := make([]recMeta, len(recs))
	for i, rec := range recs {
		m, err := s.copyRecording(ctx, ga, gid, uint16(i), rec, req.ShowAccessNumber, req.ShowQueueName)
		if err != nil {
			s.setCopying(gid, false)
			s.db.Update(func(tx *bolt.Tx) error { return s.dropOrphansTx(tx) })
			return nil, fmt.Errorf("share: copying recording %s: %w", rec.ID, err)
		}
		metas[i] = m
	}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID.String()
	}
	g := &grantRecord{ID: hex.EncodeToString(gid), Email: email, Name: req.RecipientName, Sender: sender.Login,
		Reason: req.Reason, Recordings: ids, Created: now, Expires: expires, Language: req.Language}
	from := s.From(cfg)
	base, _ := s.baseURLs()
	// The key's slot is written and synced before the commit that refers
	// to it; a crash in between leaves a slot the next Open zeroes.
	slot, ref, err := s.storeKey(gid, gkey)
	if err != nil {
		s.setCopying(gid, false)
		s.db.Update(func(tx *bolt.Tx) error { return s.dropOrphansTx(tx) })
		return nil, fmt.Errorf("share: send: %w", err)
	}
	if s.crash("send: key stored") {
		return nil, errCrashed
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		link, token, err := s.linkForTx(tx, email, req.RecipientName)
		if err != nil {
			return err
		}
		g.Link = link.ID
		link.Grants = append(link.Grants, g.ID)
		link.Name = req.RecipientName
		if err := s.putLinkTx(tx, link); err != nil {
			return err
		}
		url := base + "/p/" + token
		if token == "" {
			// The address has a link already: its token is stored only
			// hashed, so the mail names a fresh one for the same link.
			token = newToken()
			if err := tx.Bucket(bTokens).Put(hashToken(token), []byte(link.ID)); err != nil {
				return err
			}
			url = base + "/p/" + token
		}
		body := strings.NewReplacer("{{link}}", url, "{{expires}}", expires.Format("02.01.2006 15:04")+" ("+zone+")",
			"{{recipient}}", req.RecipientName).Replace(req.Body)
		subject := strings.NewReplacer("{{recipient}}", req.RecipientName).Replace(req.Subject)
		g.Mail, err = s.queueTx(tx, mailRecord{Kind: "link", Msg: mailMsg{To: email, ToName: req.RecipientName, From: from,
			Subject: subject, Body: body}, Queued: now})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bKeys).Put(gid, ref); err != nil {
			return err
		}
		box, err := sealJSON(ga, "recordings", gid, metas)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bRecs).Put(gid, box); err != nil {
			return err
		}
		if s.crash("send: before commit") {
			return errCrashed // a failed commit
		}
		return s.putGrantTx(tx, g)
	})
	if err != nil {
		s.wipeSlots([]uint64{slot})
		s.setCopying(gid, false)
		s.db.Update(func(tx *bolt.Tx) error { return s.dropOrphansTx(tx) })
		return nil, fmt.Errorf("share: send: %w", err)
	}
	s.audit(ctx, sender.Login, remote, actionSend, strings.Join(ids, ","), "to "+req.RecipientName+" <"+email+">, until "+expires.Format(time.RFC3339)+"; reason: "+req.Reason)
	s.kick()
	s.wakeRun()
	return &Grant{ID: g.ID, ExpiresAt: expires, Status: StatusValid}, nil
}

func (s *Service) audit(ctx context.Context, actor, remote, action, target, detail string) {
	err := s.arc.Audit(context.WithoutCancel(ctx), archive.AuditEvent{Actor: actor, Action: action, Target: target,
		Remote: remote, OK: true, Detail: detail})
	if err != nil {
		s.log.ErrorContext(ctx, "share: audit", "action", action, "err", err)
	}
}

// newToken is a link token: 192 random bits, base64url.
func newToken() string { return encodeToken(randomBytes(24)) }

// copyRecording renders rec's stereo WAV and stores it in chunks sealed
// under the grant key.
func (s *Service) copyRecording(ctx context.Context, ga interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
}, gid []byte, idx uint16, rec *archive.Recording, showNumber, showQueue bool) (recMeta, error) {
	info := recinfo.ParseLenient(rec.Info)
	m := recMeta{ID: rec.ID.String(), Start: rec.StartTime, DurationMs: rec.DurationMs}
	if len(info.Result.Calls) > 0 {
		c := info.Result.Calls[0]
		if m.Start.IsZero() {
			m.Start = c.Start
		}
		if m.DurationMs == 0 {
			m.DurationMs = c.DurationMs
		}
		if showNumber {
			m.AccessNumber = c.To.Number
		}
		if showQueue && c.To.Name != c.To.Number {
			m.QueueName = c.To.Name
		}
	}
	wav, err := s.media.WAV(ctx, []*archive.Recording{rec}, -1, codec.WAVOptions{})
	if err != nil {
		return m, err
	}
	buf := make([]byte, chunkSize)
	var n uint32
	var batch [][]byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		first := n - uint32(len(batch))
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bChunks)
			for i, c := range batch {
				k := chunkKey(gid, idx, first+uint32(i))
				if err := b.Put(k, c); err != nil {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		k, err := io.ReadFull(wav, buf)
		if k > 0 {
			ck := chunkKey(gid, idx, n)
			batch = append(batch, ga.Seal(nil, chunkNonce(idx, n), buf[:k], ad("chunk", ck)))
			m.Size += int64(k)
			n++
			if len(batch) == 64 {
				if err := flush(); err != nil {
					return m, err
				}
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return m, err
		}
	}
	return m, flush()
}

// linkForTx returns the link of email, or a new one with its token; the
// token is "" for an existing link.
func (s *Service) linkForTx(tx *bolt.Tx, email, name string) (*linkRecord, string, error) {
	ak := s.addrKey(email)
	if id := tx.Bucket(bAddrs).Get(ak); id != nil {
		l, err := s.linkTx(tx, string(id))
		return l, "", err
	}
	token := newToken()
	l := &linkRecord{ID: hex.EncodeToString(randomBytes(idLen)), Email: email, Name: name}
	if err := tx.Bucket(bAddrs).Put(ak, []byte(l.ID)); err != nil {
		return nil, "", err
	}
	if err := tx.Bucket(bTokens).Put(hashToken(token), []byte(l.ID)); err != nil {
		return nil, "", err
	}
	return l, token, nil
}

func (s *Service) addrKey(email string) []byte { return s.mac("address", email) }

func (s *Service) linkTx(tx *bolt.Tx, id string) (*linkRecord, error) {
	box := tx.Bucket(bLinks).Get([]byte(id))
	if box == nil {
		return nil, errNoLink
	}
	l := new(linkRecord)
	if err := openJSON(s.logKey, "link", []byte(id), box, l); err != nil {
		return nil, err
	}
	return l, nil
}

var errNoLink = errors.New("share: no such link")

func (s *Service) putLinkTx(tx *bolt.Tx, l *linkRecord) error {
	box, err := sealJSON(s.logKey, "link", []byte(l.ID), l)
	if err != nil {
		return err
	}
	return tx.Bucket(bLinks).Put([]byte(l.ID), box)
}

func (s *Service) grantTx(tx *bolt.Tx, id string) (*grantRecord, error) {
	box := tx.Bucket(bGrants).Get([]byte(id))
	if box == nil {
		return nil, &Error{Status: http.StatusNotFound, Msg: "no such link"}
	}
	g := new(grantRecord)
	if err := openJSON(s.logKey, "grant", []byte(id), box, g); err != nil {
		return nil, err
	}
	return g, nil
}

func (s *Service) putGrantTx(tx *bolt.Tx, g *grantRecord) error {
	box, err := sealJSON(s.logKey, "grant", []byte(g.ID), g)
	if err != nil {
		return err
	}
	return tx.Bucket(bGrants).Put([]byte(g.ID), box)
}

// destroyTx deletes a grant's key reference, recording list and copies,
// and returns the slot of its key (0 for none), which the caller zeroes
// once tx has committed (wipeSlots).
func (s *Service) destroyTx(tx *bolt.Tx, g *grantRecord) (uint64, error) {
	gid, err := hex.DecodeString(g.ID)
	if err != nil || len(gid) != idLen {
		return 0, fmt.Errorf("share: bad grant id")
	}
	var slot uint64
	if v := tx.Bucket(bKeys).Get(gid); v != nil {
		slot, _ = s.parseSlotRef(gid, v)
		if w, _ := s.slots.get(slot, gid); w == nil {
			slot = 0 // zero, or another grant's: not this grant's to wipe
		}
	}
	if err := tx.Bucket(bKeys).Delete(gid); err != nil {
		return 0, err
	}
	if err := tx.Bucket(bRecs).Delete(gid); err != nil {
		return 0, err
	}
	c := tx.Bucket(bChunks).Cursor()
	for k, _ := c.Seek(gid); len(k) >= idLen && string(k[:idLen]) == string(gid); k, _ = c.Seek(gid) {
		if err := c.Delete(); err != nil {
			return 0, err
		}
	}
	g.Destroyed = true
	return slot, nil
}

// Query selects log entries: Q matches the recipient's name or address,
// the sender, the reason or a recording id (case-insensitive); Status is
// "", valid, expired or cancelled.
type Query struct {
	Q      string
	Status string
}

// List returns the log of external links, newest first.
func (s *Service) List(ctx context.Context, q Query) ([]Entry, error) {
	if q.Status != "" && q.Status != StatusValid && q.Status != StatusExpired && q.Status != StatusCancelled {
		return nil, badRequest("status must be valid, expired or cancelled")
	}
	now := s.now()
	needle := strings.ToLower(strings.TrimSpace(q.Q))
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bGrants).ForEach(func(k, v []byte) error {
			g := new(grantRecord)
			if err := openJSON(s.logKey, "grant", k, v, g); err != nil {
				return err
			}
			st := g.status(now)
			if q.Status != "" && st != q.Status {
				return nil
			}
			if needle != "" && !slices.ContainsFunc(append([]string{g.Name, g.Email, g.Sender, g.Reason}, g.Recordings...),
				func(f string) bool { return strings.Contains(strings.ToLower(f), needle) }) {
				return nil
			}
			e := Entry{ID: g.ID, RecipientEmail: g.Email, RecipientName: g.Name, Sender: g.Sender, Reason: g.Reason,
				Recordings: g.Recordings, CreatedAt: g.Created, ExpiresAt: g.Expires, Status: st,
				CancelledBy: g.CancelledBy, CancelledAt: g.CancelledAt}
			if m, err := s.mailTx(tx, g.Mail); err == nil {
				e.MailStatus, e.MailError = m.Status, m.Error
			}
			out = append(out, e)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Entry) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, err
}

// Cancel ends a grant at once: its key and copies are destroyed, and the
// log says who cancelled it when. Admins, and the users who may see the
// external access page, may cancel.
func (s *Service) Cancel(ctx context.Context, by *archive.User, remote, id string) error {
	if by == nil || by.Disabled || !(by.Role == archive.RoleAdmin || by.MaySeeExternal) {
		return &Error{Status: http.StatusForbidden, Msg: "you may not cancel links"}
	}
	now := s.now()
	var g *grantRecord
	var slot uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if g, err = s.grantTx(tx, id); err != nil {
			return err
		}
		if g.status(now) != StatusValid {
			return &Error{Status: http.StatusConflict, Msg: "the link has " + g.status(now) + " already"}
		}
		if slot, err = s.destroyTx(tx, g); err != nil {
			return err
		}
		g.Cancelled, g.CancelledBy, g.CancelledAt = true, by.Login, now
		if s.crash("destroy: before commit") {
			return errCrashed // a failed commit
		}
		return s.putGrantTx(tx, g)
	})
	if err != nil {
		return err
	}
	// The key's slot is zeroed after the commit; a crash in between
	// leaves a slot no grant refers to, which the next Open zeroes.
	if s.crash("destroy: committed") {
		return errCrashed
	}
	s.wipeSlots([]uint64{slot})
	s.audit(ctx, by.Login, remote, actionCancel, strings.Join(g.Recordings, ","), "link "+g.ID+" to "+g.Email)
	return nil
}

// Expire destroys every grant past its end and returns how many.
func (s *Service) Expire(ctx context.Context) (int, error) {
	now := s.now()
	var done []*grantRecord
	var slots []uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		slots = slots[:0]
		var due []*grantRecord
		err := tx.Bucket(bGrants).ForEach(func(k, v []byte) error {
			g := new(grantRecord)
			if err := openJSON(s.logKey, "grant", k, v, g); err != nil {
				return err
			}
			if !g.Destroyed && now.After(g.Expires) {
				due = append(due, g)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, g := range due {
			slot, err := s.destroyTx(tx, g)
			if err != nil {
				return err
			}
			slots = append(slots, slot)
			if err := s.putGrantTx(tx, g); err != nil {
				return err
			}
		}
		done = due
		if len(due) > 0 && s.crash("destroy: before commit") {
			return errCrashed // a failed commit
		}
		// Sessions past their end go too.
		var ended [][]byte
		err = tx.Bucket(bSessions).ForEach(func(k, v []byte) error {
			var sr sessionRecord
			if json.Unmarshal(v, &sr) != nil || !sr.Expires.After(now) {
				ended = append(ended, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range ended {
			if err := tx.Bucket(bSessions).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("share: expire: %w", err)
	}
	if s.crash("destroy: committed") {
		return 0, errCrashed
	}
	s.wipeSlots(slots)
	for _, g := range done {
		s.audit(ctx, "", "", actionExpire, strings.Join(g.Recordings, ","), "link "+g.ID+" to "+g.Email+" ended "+g.Expires.Format(time.RFC3339))
	}
	return len(done), nil
}

// nextEnd is the end of the grant that ends first, zero for none.
func (s *Service) nextEnd() time.Time {
	var next time.Time
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bGrants).ForEach(func(k, v []byte) error {
			g := new(grantRecord)
			if openJSON(s.logKey, "grant", k, v, g) == nil && !g.Destroyed && (next.IsZero() || g.Expires.Before(next)) {
				next = g.Expires
			}
			return nil
		})
	})
	return next
}

func (s *Service) wakeRun() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run expires grants as they end, until ctx ends. It checks at least
// every minute, so a clock that jumps is followed.
func (s *Service) Run(ctx context.Context) {
	for {
		if _, err := s.Expire(ctx); err != nil {
			s.log.ErrorContext(ctx, "share: expiring links", "err", err)
		}
		wait := time.Minute
		if next := s.nextEnd(); !next.IsZero() {
			wait = min(wait, max(time.Second, next.Sub(s.now())+time.Second))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}
