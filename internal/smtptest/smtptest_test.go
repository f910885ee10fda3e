package smtptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

func send(t *testing.T, s *Server, implicit bool, user, pass, to, data string) error {
	t.Helper()
	tc := &tls.Config{ServerName: "127.0.0.1", RootCAs: s.CAPool()}
	var c *smtp.Client
	var err error
	if implicit {
		conn, derr := tls.Dial("tcp", s.Addr(), tc)
		if derr != nil {
			return derr
		}
		c, err = smtp.NewClient(conn, "127.0.0.1")
	} else {
		c, err = smtp.Dial(s.Addr())
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if !implicit {
		if err := c.StartTLS(tc); err != nil {
			return err
		}
	}
	if user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, pass, "127.0.0.1")); err != nil {
			return err
		}
	}
	if err := c.Mail("from@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

const base64Mail = "From: from@example.com\r\nTo: a@example.net\r\nSubject: =?UTF-8?q?=C3=86rlig?=\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"S29kZW4gZXIg\r\nMTIzNDU2Lg==\r\n"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestServer: STARTTLS with a verified certificate and AUTH, decoding of a
// base64 body and an encoded subject, refusal codes, and a restart on the
// same port.
func TestServer(t *testing.T) {
	s := Start(t, Options{Username: "u", Password: "p"})
	if err := send(t, s, false, "u", "wrong", "a@example.net", base64Mail); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := send(t, s, false, "", "", "a@example.net", base64Mail); err == nil {
		t.Fatal("mail accepted without AUTH")
	}
	if err := send(t, s, false, "u", "p", "a@example.net", base64Mail); err != nil {
		t.Fatal(err)
	}
	m, err := s.WaitMessage(ctx(t), "A@example.net")
	if err != nil || m.Subject != "Ærlig" || m.Body != "Koden er 123456." || m.From != "from@example.com" {
		t.Fatalf("%+v %v", m, err)
	}
	s.RefuseRcpt(450)
	if err := send(t, s, false, "u", "p", "b@example.net", base64Mail); err == nil || !strings.HasPrefix(err.Error(), "450") {
		t.Fatalf("refused 450: %v", err)
	}
	s.RefuseRcpt(550)
	if err := send(t, s, false, "u", "p", "b@example.net", base64Mail); err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Fatalf("refused 550: %v", err)
	}
	s.RefuseRcpt(0)
	port := s.Port()
	s.Stop()
	if err := send(t, s, false, "u", "p", "b@example.net", base64Mail); err == nil {
		t.Fatal("sent to a stopped server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Port() != port {
		t.Fatalf("port %d after restart, was %d", s.Port(), port)
	}
	if err := send(t, s, false, "u", "p", "b@example.net", base64Mail); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitMessage(ctx(t), "b@example.net"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 2 {
		t.Fatalf("%d messages", n)
	}
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitMessage(c, "nobody@example.net"); err == nil {
		t.Fatal("WaitMessage for a message that never came")
	}
}

func TestImplicitTLS(t *testing.T) {
	s := Start(t, Options{ImplicitTLS: true})
	if err := send(t, s, true, "", "", "a@example.net", base64Mail); err != nil {
		t.Fatal(err)
	}
	if m, err := s.WaitMessage(ctx(t), "a@example.net"); err != nil || m.Body != "Koden er 123456." {
		t.Fatalf("%+v %v", m, err)
	}
}

// TestStopRightAfterRestart: Stop returns even when it follows Restart
// before the server has begun accepting.
func TestStopRightAfterRestart(t *testing.T) {
	s := Start(t, Options{})
	done := make(chan error, 1)
	go func() {
		for range 50 {
			s.Stop()
			if err := s.Restart(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx(t).Done():
		t.Fatal("Stop hung")
	}
}

// TestCAPEM: the PEM is the CA that signed the server's certificate.
func TestCAPEM(t *testing.T) {
	s := Start(t, Options{ImplicitTLS: true})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatalf("CAPEM holds no certificate: %q", s.CAPEM())
	}
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "127.0.0.1", RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
