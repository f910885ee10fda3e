package ui

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// IngestListener is a listener that serves uploads from phones (the
// ingest zone), as bound.
type IngestListener struct {
	Name string
	Addr string // host:port it is bound to
	TLS  bool
}

// ingestAddrs is what SetIngest told: where phones upload.
type ingestAddrs struct {
	mu        sync.Mutex
	prefix    string
	listeners []IngestListener
}

// SetIngest tells the settings page where phones upload: the path prefix
// of uploads and the listeners serving them, once they are bound.
func (u *UI) SetIngest(prefix string, ls []IngestListener) {
	u.ingest.mu.Lock()
	defer u.ingest.mu.Unlock()
	u.ingest.prefix, u.ingest.listeners = prefix, append([]IngestListener(nil), ls...)
}

// recordURLView is one Record-to-URL address on the settings page.
type recordURLView struct {
	Listener string
	URL      string
	// Local: the listener is bound to a loopback address, which phones
	// cannot reach.
	Local bool
}

// recordURLs are the Record-to-URL addresses for the settings page. A
// listener bound to every address (0.0.0.0, ::) is shown with the host
// name the admin reached the UI by.
func (u *UI) recordURLs(r *http.Request) []recordURLView {
	u.ingest.mu.Lock()
	defer u.ingest.mu.Unlock()
	reqHost := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		reqHost = h
	}
	var out []recordURLView
	for _, l := range u.ingest.listeners {
		host, port, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		v := recordURLView{Listener: l.Name}
		if ip, err := netip.ParseAddr(host); err == nil {
			switch {
			case ip.IsUnspecified():
				host = reqHost
			case ip.IsLoopback():
				v.Local = true
			}
		} else if host == "localhost" {
			v.Local = true
		}
		scheme := "http"
		if l.TLS {
			scheme = "https"
		}
		v.URL = scheme + "://" + net.JoinHostPort(host, port) + u.ingest.prefix
		out = append(out, v)
	}
	return out
}
