package mail

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/mail"
	"strings"
)

// Security modes of Config.Security.
const (
	SecurityNone     = "none"     // plain SMTP, no TLS
	SecurityStartTLS = "starttls" // STARTTLS, required (the default)
	SecurityTLS      = "tls"      // TLS from the first byte (SMTPS)
)

// Config is the [mail] section of the configuration file. With no SMTPHost
// mail is not sent but kept for admins to read.
type Config struct {
	SMTPHost string `toml:"smtp_host"`
	// SMTPPort 0 means the mode's port: 25 (none), 587 (starttls), 465 (tls).
	SMTPPort int `toml:"smtp_port"`
	// Security is none, starttls or tls; empty means starttls.
	Security string `toml:"security"`
	// Username, when set, logs in (SMTP AUTH) with the password held in
	// PasswordFile.
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	// From is the sender of every mail, "Name <addr@example.com>" or a bare
	// address.
	From string `toml:"from"`

	// CAFile, when set, names PEM certificates that replace the system's
	// CAs for verifying the server (a relay with a certificate of the
	// company's own CA).
	CAFile string `toml:"ca_file"`

	// RootCAs, when set, replaces the system's roots for verifying the
	// server's certificate (tests use a CA of their own). Not in the file.
	RootCAs *x509.CertPool `toml:"-"`
}

// Enabled reports whether mail goes out through an SMTP server.
func (c Config) Enabled() bool { return c.SMTPHost != "" }

// ConfigError is a bad value in the [mail] section. Key is the key as
// written in the file, e.g. "mail.security".
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

func bad(key, format string, args ...any) error {
	return &ConfigError{Key: "mail." + key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the section without touching the network or the
// password file. Its errors are *ConfigError.
func (c Config) Validate() error {
	if !c.Enabled() {
		switch {
		case c.Username != "":
			return bad("username", "is set but mail.smtp_host is empty")
		case c.PasswordFile != "":
			return bad("password_file", "is set but mail.smtp_host is empty")
		case c.SMTPPort != 0:
			return bad("smtp_port", "is set but mail.smtp_host is empty")
		}
	}
	switch c.Security {
	case "", SecurityNone, SecurityStartTLS, SecurityTLS:
	default:
		return bad("security", "%q: use none, starttls or tls", c.Security)
	}
	if c.SMTPPort < 0 || c.SMTPPort > 65535 {
		return bad("smtp_port", "%d is not a port 1..65535 (0: the default of the security mode)", c.SMTPPort)
	}
	if c.Enabled() {
		if err := checkHost(c.SMTPHost); err != nil {
			return bad("smtp_host", "%v", err)
		}
		if c.From == "" {
			return bad("from", "is empty: name the sender of the mails (e.g. \"Call archive <archive@example.com>\")")
		}
	}
	if c.From != "" {
		if _, err := mail.ParseAddress(c.From); err != nil {
			return bad("from", "%q is not a mail address: %v", c.From, err)
		}
	}
	if (c.Username == "") != (c.PasswordFile == "") {
		if c.Username == "" {
			return bad("username", "is empty but mail.password_file is set: set both or neither")
		}
		return bad("password_file", "is empty but mail.username is set: set both or neither")
	}
	if c.Username != "" && c.security() == SecurityNone && !isLoopback(c.SMTPHost) {
		return bad("security", "\"none\" with mail.username would send the password in the clear to %s: use starttls or tls (none allows a login only to a relay on this host)", c.SMTPHost)
	}
	if c.CAFile != "" && !c.Enabled() {
		return bad("ca_file", "is set but mail.smtp_host is empty")
	}
	if strings.ContainsAny(c.Username, "\r\n\x00") {
		return bad("username", "contains a control character")
	}
	return nil
}

func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	if strings.ContainsAny(h, "@/") { // a URL or user:password@host: never quoted
		return fmt.Errorf("not a host name or address (the value is not shown: it may hold a credential); give the host alone, the port in mail.smtp_port")
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return fmt.Errorf("%q: give the port in mail.smtp_port, not in the host", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q is not a host name or address", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%q is not a host name or address", h)
			}
		}
	}
	return nil
}

func isLoopback(host string) bool {
	// The names the SMTP client accepts a login in the clear to.
	return host == "localhost" || host == "127.0.0.1"
}

func (c Config) security() string {
	if c.Security == "" {
		return SecurityStartTLS
	}
	return c.Security
}

func (c Config) port() int {
	if c.SMTPPort != 0 {
		return c.SMTPPort
	}
	switch c.security() {
	case SecurityNone:
		return 25
	case SecurityTLS:
		return 465
	}
	return 587
}
