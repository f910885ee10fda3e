package webhook

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// addrError is a connection refused by the address check.
type addrError struct{ addr netip.Addr }

func (e *addrError) Error() string {
	return "address " + e.addr.String() + " is not allowed (loopback, private or link-local; see webhooks.allow_private)"
}

var (
	shared = netip.MustParsePrefix("100.64.0.0/10")
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	// Never public: local-use NAT64 (RFC 8215), whose translation is a
	// site's own and may reach its private addresses, and the deprecated
	// IPv4-compatible addresses (::a.b.c.d), which a host may route to
	// the IPv4 address.
	notPublic = []netip.Prefix{netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("::/96")}
)

// publicAddr reports whether a request may connect to ip when private
// addresses are not allowed.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if nat64.Contains(ip) { // the IPv4 address it translates to
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() &&
		!ip.IsUnspecified() && !shared.Contains(ip) &&
		!slices.ContainsFunc(notPublic, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// control is the dialer's check of each address it connects to, after
// name resolution.
func (s *Service) control(network, address string, _ syscall.RawConn) error {
	return checkDial(s.opt.Config.AllowPrivate, address)
}

func checkDial(allowPrivate bool, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errors.New("unexpected address " + address)
	}
	if !allowPrivate && !publicAddr(ap.Addr()) {
		return &addrError{ap.Addr()}
	}
	return nil
}

func (s *Service) client() *http.Client {
	rt := s.opt.Transport
	if rt == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, Control: s.control}
		rt = &http.Transport{
			Proxy:                 nil, // a proxy would hide the address checked
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: s.opt.Config.Timeout,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   s.opt.Config.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, and a failure
		},
	}
}

// CheckURL checks an endpoint: absolute, https unless its host is allowed
// http, no user info or fragment.
func (s *Service) CheckURL(raw string) error {
	if raw == "" || len(raw) > maxURLLen {
		return errf(http.StatusBadRequest, "url: required, at most %d characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return errf(http.StatusBadRequest, "url: not an absolute URL")
	}
	if u.User != nil || u.Fragment != "" {
		return errf(http.StatusBadRequest, "url: no user info or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !slices.ContainsFunc(s.opt.Config.AllowHTTPHosts, func(h string) bool { return strings.EqualFold(h, u.Hostname()) }) {
			return errf(http.StatusBadRequest, "url: https required (http only for hosts in webhooks.allow_http_hosts)")
		}
	default:
		return errf(http.StatusBadRequest, "url: https required")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !s.opt.Config.AllowPrivate && !publicAddr(ip) {
		return errf(http.StatusBadRequest, "url: %s is not allowed (loopback, private or link-local; see webhooks.allow_private)", ip)
	}
	return nil
}
