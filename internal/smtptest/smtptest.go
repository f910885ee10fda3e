// Package smtptest runs a real SMTP server on the loopback interface for
// tests: STARTTLS or implicit TLS with a certificate from a CA made at
// start, AUTH PLAIN with one configured login, and capture of every
// message accepted. It can be stopped and restarted on the same port (a
// mail server that is down, then up again) and told to answer RCPT with a
// temporary (4xx) or permanent (5xx) refusal.
//
// Everything is bounded: the server listens on 127.0.0.1 only, keeps the
// last MaxMessages messages of at most MaxMessageBytes each, and drops a
// connection that stays silent for ten seconds.
package smtptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Limits of one server.
const (
	MaxMessages     = 1000
	MaxMessageBytes = 4 << 20
	idleTimeout     = 10 * time.Second
)

// Options configure a server.
type Options struct {
	// Username and Password, when Username is set, are the one login AUTH
	// PLAIN accepts; mail is then refused until the client authenticates.
	Username, Password string
	// ImplicitTLS makes the server speak TLS from the first byte (SMTPS,
	// as on port 465) instead of offering STARTTLS.
	ImplicitTLS bool
	// NoTLS offers neither STARTTLS nor TLS; AUTH is then allowed in the
	// clear (as a relay on localhost does).
	NoTLS bool
}

// Message is one message the server accepted.
type Message struct {
	From    string   // envelope sender (MAIL FROM)
	To      []string // envelope recipients (RCPT TO)
	Data    []byte   // the message as received
	Subject string   // decoded Subject header
	Body    string   // decoded text body (quoted-printable or base64 undone)
	Header  mail.Header
}

// Server is a running SMTP server.
type Server struct {
	opts   Options
	addr   string
	caPool *x509.CertPool
	caPEM  []byte
	tls    *tls.Config

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	done     chan struct{} // closed when Serve of srv returned
	msgs     []Message
	changed  chan struct{} // closed and replaced on every new message
	rcptCode int
}

// Start starts a server on 127.0.0.1 on a free port; it stops when the test
// ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// New starts a server on 127.0.0.1 on a free port. Stop it with Stop.
func New(opts Options) (*Server, error) {
	pool, caPEM, cert, err := newCertificate()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, caPool: pool, caPEM: caPEM, changed: make(chan struct{}),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	if err := s.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if s.opts.ImplicitTLS {
		l = tls.NewListener(l, s.tls)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = MaxMessageBytes
	srv.MaxRecipients = 10
	srv.ReadTimeout = idleTimeout
	srv.WriteTimeout = idleTimeout
	if !s.opts.ImplicitTLS && !s.opts.NoTLS {
		srv.TLSConfig = s.tls
	}
	srv.AllowInsecureAuth = s.opts.NoTLS
	done := make(chan struct{})
	s.mu.Lock()
	s.addr = l.Addr().String()
	s.srv = srv
	s.ln = l
	s.done = done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Host is the address the server listens on ("127.0.0.1").
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.Addr())
	return h
}

// Port is the server's port; it stays the same across Restart.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	var n int
	fmt.Sscan(p, &n)
	return n
}

// CAPool holds the CA that signed the server's certificate (valid for
// 127.0.0.1, ::1 and localhost), for clients that verify it.
func (s *Server) CAPool() *x509.CertPool { return s.caPool }

// CAPEM is the same CA as PEM, for clients configured with a CA file.
func (s *Server) CAPEM() []byte { return bytes.Clone(s.caPEM) }

// Stop closes the listener and every connection. Further calls do nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln, done := s.srv, s.ln, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// Serve may not have registered the listener with srv yet.
	_ = ln.Close()
	<-done
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.srv != nil
	addr := s.addr
	s.mu.Unlock()
	if running {
		return errors.New("smtptest: server is running")
	}
	return s.listen(addr)
}

// RefuseRcpt makes the server answer RCPT TO with code (a 4xx or 5xx);
// 0 accepts again.
func (s *Server) RefuseRcpt(code int) {
	s.mu.Lock()
	s.rcptCode = code
	s.mu.Unlock()
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitMessage returns the first message received for the recipient to
// (compared without case), waiting for it until ctx ends.
func (s *Server) WaitMessage(ctx context.Context, to string) (Message, error) {
	ms, err := s.WaitMessages(ctx, to, 1)
	if err != nil {
		return Message{}, err
	}
	return ms[0], nil
}

// WaitMessages returns the first n messages received for the recipient to
// (compared without case), in the order received, waiting for them until
// ctx ends.
func (s *Server) WaitMessages(ctx context.Context, to string, n int) ([]Message, error) {
	for {
		var got []Message
		s.mu.Lock()
		for _, m := range s.msgs {
			if slices.ContainsFunc(m.To, func(r string) bool { return strings.EqualFold(r, to) }) {
				got = append(got, m)
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got[:n], nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("smtptest: %d of %d messages for %s: %w", len(got), n, to, ctx.Err())
		}
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) >= MaxMessages {
		s.msgs = slices.Delete(s.msgs, 0, 1)
	}
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) needAuth() error {
	if ss.s.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.needAuth(); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.needAuth(); err != nil {
		return err
	}
	ss.s.mu.Lock()
	code := ss.s.rcptCode
	ss.s.mu.Unlock()
	switch {
	case code >= 500:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	case code >= 400:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "try again later"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if err := ss.needAuth(); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Data: b}
	if pm, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
		m.Header = pm.Header
		var dec mime.WordDecoder
		if subj, err := dec.DecodeHeader(pm.Header.Get("Subject")); err == nil {
			m.Subject = subj
		}
		m.Body, _ = textBody(pm.Header.Get("Content-Type"), pm.Header.Get("Content-Transfer-Encoding"), pm.Body, 0)
	}
	ss.s.add(m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// textBody decodes the first text/plain part of a body.
func textBody(ctype, cte string, r io.Reader, depth int) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if ctype == "" || err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") && depth < 5 {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return "", err
			}
			if s, err := textBody(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err == nil && s != "" {
				return s, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", nil
	}
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: r})
	}
	b, err := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

// crlfStripper drops line breaks, which base64 bodies carry every 76
// characters.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// newCertificate makes a CA and a server certificate it signs, for
// 127.0.0.1, ::1 and localhost, valid from an hour ago for a day.
func newCertificate() (*x509.CertPool, []byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return pool, caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
