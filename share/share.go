package share

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/callvault/callvault/internal/listening"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// Media renders stored recordings as audio; the recorder implements it.
type Media interface {
	// WAV renders call (0-based; < 0 for all) of each recording, joined in order.
	WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error)
}

// Mailer is told when mail was queued (the mail deliverer's Kick).
type Mailer interface{ Kick() }

// Options configure the service.
type Options struct {
	// Path is the external store's file (the daemon: <data>/share.db).
	Path string
	// BaseURL is the playback zone's public URL ("https://play.example");
	// links are BaseURL+"/p/"+token. SetURLs changes it later (the daemon
	// knows its listeners' addresses only once they are bound).
	BaseURL string
	// UIBaseURL is the UI's public URL; internal links are
	// UIBaseURL+"/links/"+id.
	UIBaseURL string
	// Outbox keeps mail for admins to read (codes masked) instead of
	// sending it: the mode without an SMTP server.
	Outbox bool
	// From is the sender address of mail when the configuration names none.
	From string
}

// Service is the external store, the log of links and the playback zone.
type Service struct {
	arc   *archive.Archive
	media Media
	opt   Options
	log   *slog.Logger
	db    *bolt.DB

	grantKey cipher.AEAD // wraps grant keys
	logKey   cipher.AEAD // seals log entries, links, mail and config
	codeKey  []byte      // HMAC key of codes and address indexes

	mu     sync.Mutex
	mailer Mailer
	urls   [2]string     // BaseURL, UIBaseURL; under mu
	wake   chan struct{} // a grant was added: Run recomputes its timer

	// copying are the grants whose copies a Send is writing: not orphans.
	copying map[string]bool

	limits *addrLimiter
	plays  listening.Sessions

	slots *grantSlots // the grant keys (share.db.gkeys)
	// Test hooks: keyHook sees each new grant key raw and wrapped;
	// crashHook stops an operation at a point (see crash).
	keyHook   func(gid, key, wrapped []byte)
	crashHook func(point string) bool
}

// Buckets of share.db.
var (
	bGrants   = []byte("grants")   // grant id → box(log key, grantRecord)
	bKeys     = []byte("keys")     // grant id → slot reference (slots.go)
	bRecs     = []byte("recs")     // grant id → box(grant key, []recMeta)
	bChunks   = []byte("chunks")   // grant id ‖ u16 rec ‖ u32 chunk → sealed audio
	bLinks    = []byte("links")    // link id → box(log key, linkRecord)
	bTokens   = []byte("tokens")   // sha256(token) → link id
	bAddrs    = []byte("addrs")    // HMAC(address) → link id
	bSessions = []byte("sessions") // sha256(session token) → sessionRecord
	bInternal = []byte("internal") // link id → box(log key, internalRecord)
	bMail     = []byte("mail")     // u64 id → box(log key, mailRecord)
	bMailQ    = []byte("mailq")    // u64 id → nothing: the mails still queued
	bConfig   = []byte("config")   // "config" → box(log key, Config)
)

var allBuckets = [][]byte{bGrants, bKeys, bRecs, bChunks, bLinks, bTokens, bAddrs, bSessions, bInternal, bMail, bMailQ, bConfig}

// chunkSize is the plaintext size of every audio chunk but the last.
const chunkSize = 64 << 10

