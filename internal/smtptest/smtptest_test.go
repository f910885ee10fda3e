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

// TestCAPEMAndWaitMessages: the CA as PEM verifies the server as the pool
// does, and WaitMessages returns a recipient's first n messages in order,
// waiting for the later ones.
func TestCAPEMAndWaitMessages(t *testing.T) {
	s := Start(t, Options{})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	conn, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool}); err != nil {
		t.Fatalf("STARTTLS verified with CAPEM: %v", err)
	}
	conn.Close()

	got := make(chan []Message, 1)
	go func() {
		ms, err := s.WaitMessages(ctx(t), "a@example.net", 2)
		if err != nil {
			t.Error(err)
		}
		got <- ms
	}()
	for _, subj := range []string{"one", "other", "two"} {
		to := "a@example.net"
		if subj == "other" {
			to = "b@example.net"
		}
		if err := send(t, s, false, "", "", to, "Subject: "+subj+"\r\n\r\nbody\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	ms := <-got
	if len(ms) != 2 || ms[0].Subject != "one" || ms[1].Subject != "two" {
		t.Fatalf("WaitMessages: %+v", ms)
	}
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitMessages(short, "a@example.net", 3); err == nil {
		t.Fatal("a third message was found")
	}
}
