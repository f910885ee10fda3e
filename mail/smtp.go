package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Timeout bounds one delivery: connecting, TLS, login and sending.
const Timeout = 30 * time.Second

// mask replaces a Secret in what an admin may read.
const mask = "••••••"

// Message is one mail.
type Message struct {
	To      string // recipient address
	ToName  string // recipient's name, may be empty
	From    string // sender; empty means Config.From
	Subject string
	Body    string // plain text
	// Secret is text within Body never shown to anyone but the recipient:
	// a one-time code.
	Secret string
}

// Masked returns m with its Secret replaced by "••••••" in the Body and
// the Subject, and the Secret itself cleared.
func (m Message) Masked() Message {
	if m.Secret != "" {
		m.Body = strings.ReplaceAll(m.Body, m.Secret, mask)
		m.Subject = strings.ReplaceAll(m.Subject, m.Secret, mask)
	}
	m.Secret = ""
	return m
}

// Sender sends one mail now.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends through the configured server. It is safe for concurrent use:
// each Send is a connection of its own.
type SMTP struct {
	cfg      Config
	password string
}

// NewSMTP checks c and reads the password file. The password is kept in
// memory only and never appears in an error.
func NewSMTP(c Config) (*SMTP, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, &ConfigError{Key: "mail.smtp_host", Msg: "is empty: no SMTP server to send through"}
	}
	s := &SMTP{cfg: c}
	if c.CAFile != "" && c.RootCAs == nil {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail.ca_file: %w", err)
		}
		s.cfg.RootCAs = x509.NewCertPool()
		if !s.cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("mail.ca_file: %s holds no PEM certificate", c.CAFile)
		}
	}
	if c.Username != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mail.password_file: %w", err)
		}
		s.password = strings.TrimRight(string(b), "\r\n")
		if s.password == "" {
			return nil, fmt.Errorf("mail.password_file: %s is empty", c.PasswordFile)
		}
	}
	return s, nil
}

// errAddress marks an address that cannot be sent to: no server would
// take it, so it is permanent.
var errAddress = errors.New("bad address")

// Send delivers m, within Timeout (or ctx, if it ends sooner).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return s.clean(err)
	}
	return nil
}

func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	from := m.From
	if from == "" {
		from = s.cfg.From
	}
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", from, errAddress)
	}
	if strings.ContainsAny(m.ToName, "\r\n") {
		return nil, fmt.Errorf("mail: recipient name has a line break: %w", errAddress)
	}
	if _, err := mail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "<>,\r\n") {
		return nil, fmt.Errorf("mail: to %q: %w", m.To, errAddress)
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return nil, fmt.Errorf("mail: to %q: %w", m.To, errAddress)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	return msg, nil
}

func (s *SMTP) client() (*gomail.Client, error) {
	tc := &tls.Config{ServerName: s.cfg.SMTPHost, MinVersion: tls.VersionTLS12, RootCAs: s.cfg.RootCAs}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.port()),
		gomail.WithTimeout(Timeout),
		gomail.WithTLSConfig(tc),
	}
	switch s.cfg.security() {
	case SecurityNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case SecurityStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case SecurityTLS:
		opts = append(opts, gomail.WithSSL())
	}
	if s.cfg.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if s.cfg.security() == SecurityNone {
			// Without TLS the client sends PLAIN only to localhost
			// (Validate allows nothing else).
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.password))
	}
	host := s.cfg.SMTPHost
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 address: the client joins host and port with a colon
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, s.clean(err)
	}
	return c, nil
}

// clean keeps the password out of an error, whatever a library or a server
// put in it.
func (s *SMTP) clean(err error) error {
	if s.password == "" || !strings.Contains(err.Error(), s.password) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), s.password, "[password]"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Permanent reports whether err means the mail can never be delivered as
// it is: the server refused the message or a recipient for good (a 5xx
// reply to MAIL, RCPT or DATA), or an address cannot be parsed. Anything
// else (4xx replies, connection refused, timeouts, TLS and login failures,
// which concern this appliance's setup rather than the mail) is worth
// trying again.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errAddress) {
		return true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return false
		}
		if c := se.ErrorCode(); c >= 500 && c < 600 {
			return true
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts:
			return true
		}
		var te *textproto.Error
		return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
	}
	return false
}

// Backoff is how long to wait before the next try after attempts failed
// ones: 30 s after the first, doubling to at most an hour.
func Backoff(attempts int) time.Duration {
	const first, limit = 30 * time.Second, time.Hour
	if attempts < 1 {
		attempts = 1
	}
	if attempts > 8 {
		return limit
	}
	return min(first<<(attempts-1), limit)
}
