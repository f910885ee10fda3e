package webhook

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// Webhook is one configured endpoint.
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Secret is never shown; HasSecret tells whether one is set.
	Secret       string   `json:"-"`
	Users        []string `json:"users"`        // empty: all users
	AnswerGroups []string `json:"answerGroups"` // empty: all answer groups
	Enabled      bool     `json:"enabled"`
	// DisabledReason says why the service disabled the webhook ("" when
	// an admin did or it is enabled).
	DisabledReason string    `json:"disabledReason,omitempty"`
	DisabledAt     time.Time `json:"disabledAt,omitzero"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	// Pending is the number of queued deliveries.
	Pending int `json:"pending"`
}

// stored is Webhook as kept, secret included.
type stored struct {
	Webhook
	Secret string `json:"secret"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	Time     time.Time `json:"time"`
	Delivery string    `json:"delivery"` // the webhook-id
	CallID   string    `json:"callId,omitempty"`
	// Status: "delivered", "failed" (to be tried again) or "dropped"
	// (given up: 410 Gone, two days of failures, the recordings gone).
	Status string `json:"status"`
	Code   int    `json:"code,omitempty"` // the answer's status code, 0 without one
	Error  string `json:"error,omitempty"`
	// Next is when the delivery is tried again (failed only).
	Next time.Time `json:"next,omitzero"`
}

// Config is what the appliance's configuration file allows.
type Config struct {
	// AllowHTTPHosts are hosts (names or addresses, compared without
	// case) whose endpoints may be http rather than https.
	AllowHTTPHosts []string
	// AllowPrivate lets requests go to loopback, private and link-local
	// addresses.
	AllowPrivate bool
	// Timeout bounds each attempt (default 30 s).
	Timeout time.Duration
}

// Media renders recordings as WAV; the recorder implements it.
type Media interface {
	WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error)
}

// Options configure a Service.
type Options struct {
	Path   string // webhooks.db
	Config Config
	// Now is the clock; nil: the archive's.
	Now func() time.Time
	// Poll is how often the outbox looks for due deliveries when nothing
	// wakes it (default 1 s).
	Poll time.Duration
	// Details returns a call's details; nil: what the recordings say.
	Details func(ctx context.Context, recs []*archive.Recording) Details
	// RecorderID is the body's recorderId (default "callvault").
	RecorderID string
	// Transport overrides the HTTP transport (its dialer must keep the
	// address check); nil: one built from Config.
	Transport http.RoundTripper
}

// Service is the webhooks' store and outbox.
type Service struct {
	arc   *archive.Archive
	media Media
	opt   Options
	log   *slog.Logger
	db    *bolt.DB
	aead  cipher.AEAD
	fkey  []byte // file link HMAC key
	idkey []byte // call number HMAC key
	wake  chan struct{}
	hc    *http.Client

	workers sync.WaitGroup // deliveries in flight (deliverDue)

	mu      sync.Mutex
	busy    map[string]bool // webhooks with a worker
	base    string          // public URL of the UI zone
	baseSet chan struct{}   // closed by the first SetBaseURL
}

// Error is a refusal with a status and a message safe to show.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errf(status int, format string, a ...any) error {
	return &Error{status, fmt.Sprintf(format, a...)}
}

// ErrNotFound reports a webhook that does not exist.
var ErrNotFound = &Error{http.StatusNotFound, "no such webhook"}

var (
	bucketHooks    = []byte("hooks")
	bucketQueue    = []byte("queue")
	bucketSeen     = []byte("seen")
	bucketAttempts = []byte("attempts")
	bucketMeta     = []byte("meta")
	keyCursor      = []byte("cursor")
)

// maxAttemptsKept per webhook.
const maxAttemptsKept = 200

// Open opens (creating) the store at opt.Path.
func Open(arc *archive.Archive, media Media, opt Options, log *slog.Logger) (*Service, error) {
	if arc == nil || opt.Path == "" {
		return nil, errors.New("webhook: open: no archive or no path")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = arc.Now
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Config.Timeout <= 0 {
		opt.Config.Timeout = 30 * time.Second
	}
	if opt.RecorderID == "" {
		opt.RecorderID = "callvault"
	}
	if err := os.MkdirAll(filepath.Dir(opt.Path), 0o700); err != nil {
		return nil, fmt.Errorf("webhook: open: %w", err)
	}
	db, err := bolt.Open(opt.Path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("webhook: open %s: %w", opt.Path, err)
	}
	k := arc.DerivedKey("webhooks")
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		db.Close()
		return nil, err
	}
	aead, _ := cipher.NewGCM(block)
	s := &Service{arc: arc, media: media, opt: opt, log: log, db: db, aead: aead,
		fkey: arc.DerivedKey("webhooks files"), idkey: arc.DerivedKey("webhooks call number"),
		wake: make(chan struct{}, 1), baseSet: make(chan struct{}), busy: map[string]bool{}}
	s.hc = s.client()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHooks, bucketQueue, bucketSeen, bucketAttempts, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketMeta).Get(keyCursor) == nil {
			// A new store starts at now: recordings finished before
			// webhooks existed are not announced.
			return tx.Bucket(bucketMeta).Put(keyCursor, be64(s.opt.Now().UnixNano()))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("webhook: open: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Service) Close() error { return s.db.Close() }

// BackupSnapshot is webhooks.db as of one read transaction, for a backup
// (archive.WriteBackup); the store keeps no key file.
func (s *Service) BackupSnapshot(fn func(tx *bolt.Tx, keys io.Reader, keysLen int64) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(tx, nil, 0) })
}

