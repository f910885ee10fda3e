package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/flex"
	"github.com/callvault/callvault/foureyes"
)

// FlexConfig is the url_provider for Twilio Flex Insights (/flex/url in
// the UI zone); packaging/callvault.toml documents each key.
type FlexConfig struct {
	// AccountSID and the auth token in AuthTokenFile are the Twilio
	// account's; without them Flex tokens are refused (API tokens work).
	AccountSID    string `toml:"account_sid"`
	AuthTokenFile string `toml:"auth_token_file"`
	// ValidateURL is Twilio's token validation endpoint.
	ValidateURL string `toml:"validate_url"`
	// AllowedOrigins may call from a browser page.
	AllowedOrigins []string `toml:"allowed_origins"`
	// UserMap is the rule from a Flex user to an archive login; Users
	// names Flex users (identity or realm_user_id) explicitly.
	UserMap string            `toml:"user_map"`
	Users   map[string]string `toml:"users"`
	// PublicURL is the UI's public URL media links start with; empty:
	// the listener serving the UI.
	PublicURL string `toml:"public_url"`
}

func defaultFlexConfig() FlexConfig {
	return FlexConfig{ValidateURL: flex.DefaultValidateURL, AllowedOrigins: []string{flex.DefaultOrigin}, UserMap: flex.MapExplicit}
}

// validate checks the [flex] section.
func (c *FlexConfig) validate() error {
	if (c.AccountSID == "") != (c.AuthTokenFile == "") {
		return badValue("flex.account_sid", "give account_sid and auth_token_file together, or neither")
	}
	if strings.ContainsAny(c.AccountSID, ":/?#") {
		return badValue("flex.account_sid", "%q is not an account SID", c.AccountSID)
	}
	// The account SID and auth token go to validate_url as Basic auth:
	// https only, but for a loopback address (a local proxy, tests).
	u, err := url.Parse(strings.ReplaceAll(c.ValidateURL, "{AccountSid}", "AC"))
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && (u.Scheme != "http" || !loopbackHost(u.Hostname()))) {
		return badURL("flex.validate_url", c.ValidateURL, "give an absolute https URL without user info (http only to a loopback address)")
	}
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return badURL("flex.allowed_origins", o, "not an origin such as https://flex.twilio.com")
		}
	}
	switch c.UserMap {
	case flex.MapExplicit, flex.MapIdentity, flex.MapRealmUser, flex.MapRealmPart:
	default:
		return badValue("flex.user_map", "%q: use %s, %s, %s or %s", c.UserMap, flex.MapExplicit, flex.MapIdentity, flex.MapRealmUser, flex.MapRealmPart)
	}
	for k, v := range c.Users {
		if k == "" || v == "" {
			return badValue("flex.users", "empty Flex user or login")
		}
	}
	if err := checkPublicURL(c.PublicURL); err != nil { // never quotes a value that may hold a credential
		return badValue("flex.public_url", "%v", err)
	}
	return nil
}

// loopbackHost reports whether host (a URL's hostname) is localhost or
// a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// newFlex builds the url_provider from the [flex] section.
func newFlex(cfg *Config, arc *archive.Archive, media flex.Media, fe *foureyes.Access, log *slog.Logger) (*flex.Service, error) {
	c := cfg.Flex
	opt := flex.Options{AccountSID: c.AccountSID, ValidateURL: c.ValidateURL, AllowedOrigins: c.AllowedOrigins, UserMap: c.UserMap, Users: c.Users}
	if c.AuthTokenFile != "" {
		b, err := readSecret(c.AuthTokenFile)
		if err != nil {
			return nil, fmt.Errorf("flex.auth_token_file: %w", err)
		}
		opt.AuthToken = string(b)
	}
	return flex.New(arc, media, fe, opt, log)
}
