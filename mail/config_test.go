package mail

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := Config{SMTPHost: "smtp.example.com", Security: "starttls", Username: "archive", PasswordFile: "/etc/callvault/smtp-password", From: "Call archive <archive@example.com>"}
	for _, c := range []Config{
		{},
		{From: "archive@example.com"},
		good,
		{SMTPHost: "127.0.0.1", SMTPPort: 25, Security: "none", Username: "u", PasswordFile: "/p", From: "a@example.com"},
		{SMTPHost: "::1", Security: "tls", From: "a@example.com"},
		{SMTPHost: "relay.example.com", Security: "none", From: "a@example.com"},
		{SMTPHost: "mail", SMTPPort: 2525, From: "a@example.com"},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	mod := func(f func(*Config)) Config { c := good; f(&c); return c }
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{mod(func(c *Config) { c.Security = "ssl" }), `mail.security: "ssl": use none, starttls or tls`},
		{mod(func(c *Config) { c.SMTPPort = 70000 }), "mail.smtp_port:"},
		{mod(func(c *Config) { c.SMTPPort = -1 }), "mail.smtp_port:"},
		{mod(func(c *Config) { c.SMTPHost = "smtp.example.com:587" }), "mail.smtp_host: \"smtp.example.com:587\": give the port in mail.smtp_port"},
		{mod(func(c *Config) { c.SMTPHost = "smtp example.com" }), "mail.smtp_host:"},
		{mod(func(c *Config) { c.SMTPHost = "user:s3cret@smtp.example.com" }), "mail.smtp_host: not a host name or address (the value is not shown"},
		{mod(func(c *Config) { c.SMTPHost = "smtps://user:s3cret@smtp.example.com" }), "mail.smtp_host: not a host name or address (the value is not shown"},
		{mod(func(c *Config) { c.SMTPHost = "smtp..example.com" }), "mail.smtp_host:"},
		{mod(func(c *Config) { c.From = "" }), "mail.from: is empty"},
		{mod(func(c *Config) { c.From = "archive" }), "mail.from: \"archive\" is not a mail address"},
		{mod(func(c *Config) { c.PasswordFile = "" }), "mail.password_file: is empty but mail.username is set"},
		{mod(func(c *Config) { c.Username = "" }), "mail.username: is empty but mail.password_file is set"},
		{mod(func(c *Config) { c.Security = "none" }), "mail.security: \"none\" with mail.username would send the password in the clear"},
		{mod(func(c *Config) { c.Username = "a\r\nRCPT" }), "mail.username: contains a control character"},
		{Config{Username: "u", PasswordFile: "/p"}, "mail.username: is set but mail.smtp_host is empty"},
		{Config{SMTPPort: 25}, "mail.smtp_port: is set but mail.smtp_host is empty"},
		{Config{SMTPHost: "::1", Security: "none", Username: "u", PasswordFile: "/p", From: "a@example.com"}, "mail.security: \"none\" with mail.username"},
	} {
		err := c.cfg.Validate()
		var ce *ConfigError
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.As(err, &ce) || !strings.HasPrefix(c.want, ce.Key+":") {
			t.Errorf("%+v: %v, want %s…", c.cfg, err, c.want)
		}
	}
	for sec, port := range map[string]int{"": 587, "starttls": 587, "tls": 465, "none": 25} {
		if p := (Config{Security: sec}).port(); p != port {
			t.Errorf("security %q: port %d, want %d", sec, p, port)
		}
	}
	for host, addr := range map[string]string{"::1": "[::1]:465", "smtp.example.com": "smtp.example.com:465", "192.0.2.1": "192.0.2.1:465"} {
		c, err := (&SMTP{cfg: Config{SMTPHost: host, Security: "tls", From: "a@example.com"}}).client()
		if err != nil || c.ServerAddr() != addr {
			t.Errorf("host %q: server address %q, %v; want %q", host, c.ServerAddr(), err, addr)
		}
	}
	if (Config{}).Enabled() || !good.Enabled() {
		t.Error("Enabled")
	}
}

// FuzzConfigValidate: any values give an answer, never a panic, and a
// config that passes has a sender that parses and a known mode.
func FuzzConfigValidate(f *testing.F) {
	f.Add("smtp.example.com", 587, "starttls", "archive", "/p", "Call archive <archive@example.com>")
	f.Add("127.0.0.1", 25, "none", "", "", "a@example.com")
	f.Add("", 0, "", "", "", "")
	f.Add("smtp.example.com:25", 0, "tls", "u", "", "\"a b\" <a@[127.0.0.1]>")
	f.Add("::1", 465, "tls", "u\x00", "/p", "=?utf-8?q?=C3=A6?= <a@example.com>")
	f.Fuzz(func(t *testing.T, host string, port int, security, user, pwfile, from string) {
		c := Config{SMTPHost: host, SMTPPort: port, Security: security, Username: user, PasswordFile: pwfile, From: from}
		err := c.Validate()
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Key, "mail.") {
				t.Fatalf("error %v is no ConfigError", err)
			}
			return
		}
		if c.Enabled() {
			if _, err := mail.ParseAddress(c.From); err != nil {
				t.Fatalf("from %q passed: %v", c.From, err)
			}
			if p := c.port(); p < 1 || p > 65535 {
				t.Fatalf("port %d", p)
			}
		}
		switch c.security() {
		case SecurityNone, SecurityStartTLS, SecurityTLS:
		default:
			t.Fatalf("security %q passed", c.Security)
		}
	})
}

// FuzzMessageAddress: any recipient and name either build a message with
// exactly that one recipient or fail as permanent; never a header
// injection.
func FuzzMessageAddress(f *testing.F) {
	s := &SMTP{cfg: Config{SMTPHost: "127.0.0.1", From: "archive@example.com"}}
	f.Add("kari@example.net", "Kari Nordmann")
	f.Add("x@example.net>\r\nRCPT TO:<y@example.net", "")
	f.Add("a@example.net", "Eve\r\nBcc: x@example.net")
	f.Add("\"a b\"@example.net", "Ærlig, Ola")
	f.Fuzz(func(t *testing.T, to, name string) {
		msg, err := s.message(Message{To: to, ToName: name, Body: "x"})
		if err != nil {
			if !Permanent(err) {
				t.Fatalf("address error %v is not permanent", err)
			}
			return
		}
		rcpts, err := msg.GetRecipients()
		if err != nil || len(rcpts) != 1 || strings.ContainsAny(rcpts[0], "\r\n") {
			t.Fatalf("recipients %q, %v", rcpts, err)
		}
		var b strings.Builder
		if _, err := msg.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(b.String(), "\r\n\r\n")
		for line := range strings.SplitSeq(head, "\r\n") {
			if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.HasPrefix(strings.ToLower(line), "cc:") {
				t.Fatalf("injected header %q", line)
			}
		}
	})
}
