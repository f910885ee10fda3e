package share

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/mail"
)

// Mail statuses.
const (
	MailQueued  = "queued"
	MailSent    = "sent"
	MailFailed  = "failed"
	MailDropped = "dropped"
	MailOutbox  = "outbox"
)

// mailMsg is mail.Message as stored.
type mailMsg struct {
	To      string `json:"to"`
	ToName  string `json:"toName,omitempty"`
	From    string `json:"from,omitempty"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	Secret  string `json:"secret,omitempty"`
}

// mailRecord is a queued mail (sealed under the log key). Once sent, Msg
// is cleared but for its address and subject: only metadata stays. In
// outbox mode the body is kept, with the secret masked.
type mailRecord struct {
	ID       uint64    `json:"id"`
	Kind     string    `json:"kind"` // link, code, internal
	Status   string    `json:"status"`
	Msg      mailMsg   `json:"msg"`
	Attempts int       `json:"attempts,omitempty"`
	Queued   time.Time `json:"queued"`
	Next     time.Time `json:"next,omitzero"`
	Expires  time.Time `json:"expires,omitzero"`
	Done     time.Time `json:"done,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// mask is the text that replaces a code wherever mail is shown.
const mask = "••••••"

func (m mailMsg) masked() mailMsg {
	if m.Secret != "" {
		m.Body = strings.ReplaceAll(m.Body, m.Secret, mask)
		m.Subject = strings.ReplaceAll(m.Subject, m.Secret, mask)
		m.Secret = ""
	}
	return m
}

func mailKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// queueTx queues m in tx and returns its id. In outbox mode it is kept,
// masked, for admins to read, and never sent.
func (s *Service) queueTx(tx *bolt.Tx, m mailRecord) (uint64, error) {
	b := tx.Bucket(bMail)
	id, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	m.ID, m.Status, m.Next = id, MailQueued, m.Queued
	if s.opt.Outbox {
		m.Status, m.Msg, m.Done = MailOutbox, m.Msg.masked(), m.Queued
	}
	return id, s.putMailTx(tx, &m)
}

func (s *Service) putMailTx(tx *bolt.Tx, m *mailRecord) error {
	k := mailKey(m.ID)
	box, err := sealJSON(s.logKey, "mail", k, m)
	if err != nil {
		return err
	}
	if m.Status == MailQueued {
		err = tx.Bucket(bMailQ).Put(k, nil)
	} else {
		err = tx.Bucket(bMailQ).Delete(k)
	}
	if err != nil {
		return err
	}
	return tx.Bucket(bMail).Put(k, box)
}

func (s *Service) mailTx(tx *bolt.Tx, id uint64) (*mailRecord, error) {
	k := mailKey(id)
	box := tx.Bucket(bMail).Get(k)
	if box == nil {
		return nil, fmt.Errorf("share: no mail %d", id)
	}
	m := new(mailRecord)
	return m, openJSON(s.logKey, "mail", k, box, m)
}

// Due returns up to max mails due at now (mail.Queue). Code mails whose
// code has expired are marked dropped instead.
func (s *Service) Due(ctx context.Context, now time.Time, max int) ([]mail.Pending, error) {
	var out []mail.Pending
	err := s.db.Update(func(tx *bolt.Tx) error {
		out = out[:0]
		var expired []*mailRecord
		mails := tx.Bucket(bMail)
		err := tx.Bucket(bMailQ).ForEach(func(k, _ []byte) error {
			if len(out) >= max {
				return nil
			}
			m := new(mailRecord)
			if err := openJSON(s.logKey, "mail", k, mails.Get(k), m); err != nil {
				return err
			}
			if m.Status != MailQueued || m.Next.After(now) {
				return nil
			}
			if !m.Expires.IsZero() && !now.Before(m.Expires) {
				expired = append(expired, m)
				return nil
			}
			out = append(out, mail.Pending{ID: m.ID, Attempts: m.Attempts, Queued: m.Queued, Expires: m.Expires,
				Msg: mail.Message{To: m.Msg.To, ToName: m.Msg.ToName, From: m.Msg.From, Subject: m.Msg.Subject, Body: m.Msg.Body, Secret: m.Msg.Secret}})
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range expired {
			s.finish(m, MailDropped, now, "the code expired before the mail went out")
			if err := s.putMailTx(tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// finish ends m with status, keeping only metadata.
func (s *Service) finish(m *mailRecord, status string, at time.Time, reason string) {
	m.Status, m.Done, m.Error = status, at, reason
	m.Msg = mailMsg{To: m.Msg.To, Subject: m.Msg.masked().Subject}
}

func (s *Service) updateMail(id uint64, fn func(m *mailRecord)) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		m, err := s.mailTx(tx, id)
		if err != nil {
			return err
		}
		fn(m)
		return s.putMailTx(tx, m)
	})
}

// Sent marks mail id sent (mail.Queue).
func (s *Service) Sent(ctx context.Context, id uint64, at time.Time) error {
	return s.updateMail(id, func(m *mailRecord) { m.Attempts++; s.finish(m, MailSent, at, "") })
}

// Retry schedules mail id again at next (mail.Queue).
func (s *Service) Retry(ctx context.Context, id uint64, next time.Time, reason string) error {
	return s.updateMail(id, func(m *mailRecord) { m.Attempts++; m.Next, m.Error = next, reason })
}

// Failed marks mail id failed for good (mail.Queue).
func (s *Service) Failed(ctx context.Context, id uint64, reason string) error {
	return s.updateMail(id, func(m *mailRecord) { m.Attempts++; s.finish(m, MailFailed, s.now(), reason) })
}

// Dropped marks mail id dropped: it expired before it went out (mail.Queue).
func (s *Service) Dropped(ctx context.Context, id uint64, reason string) error {
	return s.updateMail(id, func(m *mailRecord) { s.finish(m, MailDropped, s.now(), reason) })
}

var _ mail.Queue = (*Service)(nil)

// OutboxMail is a mail as admins see it: codes masked; Body is empty
// once a mail went out (only its metadata is kept).
type OutboxMail struct {
	ID       uint64
	Kind     string // link, code, internal
	To       string
	ToName   string
	From     string
	Subject  string
	Body     string
	Status   string
	Attempts int
	Queued   time.Time
	Done     time.Time
	Error    string
}

// Outbox lists the mails, newest first.
func (s *Service) Outbox(ctx context.Context) ([]OutboxMail, error) {
	var out []OutboxMail
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bMail).ForEach(func(k, v []byte) error {
			m := new(mailRecord)
			if err := openJSON(s.logKey, "mail", k, v, m); err != nil {
				return err
			}
			mm := m.Msg.masked()
			out = append(out, OutboxMail{ID: m.ID, Kind: m.Kind, To: mm.To, ToName: mm.ToName, From: mm.From, Subject: mm.Subject,
				Body: mm.Body, Status: m.Status, Attempts: m.Attempts, Queued: m.Queued, Done: m.Done, Error: m.Error})
			return nil
		})
	})
	slices.Reverse(out)
	return out, err
}

// mac is HMAC-SHA256 under the code key of label ‖ 0 ‖ msg.
func (s *Service) mac(label, msg string) []byte {
	h := hmac.New(sha256.New, s.codeKey)
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write([]byte(msg))
	return h.Sum(nil)
}
