package mail

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/smtptest"
)

const (
	testUser     = "archive"
	testPassword = "s3cret-Pa55word"
)

func passwordFile(t *testing.T, password string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(p, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig is a Config for srv in the given mode, logging in as testUser
// with password, trusting the server's CA.
func testConfig(t *testing.T, srv *smtptest.Server, security, password string) Config {
	return Config{SMTPHost: srv.Host(), SMTPPort: srv.Port(), Security: security,
		Username: testUser, PasswordFile: passwordFile(t, password),
		From: "Call archive <archive@example.com>", RootCAs: srv.CAPool()}
}

func newSMTP(t *testing.T, c Config) *SMTP {
	t.Helper()
	s, err := NewSMTP(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSendModes sends through a real server in each security mode with
// AUTH and checks what arrived: envelope, headers, and a subject and body
// with non-ASCII text, decoded back from the encoding on the wire.
func TestSendModes(t *testing.T) {
	for _, c := range []struct {
		security string
		opts     smtptest.Options
	}{
		{SecurityNone, smtptest.Options{NoTLS: true}},
		{SecurityStartTLS, smtptest.Options{}},
		{SecurityTLS, smtptest.Options{ImplicitTLS: true}},
	} {
		t.Run(c.security, func(t *testing.T) {
			c.opts.Username, c.opts.Password = testUser, testPassword
			srv := smtptest.Start(t, c.opts)
			s := newSMTP(t, testConfig(t, srv, c.security, testPassword))
			m := Message{To: "kari@example.net", ToName: "Kari Nordmann", Subject: "Opptak fra arkivet – ærlig talt",
				Body: "Hei Kari,\n\nlenken: https://archive.example.com/p/abc\nKoden er 123456. Æ ø å.\n", Secret: "123456"}
			if err := s.Send(waitCtx(t), m); err != nil {
				t.Fatal(err)
			}
			got, err := srv.WaitMessage(waitCtx(t), "kari@example.net")
			if err != nil {
				t.Fatal(err)
			}
			if got.From != "archive@example.com" || len(got.To) != 1 || got.To[0] != "kari@example.net" {
				t.Errorf("envelope from %q to %q", got.From, got.To)
			}
			if got.Subject != m.Subject {
				t.Errorf("subject %q, want %q", got.Subject, m.Subject)
			}
			if strings.TrimRight(got.Body, "\n") != strings.TrimRight(m.Body, "\n") {
				t.Errorf("body %q, want %q", got.Body, m.Body)
			}
			if to := got.Header.Get("To"); !strings.Contains(to, "Kari Nordmann") || !strings.Contains(to, "<kari@example.net>") {
				t.Errorf("To header %q", to)
			}
			if from := got.Header.Get("From"); !strings.Contains(from, "<archive@example.com>") {
				t.Errorf("From header %q", from)
			}
		})
	}
}

// TestSendVerifiesCertificate: without the test CA the server's certificate
// is not trusted, and starttls refuses a server without STARTTLS rather
// than send in the clear.
func TestSendVerifiesCertificate(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: testUser, Password: testPassword})
	c := testConfig(t, srv, SecurityStartTLS, testPassword)
	c.RootCAs = nil
	if err := newSMTP(t, c).Send(waitCtx(t), Message{To: "a@example.net", Body: "x"}); err == nil {
		t.Fatal("sent to a server whose certificate no trusted CA signed")
	}
	plain := smtptest.Start(t, smtptest.Options{NoTLS: true, Username: testUser, Password: testPassword})
	if err := newSMTP(t, testConfig(t, plain, SecurityStartTLS, testPassword)).Send(waitCtx(t), Message{To: "a@example.net", Body: "x"}); err == nil {
		t.Fatal("starttls sent to a server that offers no STARTTLS")
	}
	if n := len(srv.Messages()) + len(plain.Messages()); n != 0 {
		t.Fatalf("%d messages arrived", n)
	}
}

// TestWrongPassword: the login fails, the error does not hold the
// password, and it is worth retrying (the setup, not the mail, is wrong).
func TestWrongPassword(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: testUser, Password: testPassword})
	const wrong = "not-the-Pa55word"
	err := newSMTP(t, testConfig(t, srv, SecurityStartTLS, wrong)).Send(waitCtx(t), Message{To: "a@example.net", Body: "x"})
	if err == nil {
		t.Fatal("sent with a wrong password")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testPassword) {
		t.Fatalf("error holds the password: %v", err)
	}
	if Permanent(err) {
		t.Fatalf("a failed login is permanent: %v", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("message arrived")
	}
}

// TestPermanent classifies real failures: 5xx and bad addresses are
// permanent; 4xx, a server that is down and a canceled send are not.
func TestPermanent(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: testUser, Password: testPassword})
	s := newSMTP(t, testConfig(t, srv, SecurityStartTLS, testPassword))
	ok := Message{To: "a@example.net", Body: "x"}

	srv.RefuseRcpt(550)
	err := s.Send(waitCtx(t), ok)
	if err == nil || !Permanent(err) {
		t.Errorf("550: %v, permanent %v", err, Permanent(err))
	}
	srv.RefuseRcpt(451)
	err = s.Send(waitCtx(t), ok)
	if err == nil || Permanent(err) {
		t.Errorf("451: %v, permanent %v", err, Permanent(err))
	}
	srv.RefuseRcpt(0)
	for _, to := range []string{"", "no-at-sign", "a@b@c", "x@example.net>\r\nRCPT TO:<y@example.net", "Bob <bob@example.net>"} {
		err = s.Send(waitCtx(t), Message{To: to, Body: "x"})
		if err == nil || !Permanent(err) {
			t.Errorf("to %q: %v, permanent %v", to, err, Permanent(err))
		}
	}
	err = s.Send(waitCtx(t), Message{To: "a@example.net", ToName: "Eve\r\nBcc: x@example.net", Body: "x"})
	if err == nil || !Permanent(err) {
		t.Errorf("name with a line break: %v", err)
	}
	srv.Stop()
	err = s.Send(waitCtx(t), ok)
	if err == nil || Permanent(err) {
		t.Errorf("server down: %v, permanent %v", err, Permanent(err))
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a refused message arrived")
	}
	if Permanent(nil) || Permanent(errors.New("500 looks like a code but is no reply")) {
		t.Error("Permanent of a plain error")
	}
}