// SetBaseURL sets the public URL of the UI zone, where file links point.
// Run delivers nothing before it is called.
func (s *Service) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = strings.TrimRight(u, "/")
	select {
	case <-s.baseSet:
	default:
		close(s.baseSet)
	}
}

func (s *Service) baseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// Kick wakes the outbox.
func (s *Service) Kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

// seal and open keep values sealed, the AD binding bucket and key.
func (s *Service) seal(bucket, key []byte, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, ad(bucket, key)), nil
}

func (s *Service) open(bucket, key, sealed []byte, v any) error {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return errors.New("webhook: short record")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad(bucket, key))
	if err != nil {
		return fmt.Errorf("webhook: record %x: %w", key, err)
	}
	return json.Unmarshal(plain, v)
}

func ad(bucket, key []byte) []byte {
	return slices.Concat([]byte("callvault webhooks v1\x00"), bucket, []byte{0}, key)
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Input is what an admin sets on a webhook. Nil fields keep their value
// on update; a create needs URL and Secret.
type Input struct {
	URL          *string   `json:"url"`
	Secret       *string   `json:"secret"`
	Users        *[]string `json:"users"`
	AnswerGroups *[]string `json:"answerGroups"`
	Enabled      *bool     `json:"enabled"`
}

// Limits on what an admin sets.
const (
	maxURLLen    = 2048
	maxSecretLen = 512
	minSecretLen = 16
	maxFilter    = 200
	maxFilterLen = 128
	maxHooks     = 100
)

// ParseInput reads a webhook's JSON (unknown fields refused).
func ParseInput(b []byte) (*Input, error) {
	in := new(Input)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return nil, errf(http.StatusBadRequest, "bad webhook: %v", err)
	}
	if dec.More() {
		return nil, errf(http.StatusBadRequest, "bad webhook: one JSON object expected")
	}
	return in, nil
}