// Open opens (or creates) the external store at opt.Path.
func Open(arc *archive.Archive, media Media, opt Options, log *slog.Logger) (*Service, error) {
	if arc == nil || opt.Path == "" {
		return nil, errors.New("share: open: no archive or no path")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(opt.Path), 0o700); err != nil {
		return nil, fmt.Errorf("share: open: %w", err)
	}
	db, err := bolt.Open(opt.Path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("share: open %s: %w", opt.Path, err)
	}
	s := &Service{arc: arc, media: media, opt: opt, log: log, db: db, wake: make(chan struct{}, 1), limits: newAddrLimiter(),
		copying: map[string]bool{}, urls: [2]string{opt.BaseURL, opt.UIBaseURL}}
	k := arc.DerivedKey("share grant wrap")
	s.grantKey, err = newAEAD(k)
	clear(k)
	if err == nil {
		k = arc.DerivedKey("share log")
		s.logKey, err = newAEAD(k)
		clear(k)
	}
	s.codeKey = arc.DerivedKey("share code")
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return s.dropOrphansTx(tx)
		})
	}
	if err == nil {
		err = s.openKeys()
	}
	if err != nil {
		if s.slots != nil {
			s.slots.close()
		}
		db.Close()
		return nil, fmt.Errorf("share: open: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Service) Close() error {
	err := s.db.Close()
	if e := s.slots.close(); err == nil {
		err = e
	}
	return err
}

// SetMailer sets what is kicked when mail is queued (the deliverer, which
// is built over the service as its queue).
func (s *Service) SetMailer(m Mailer) {
	s.mu.Lock()
	s.mailer = m
	s.mu.Unlock()
}

func (s *Service) kick() {
	s.mu.Lock()
	m := s.mailer
	s.mu.Unlock()
	if m != nil {
		m.Kick()
	}
}

// dropOrphansTx deletes chunks and recording lists of grants that have no
// key: copies a Send wrote before it failed or the process stopped.
func (s *Service) dropOrphansTx(tx *bolt.Tx) error {
	keys := tx.Bucket(bKeys)
	for _, name := range [][]byte{bChunks, bRecs} {
		var orphans [][]byte
		err := tx.Bucket(name).ForEach(func(k, _ []byte) error {
			if len(k) < idLen || (keys.Get(k[:idLen]) == nil && !s.isCopying(k[:idLen])) {
				orphans = append(orphans, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range orphans {
			if err := tx.Bucket(name).Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) isCopying(gid []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copying[string(gid)]
}

func (s *Service) setCopying(gid []byte, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.copying[string(gid)] = true
	} else {
		delete(s.copying, string(gid))
	}
}

// idLen is the length of grant and link ids in the store.
const idLen = 16

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal boxes plain under a with a random nonce: nonce ‖ ciphertext.
func seal(a cipher.AEAD, ad, plain []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, ad)
}

var errAuth = errors.New("share: stored value does not authenticate")

func open(a cipher.AEAD, ad, box []byte) ([]byte, error) {
	if len(box) < a.NonceSize()+a.Overhead() {
		return nil, errAuth
	}
	p, err := a.Open(nil, box[:a.NonceSize()], box[a.NonceSize():], ad)
	if err != nil {
		return nil, errAuth
	}
	return p, nil
}

func sealJSON(a cipher.AEAD, label string, key []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return seal(a, ad(label, key), b), nil
}

func openJSON(a cipher.AEAD, label string, key, box []byte, v any) error {
	p, err := open(a, ad(label, key), box)
	if err != nil {
		return err
	}
	return json.Unmarshal(p, v)
}

// ad is the associated data of a sealed value: its label and its key in
// the store, so a value moved to another key does not open.
func ad(label string, key []byte) []byte {
	b := append([]byte("callvault share "+label+"\x00"), key...)
	return b
}

// chunkNonce and chunkAD bind an audio chunk to its grant, recording and
// index; a grant key seals each (recording, index) once.
func chunkNonce(rec uint16, idx uint32) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint16(n[4:], rec)
	binary.BigEndian.PutUint32(n[8:], idx)
	return n
}

func chunkKey(grant []byte, rec uint16, idx uint32) []byte {
	k := append(bytes.Clone(grant), 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(k[idLen:], rec)
	binary.BigEndian.PutUint32(k[idLen+2:], idx)
	return k
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Error is a refusal whose message is safe to show the user: Status is
// the HTTP status that fits (400, 403, 404, 409, 422).
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// SetURLs sets the public URLs links are made of: base for the playback
// zone (external links), ui for the UI (internal links). Mails already
// queued keep the URLs they were written with.
func (s *Service) SetURLs(base, ui string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urls = [2]string{strings.TrimRight(base, "/"), strings.TrimRight(ui, "/")}
}

// baseURLs returns the playback zone's and the UI's public URLs.
func (s *Service) baseURLs() (base, ui string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urls[0], s.urls[1]
}