// TestSendTimeout: a server that accepts the connection but never answers
// ends the send when its context does, as a temporary failure.
func TestSendTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	s := newSMTP(t, Config{SMTPHost: "127.0.0.1", SMTPPort: port, Security: SecurityTLS, From: "a@example.com"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = s.Send(ctx, Message{To: "a@example.net", Body: "x"})
	if err == nil || Permanent(err) {
		t.Fatalf("silent server: %v", err)
	}
}

func TestNewSMTPPasswordFile(t *testing.T) {
	c := Config{SMTPHost: "127.0.0.1", From: "a@example.com", Username: "u", PasswordFile: filepath.Join(t.TempDir(), "missing")}
	if _, err := NewSMTP(c); err == nil || !strings.Contains(err.Error(), "mail.password_file") {
		t.Errorf("missing file: %v", err)
	}
	c.PasswordFile = passwordFile(t, "")
	if _, err := NewSMTP(c); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := NewSMTP(Config{}); err == nil {
		t.Error("NewSMTP without a host")
	}
}

func TestMasked(t *testing.T) {
	m := Message{To: "a@example.net", Subject: "Code 482913", Body: "Your one-time code is 482913. The code is valid for 10 minutes.", Secret: "482913"}
	got := m.Masked()
	if strings.Contains(got.Body, "482913") || strings.Contains(got.Subject, "482913") || got.Secret != "" {
		t.Fatalf("masked shows the secret: %+v", got)
	}
	if got.Body != "Your one-time code is ••••••. The code is valid for 10 minutes." || got.To != m.To {
		t.Fatalf("masked: %+v", got)
	}
	if m.Body == got.Body {
		t.Fatal("Masked changed its receiver")
	}
	plain := Message{Body: "a link", Subject: "s"}
	if plain.Masked() != plain {
		t.Fatal("masking without a secret changed the message")
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{30 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := Backoff(i); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i, got, w)
		}
	}
	if Backoff(1000) != time.Hour || Backoff(-1) != 30*time.Second {
		t.Error("Backoff out of range")
	}
}

// BenchmarkSend: one mail over a new connection with STARTTLS and AUTH
// PLAIN to the loopback server.
func BenchmarkSend(b *testing.B) {
	srv := smtptest.Start(b, smtptest.Options{Username: testUser, Password: testPassword})
	p := filepath.Join(b.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(testPassword), 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := NewSMTP(Config{SMTPHost: srv.Host(), SMTPPort: srv.Port(), Username: testUser, PasswordFile: p,
		From: "archive@example.com", RootCAs: srv.CAPool()})
	if err != nil {
		b.Fatal(err)
	}
	m := Message{To: "kari@example.net", Subject: "Recordings", Body: strings.Repeat("Link: https://archive.example.com/p/abc\n", 20)}
	for b.Loop() {
		if err := s.Send(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}