// apply sets in on h, checking every field.
func (s *Service) apply(h *stored, in *Input) error {
	if in.URL != nil {
		if err := s.CheckURL(*in.URL); err != nil {
			return err
		}
		h.URL = *in.URL
	}
	if in.Secret != nil {
		sec := *in.Secret
		if len(sec) < minSecretLen || len(sec) > maxSecretLen || strings.ContainsAny(sec, "\r\n\x00 ") {
			return errf(http.StatusBadRequest, "secret: %d to %d characters without spaces or line breaks", minSecretLen, maxSecretLen)
		}
		if rest, ok := strings.CutPrefix(sec, "whsec_"); ok {
			if _, err := decodeB64(rest); err != nil {
				return errf(http.StatusBadRequest, "secret: whsec_ must be followed by base64")
			}
		}
		h.Secret = sec
	}
	clean := func(field string, v []string) ([]string, error) {
		if len(v) > maxFilter {
			return nil, errf(http.StatusBadRequest, "%s: at most %d entries", field, maxFilter)
		}
		var out []string
		for _, x := range v {
			x = strings.TrimSpace(x)
			if x == "" || len(x) > maxFilterLen || strings.ContainsAny(x, "\r\n\x00") {
				return nil, errf(http.StatusBadRequest, "%s: bad entry", field)
			}
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return out, nil
	}
	var err error
	if in.Users != nil {
		if h.Users, err = clean("users", *in.Users); err != nil {
			return err
		}
	}
	if in.AnswerGroups != nil {
		if h.AnswerGroups, err = clean("answerGroups", *in.AnswerGroups); err != nil {
			return err
		}
	}
	if in.Enabled != nil {
		h.Enabled = *in.Enabled
		h.DisabledReason, h.DisabledAt = "", time.Time{}
	}
	if h.URL == "" {
		return errf(http.StatusBadRequest, "url: required")
	}
	if h.Secret == "" {
		return errf(http.StatusBadRequest, "secret: required")
	}
	return nil
}

// List returns the webhooks, oldest first.
func (s *Service) List(ctx context.Context) ([]Webhook, error) {
	var out []Webhook
	err := s.db.View(func(tx *bolt.Tx) error {
		pending := s.pendingTx(tx)
		return tx.Bucket(bucketHooks).ForEach(func(k, v []byte) error {
			var h stored
			if err := s.open(bucketHooks, k, v, &h); err != nil {
				return err
			}
			h.Webhook.Pending = pending[h.ID]
			out = append(out, h.Webhook)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Webhook) int { return a.Created.Compare(b.Created) })
	return out, err
}

// Get returns webhook id.
func (s *Service) Get(ctx context.Context, id string) (*Webhook, error) {
	var h *stored
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		h, err = s.hookTx(tx, id)
		if err == nil {
			h.Webhook.Pending = s.pendingTx(tx)[id]
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &h.Webhook, nil
}

func (s *Service) hookTx(tx *bolt.Tx, id string) (*stored, error) {
	v := tx.Bucket(bucketHooks).Get([]byte(id))
	if v == nil {
		return nil, ErrNotFound
	}
	h := new(stored)
	if err := s.open(bucketHooks, []byte(id), v, h); err != nil {
		return nil, err
	}
	h.Webhook.Secret = h.Secret
	return h, nil
}

func (s *Service) putHookTx(tx *bolt.Tx, h *stored) error {
	v, err := s.seal(bucketHooks, []byte(h.ID), h)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketHooks).Put([]byte(h.ID), v)
}

// Create adds a webhook.
func (s *Service) Create(ctx context.Context, in *Input) (*Webhook, error) {
	now := s.opt.Now()
	h := &stored{Webhook: Webhook{ID: newID(), Enabled: true, Created: now, Updated: now}}
	if err := s.apply(h, in); err != nil {
		return nil, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketHooks).Stats().KeyN >= maxHooks {
			return errf(http.StatusConflict, "at most %d webhooks", maxHooks)
		}
		return s.putHookTx(tx, h)
	})
	if err != nil {
		return nil, err
	}
	return &h.Webhook, nil
}

// Update changes webhook id; nil fields of in keep their values.
func (s *Service) Update(ctx context.Context, id string, in *Input) (*Webhook, error) {
	var h *stored
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if h, err = s.hookTx(tx, id); err != nil {
			return err
		}
		wasEnabled := h.Enabled
		if err := s.apply(h, in); err != nil {
			return err
		}
		if h.Enabled && !wasEnabled {
			s.renewTx(tx, id, s.opt.Now())
		}
		h.Updated = s.opt.Now()
		return s.putHookTx(tx, h)
	})
	if err != nil {
		return nil, err
	}
	s.Kick()
	return &h.Webhook, nil
}

// Enable re-enables webhook id (the secret kept); its waiting deliveries
// get a fresh two days and are tried at once.
func (s *Service) Enable(ctx context.Context, id string) (*Webhook, error) {
	on := true
	return s.Update(ctx, id, &Input{Enabled: &on})
}

// Delete removes webhook id with its queue and attempts.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketHooks).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := tx.Bucket(bucketHooks).Delete([]byte(id)); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketQueue, bucketAttempts} {
			c := tx.Bucket(b).Cursor()
			p := []byte(id + "/")
			for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Attempts returns webhook id's attempts, newest first.
func (s *Service) Attempts(ctx context.Context, id string, limit int) ([]Attempt, error) {
	if limit <= 0 || limit > maxAttemptsKept {
		limit = maxAttemptsKept
	}
	var out []Attempt
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketHooks).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		c := tx.Bucket(bucketAttempts).Cursor()
		p := []byte(id + "/")
		k, _ := c.Seek(append(slices.Clone(p), 0xff))
		var v []byte
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Prev() {
			if v == nil {
				continue
			}
			var a Attempt
			if err := s.open(bucketAttempts, k, v, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// addAttemptTx records a, keeping the newest maxAttemptsKept.
func (s *Service) addAttemptTx(tx *bolt.Tx, hook string, a *Attempt) error {
	b := tx.Bucket(bucketAttempts)
	seq, _ := b.NextSequence()
	k := slices.Concat([]byte(hook+"/"), be64(a.Time.UnixNano()), be64(int64(seq)))
	v, err := s.seal(bucketAttempts, k, a)
	if err != nil {
		return err
	}
	if err := b.Put(k, v); err != nil {
		return err
	}
	p := []byte(hook + "/")
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		n++
	}
	for k, _ := c.Seek(p); n > maxAttemptsKept && k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
		n--
	}
	return nil
}
