package share

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
)

// Config is the configuration of external access: the recipient's page
// and the defaults of the send form.
type Config struct {
	Logo            []byte            // PNG or JPEG, at most MaxLogo bytes; nil for none
	Footer          []string          // at most three lines
	Terms           map[string]string // terms of use by language; a language without is English's
	SessionLifetime time.Duration     // 5m..24h
	// Defaults of the send form.
	Days                          int
	SubjectExternal, BodyExternal string
	SubjectInternal, BodyInternal string
	From                          string
	Language                      string
}

// Bounds of the configuration.
const (
	MaxLogo        = 256 << 10
	MaxFooterLines = 3
	DefaultSession = 2 * time.Hour
	MinSession     = 5 * time.Minute
	MaxSession     = 24 * time.Hour
	DefaultDays    = 7
	maxTerms       = 64 << 10
	configKey      = "config"
)

// DefaultConfig is the configuration where none was stored.
func DefaultConfig() *Config {
	c := &Config{Terms: map[string]string{}, SessionLifetime: DefaultSession, Days: DefaultDays, Language: "en"}
	for _, l := range Languages {
		if t := DefaultTerms(l); t != "" {
			c.Terms[l] = t
		}
	}
	c.SubjectExternal, c.BodyExternal = DefaultExternalMail("en")
	c.SubjectInternal, c.BodyInternal = DefaultInternalMail("en")
	return c
}

// terms is the text of the terms of use in lang, "" for none.
func (c *Config) terms(lang string) string { return c.Terms[lang] }

// termsFor is the terms in lang, else English's, and the language used.
func (c *Config) termsFor(lang string) (string, string) {
	if t := c.terms(lang); t != "" {
		return lang, t
	}
	return "en", c.terms("en")
}

// LogoType is the logo's content type, "" for none or neither PNG nor JPEG.
func LogoType(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	switch t := http.DetectContentType(b); t {
	case "image/png", "image/jpeg":
		return t
	}
	return ""
}

// Validate reports a configuration SetConfig refuses, with a message for
// the admin.
func (c *Config) Validate() error {
	switch {
	case len(c.Logo) > MaxLogo:
		return badRequest("the logo must be at most %d KiB", MaxLogo>>10)
	case len(c.Logo) > 0 && LogoType(c.Logo) == "":
		return badRequest("the logo must be a PNG or JPEG image")
	case len(c.Footer) > MaxFooterLines:
		return badRequest("the footer has at most %d lines", MaxFooterLines)
	case c.SessionLifetime < MinSession || c.SessionLifetime > MaxSession:
		return badRequest("the session lifetime must be 5 minutes to 24 hours")
	case c.Days < 0 || c.Days > MaxDays:
		return badRequest("days must be 0..%d", MaxDays)
	case !strings.Contains(c.BodyExternal, "{{link}}") || !strings.Contains(c.BodyInternal, "{{link}}"):
		return badRequest("the mail bodies must contain {{link}}")
	case !validText(c.SubjectExternal, 512) || !validText(c.SubjectInternal, 512):
		return badRequest("a subject must be one line of at most 512 bytes")
	case len(c.BodyExternal) > maxBody || len(c.BodyInternal) > maxBody || !utf8.ValidString(c.BodyExternal+c.BodyInternal):
		return badRequest("a mail body must be text of at most %d bytes", maxBody)
	case c.From != "" && !validEmail(c.From):
		return badRequest("From must be a plain address")
	case !validLanguage(c.Language):
		return badRequest("unknown language %q", c.Language)
	case c.terms("en") == "":
		return badRequest("the English terms of use are required: they are shown where a language has none")
	case c.terms(c.Language) == "":
		return badRequest("the default language must have terms of use")
	}
	for _, l := range c.Footer {
		if !validText(l, 256) {
			return badRequest("a footer line must be one line of at most 256 bytes")
		}
	}
	for l, t := range c.Terms {
		if !validLanguage(l) {
			return badRequest("unknown language %q", l)
		}
		if len(t) > maxTerms || !utf8.ValidString(t) {
			return badRequest("the terms of use must be text of at most %d KiB", maxTerms>>10)
		}
	}
	return nil
}

// Config returns the configuration (DefaultConfig where none was set).
func (s *Service) Config(ctx context.Context) (*Config, error) {
	c := DefaultConfig()
	err := s.db.View(func(tx *bolt.Tx) error {
		box := tx.Bucket(bConfig).Get([]byte(configKey))
		if box == nil {
			return nil
		}
		c = new(Config)
		return openJSON(s.logKey, "config", []byte(configKey), box, c)
	})
	if c.Terms == nil {
		c.Terms = map[string]string{}
	}
	return c, err
}

