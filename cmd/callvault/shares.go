package main

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/mail"
	"github.com/callvault/callvault/share"
)

// startShares opens the external store (share.db beside the archive) and
// starts its expiry and, with an SMTP server configured, mail delivery;
// without one, mail stays in the outbox admins read. stop ends both and
// closes the store.
func startShares(ctx context.Context, cfg *Config, arc *archive.Archive, media share.Media, levels *LogLevels) (svc *share.Service, stop func(), err error) {
	log := levels.Logger(subsysGUI)
	svc, err = share.Open(arc, media, share.Options{
		Path:   cfg.storePath(shareFile),
		Outbox: !cfg.Mail.Enabled(),
		From:   cfg.Mail.From,
	}, log)
	if err != nil {
		return nil, nil, err
	}
	var d *mail.Deliverer
	if cfg.Mail.Enabled() {
		sender, err := mail.NewSMTP(cfg.Mail)
		if err != nil {
			svc.Close()
			return nil, nil, err
		}
		d = mail.NewDeliverer(svc, sender, arc.Now, levels.Logger(subsysConnections))
		svc.SetMailer(d)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	if d != nil {
		wg.Go(func() { d.Run(ctx) })
	}
	return svc, func() {
		cancel()
		wg.Wait()
		if err := svc.Close(); err != nil {
			log.Error("closing the external store", "err", err)
		}
	}, nil
}

// publicURL is configured when set, else the URL of the first listener
// serving zone, with a wildcard address replaced by the host's name; ""
// when no listener serves zone.
func publicURL(configured string, ls []*listener, zone string) string {
	if configured != "" {
		return configured
	}
	for _, l := range ls {
		if !slices.Contains(l.zones, zone) {
			continue
		}
		u := l.url()
		if host, port, err := net.SplitHostPort(l.ln.Addr().String()); err == nil {
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				if name, err := os.Hostname(); err == nil && name != "" {
					u = strings.Replace(u, l.ln.Addr().String(), net.JoinHostPort(name, port), 1)
				}
			}
		}
		return u
	}
	return ""
}
