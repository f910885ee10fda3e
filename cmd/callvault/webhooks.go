package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/webhook"
)

// hookRelay passes the recorder's finished recordings to the webhooks'
// outbox once it is open (the recorder starts first; what finishes
// before, the outbox's start-up scan finds).
type hookRelay struct {
	ctx context.Context
	svc atomic.Pointer[webhook.Service]
	log interface {
		Error(msg string, args ...any)
	}
}

func (h *hookRelay) completed(rec *archive.Recording) {
	if s := h.svc.Load(); s != nil {
		if err := s.Completed(context.WithoutCancel(h.ctx), rec); err != nil {
			h.log.Error("queueing webhook deliveries failed; the next start queues them", "recording", rec.ID.String(), "err", err)
		}
	}
}

// startWebhooks opens the webhooks' store (webhooks.db beside the
// archive) and runs its outbox; stop ends it and closes the store.
func startWebhooks(ctx context.Context, cfg *Config, arc *archive.Archive, media webhook.Media, relay *hookRelay, levels *LogLevels) (svc *webhook.Service, stop func(), err error) {
	log := levels.Logger(subsysConnections)
	svc, err = webhook.Open(arc, media, webhook.Options{
		Path: cfg.storePath(webhooksFile),
		Config: webhook.Config{AllowHTTPHosts: cfg.Webhooks.AllowHTTPHosts, AllowPrivate: cfg.Webhooks.AllowPrivate,
			Timeout: cfg.Webhooks.Timeout.Duration},
	}, log)
	if err != nil {
		return nil, nil, err
	}
	relay.svc.Store(svc)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	return svc, func() {
		relay.svc.Store(nil)
		cancel()
		wg.Wait()
		if err := svc.Close(); err != nil {
			log.Error("closing the webhooks' store", "err", err)
		}
	}, nil
}