// SetConfig stores c; admins only. The change is audited.
func (s *Service) SetConfig(ctx context.Context, by *archive.User, remote string, c Config) error {
	if by == nil || by.Disabled || by.Role != archive.RoleAdmin {
		return &Error{Status: http.StatusForbidden, Msg: "only admins change the external access configuration"}
	}
	for l, t := range c.Terms {
		if strings.TrimSpace(t) == "" {
			delete(c.Terms, l)
		}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	old, _ := s.Config(ctx)
	err := s.db.Update(func(tx *bolt.Tx) error {
		box, err := sealJSON(s.logKey, "config", []byte(configKey), &c)
		if err != nil {
			return err
		}
		return tx.Bucket(bConfig).Put([]byte(configKey), box)
	})
	if err != nil {
		return err
	}
	s.audit(ctx, by.Login, remote, actionConfig, "external access", configDiff(old, &c))
	return nil
}

// configDiff names what changed.
func configDiff(a, b *Config) string {
	var ch []string
	if a == nil {
		return "set"
	}
	if !bytes.Equal(a.Logo, b.Logo) {
		ch = append(ch, "logo")
	}
	if strings.Join(a.Footer, "\n") != strings.Join(b.Footer, "\n") {
		ch = append(ch, "footer")
	}
	for _, l := range Languages {
		if a.Terms[l] != b.Terms[l] {
			ch = append(ch, "terms "+l)
		}
	}
	if a.SessionLifetime != b.SessionLifetime {
		ch = append(ch, "session lifetime "+b.SessionLifetime.String())
	}
	if a.Days != b.Days {
		ch = append(ch, "days "+strconv.Itoa(b.Days))
	}
	if a.SubjectExternal != b.SubjectExternal || a.BodyExternal != b.BodyExternal || a.SubjectInternal != b.SubjectInternal ||
		a.BodyInternal != b.BodyInternal || a.From != b.From || a.Language != b.Language {
		ch = append(ch, "send defaults")
	}
	if len(ch) == 0 {
		return "no change"
	}
	return strings.Join(ch, ", ")
}

// InternalRequest is a link to recordings for an archive user.
type InternalRequest struct {
	Recordings    []string
	Recipient     string // login
	Subject, Body string
}

// InternalLink is a stored internal link.
type InternalLink struct {
	ID         string
	Recordings []string
	Recipient  string
	Sender     string
	CreatedAt  time.Time
}

type internalRecord struct {
	Recordings []string  `json:"recordings"`
	Recipient  string    `json:"recipient"`
	Sender     string    `json:"sender"`
	Created    time.Time `json:"created"`
	Mail       uint64    `json:"mail"`
}

// SendInternal mails an archive user a link to recordings the sender may
// read; the link opens them in the UI under the recipient's own rights.
func (s *Service) SendInternal(ctx context.Context, sender *archive.User, remote string, req InternalRequest) (string, error) {
	if err := maySend(sender); err != nil {
		return "", err
	}
	switch {
	case !validText(req.Subject, 512):
		return "", badRequest("the subject must be one line of at most 512 bytes")
	case !utf8.ValidString(req.Body) || len(req.Body) > maxBody:
		return "", badRequest("the body must be text of at most %d bytes", maxBody)
	case !strings.Contains(req.Body, "{{link}}"):
		return "", badRequest("the body must contain {{link}}")
	}
	to, err := s.arc.GetUser(ctx, req.Recipient)
	if errors.Is(err, archive.ErrNotFound) || (err == nil && to.Disabled) {
		return "", &Error{Status: http.StatusNotFound, Msg: "no such user"}
	}
	if err != nil {
		return "", err
	}
	if !validEmail(to.Email) {
		return "", &Error{Status: http.StatusUnprocessableEntity, Msg: "the user has no email address"}
	}
	recs, err := s.mayReadRecordings(ctx, sender, req.Recordings)
	if err != nil {
		return "", err
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID.String()
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return "", err
	}
	from := s.From(cfg)
	id := newToken()
	now := s.now()
	myname := sender.Name
	if myname == "" {
		myname = sender.Login
	}
	name := to.Name
	if name == "" {
		name = to.Login
	}
	_, uiBase := s.baseURLs()
	r := strings.NewReplacer("{{link}}", uiBase+"/links/"+id, "{{recipient}}", name, "{{myname}}", myname)
	err = s.db.Update(func(tx *bolt.Tx) error {
		rec := internalRecord{Recordings: ids, Recipient: to.Login, Sender: sender.Login, Created: now}
		var err error
		rec.Mail, err = s.queueTx(tx, mailRecord{Kind: "internal", Queued: now, Msg: mailMsg{To: to.Email, ToName: name, From: from,
			Subject: r.Replace(req.Subject), Body: r.Replace(req.Body)}})
		if err != nil {
			return err
		}
		box, err := sealJSON(s.logKey, "internal", []byte(id), rec)
		if err != nil {
			return err
		}
		return tx.Bucket(bInternal).Put([]byte(id), box)
	})
	if err != nil {
		return "", err
	}
	s.audit(ctx, sender.Login, remote, actionInternal, strings.Join(ids, ","), "to "+to.Login)
	s.kick()
	return id, nil
}

// InternalLink returns the internal link id; the UI shows of its
// recordings those the viewer may read.
func (s *Service) InternalLink(ctx context.Context, id string) (*InternalLink, error) {
	if _, ok := parseToken(id); !ok {
		return nil, &Error{Status: http.StatusNotFound, Msg: "no such link"}
	}
	var rec internalRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		box := tx.Bucket(bInternal).Get([]byte(id))
		if box == nil {
			return &Error{Status: http.StatusNotFound, Msg: "no such link"}
		}
		return openJSON(s.logKey, "internal", []byte(id), box, &rec)
	})
	if err != nil {
		return nil, err
	}
	return &InternalLink{ID: id, Recordings: rec.Recordings, Recipient: rec.Recipient, Sender: rec.Sender, CreatedAt: rec.Created}, nil
}

// From is the sender of mail under c: its From, else the one the daemon
// was configured with ([mail] from).
func (s *Service) From(c *Config) string {
	if c != nil && c.From != "" {
		return c.From
	}
	return s.opt.From
}
