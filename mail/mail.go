// Package mail sends the appliance's mail: the types share queues mail
// with. (The SMTP sender and the deliverer live here too.)
package mail

import (
	"context"
	"time"
)

// Message is one mail. Secret is text in Body that is never shown (a
// one-time code): outboxes and logs show the body masked.
type Message struct {
	To, ToName, From, Subject, Body string
	Secret                          string
}

// Sender sends one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Pending is a queued message. A zero Expires means never.
type Pending struct {
	ID              uint64
	Msg             Message
	Attempts        int
	Queued, Expires time.Time
}

// Queue is the persistent store of mails waiting to go out.
type Queue interface {
	Due(ctx context.Context, now time.Time, max int) ([]Pending, error)
	Sent(ctx context.Context, id uint64, at time.Time) error
	Retry(ctx context.Context, id uint64, next time.Time, reason string) error
	Failed(ctx context.Context, id uint64, reason string) error
	Dropped(ctx context.Context, id uint64, reason string) error
}
