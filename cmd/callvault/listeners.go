package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/callvault/callvault/internal/readahead"
	"github.com/callvault/callvault/ui"
)

// routes collects the handlers of each trust zone; every listener gets a
// mux with the routes of the zones it serves. Subsystems mount themselves
// with handle (see serve.go).
type routes struct {
	byZone map[string][]route
}

type route struct {
	pattern string
	h       http.Handler
}

func newRoutes() *routes { return &routes{byZone: map[string][]route{}} }

// handle mounts h at pattern (a ServeMux pattern) in a zone.
func (rt *routes) handle(zone, pattern string, h http.Handler) {
	rt.byZone[zone] = append(rt.byZone[zone], route{pattern, h})
}

// mux builds the handler of a listener serving zones. A pattern mounted in
// two zones that share a listener is mounted once.
func (rt *routes) mux(zones []string) *http.ServeMux {
	mux := http.NewServeMux()
	seen := map[string]bool{}
	for _, z := range zones {
		for _, r := range rt.byZone[z] {
			if seen[r.pattern] {
				continue
			}
			seen[r.pattern] = true
			mux.Handle(r.pattern, r.h)
		}
	}
	return mux
}

// listener is one bound address with its server.
type listener struct {
	name  string
	zones []string
	tls   bool
	ln    net.Listener
	srv   *http.Server
}

func (l *listener) url() string {
	scheme := "http"
	if l.tls {
		scheme = "https"
	}
	return scheme + "://" + l.ln.Addr().String()
}

// listen binds every configured listener; on error nothing stays bound.
func listen(cfg *Config, rt *routes, m *metrics, certs *certSource, log *slog.Logger) ([]*listener, error) {
	specs := append([]ListenerConfig{{Name: "main", Listen: cfg.Server.Listen, TLS: cfg.Server.TLS, Zones: cfg.Server.Zones}}, cfg.Listeners...)
	var out []*listener
	for _, s := range specs {
		ln, err := net.Listen("tcp", s.Listen)
		if err != nil {
			closeListeners(out)
			return nil, fmt.Errorf("listener %s: %w", s.Name, err)
		}
		// Connections read what their socket holds in one system call;
		// uploads ask them whether the socket is drained (recorder's
		// idleBody).
		l := &listener{name: s.Name, zones: s.Zones, tls: s.TLS}
		l.srv = &http.Server{
			Handler:           m.instrument(s.Name, rt.mux(s.Zones)),
			ConnContext:       readahead.ConnContext,
			ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.Duration,
			IdleTimeout:       cfg.Server.IdleTimeout.Duration,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), LevelTrace),
		}
		if s.TLS {
			l.srv.TLSConfig = certs.tlsConfig()
			l.ln = tls.NewListener(readahead.TLSListener(ln), l.srv.TLSConfig)
		} else {
			l.ln = readahead.Listener(ln)
		}
		out = append(out, l)
	}
	return out, nil
}

func closeListeners(ls []*listener) {
	for _, l := range ls {
		l.ln.Close()
	}
}

// serveAll serves every listener until one fails or all are shut down.
func serveAll(ls []*listener) <-chan error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			err := l.srv.Serve(l.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("listener %s: %w", l.name, err)
			}
			errc <- err
		}()
	}
	return errc
}

// shutdown stops every listener at once: no new connections, requests in
// flight get until the deadline; uploads still open then have their
// connections closed, and the recorder keeps what arrived as interrupted.
func shutdown(ls []*listener, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			if err := l.srv.Shutdown(ctx); err != nil {
				_ = l.srv.Close()
			}
		})
	}
	wg.Wait()
}

// uiListener is the first listener serving the UI zone.
func uiListener(ls []*listener) *listener {
	for _, l := range ls {
		if slices.Contains(l.zones, zoneUI) {
			return l
		}
	}
	return ls[0]
}

// ingestListeners are the listeners serving uploads, for the settings
// page's Record-to-URL addresses.
func ingestListeners(ls []*listener) []ui.IngestListener {
	var out []ui.IngestListener
	for _, l := range ls {
		if slices.Contains(l.zones, zoneIngest) {
			out = append(out, ui.IngestListener{Name: l.name, Addr: l.ln.Addr().String(), TLS: l.tls})
		}
	}
	return out
}
