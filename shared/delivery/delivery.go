// Package delivery makes and records the attempts to deliver what a run's
// status change sends out (a completion callback, an alert): at most one
// attempt at a time, however often Pub/Sub delivers the event, each one a
// run event the account's viewers read, retried through Pub/Sub's
// redelivery until one succeeds, one is refused, or none are left.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/runs"
)

// Outcome is how an attempt went.
type Outcome string

// The outcomes of an attempt; an attempt's run event has the type
// "<kind>_<outcome>", such as callback_delivered or alert_failed.
const (
	Delivered Outcome = "delivered" // the receiver took it
	Failed    Outcome = "failed"    // to be tried again
	Abandoned Outcome = "abandoned" // refused, or out of attempts: not tried again
	// Sending marks an attempt in progress: its claim, which its outcome
	// replaces.
	Sending Outcome = "sending"
)

// ErrRetry is returned when the delivery is not done: the event is to be
// delivered again, after the subscription's backoff.
var ErrRetry = errors.New("not delivered yet; Pub/Sub will deliver the event again")

// DefaultMaxAttempts is how many times a delivery is tried.
const DefaultMaxAttempts = 8

// DefaultLease is how long an attempt in progress holds off the others: a
// delivery that died mid-attempt leaves its claim, which is taken over
// after this long. It must be longer than an attempt can take (the
// functions' timeout is 60s).
const DefaultLease = 2 * time.Minute

// Store records the attempts as events of the run; shared/store
// implements it.
type Store interface {
	// DeliveryAttempts returns the attempts whose event ids start with
	// prefix, oldest first.
	DeliveryAttempts(ctx context.Context, account, key, prefix string) ([]runs.Event, error)
	// ClaimDeliveryAttempt records attempt as the event id, or returns an
	// error wrapping runs.ErrAlreadyExists if another delivery did.
	ClaimDeliveryAttempt(ctx context.Context, account, key, id string, attempt runs.Event) error
	// RecordDeliveryAttempt replaces the event id with attempt.
	RecordDeliveryAttempt(ctx context.Context, account, key, id string, attempt runs.Event) error
}

// Ledger makes the attempts of deliveries and records them.
type Ledger struct {
	Store Store
	// Kind prefixes the attempts' event types: "callback", "alert".
	Kind string
	// MaxAttempts is how many times a delivery is tried; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// Lease is how long an attempt in progress holds off the others; 0
	// means DefaultLease.
	Lease time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Item is one thing to deliver: its attempts are the events of run RunKey
// with ids Prefix01, Prefix02…
type Item struct {
	Account, RunKey string
	Prefix          string
	// Label starts each attempt's detail, naming what is delivered when a
	// status change sends several things ("email: ").
	Label string
	// Status is the status change's new status: the attempts' "to".
	Status runs.Status
}

// Send makes attempt n and says how it went, with a detail for the run's
// events.
type Send func(ctx context.Context, n int) (Outcome, string)

// Result is what Deliver did.
type Result struct {
	// Outcome is the item's: Delivered or Abandoned when it is done (now
	// or before), Failed when it is to be tried again.
	Outcome Outcome
	// Detail says how the last attempt went.
	Detail string
	// Attempt is the number of the attempt this call made; 0 for none.
	Attempt int
}

// Deliver makes the next attempt to deliver item with send, unless it is
// delivered or abandoned already, and records it. When the item is to be
// tried again, the error wraps ErrRetry; another delivery's attempt in
// progress counts as failed for now. Any other error is the store's.
func (l Ledger) Deliver(ctx context.Context, item Item, send Send) (Result, error) {
	maxAttempts, lease, now := l.MaxAttempts, l.Lease, l.Now
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	if now == nil {
		now = time.Now
	}
	attempts, err := l.Store.DeliveryAttempts(ctx, item.Account, item.RunKey, item.Prefix)
	if err != nil {
		return Result{Outcome: Failed}, err
	}
	n := len(attempts) + 1
	if n > 1 {
		last := attempts[n-2]
		outcome, _ := strings.CutPrefix(last.Type, l.Kind+"_")
		switch Outcome(outcome) {
		case Delivered, Abandoned:
			return Result{Outcome: Outcome(outcome), Detail: last.Detail}, nil
		case Sending:
			if now().Sub(last.At) < lease {
				return Result{Outcome: Failed}, fmt.Errorf("%w: attempt %d is in progress", ErrRetry, n-1)
			}
			// The delivery making it stopped before it could say how it
			// went: count it as failed.
			r := Result{Outcome: Failed, Detail: "no outcome recorded: the delivery stopped mid-attempt", Attempt: n - 1}
			if n-1 >= maxAttempts {
				r.Outcome, r.Detail = Abandoned, r.Detail+"; no attempts left"
			}
			if err := l.record(ctx, item, n-1, last.At, r); err != nil {
				return r, err
			}
			if r.Outcome == Abandoned {
				return r, nil
			}
		}
	}
	start := now().UTC().Truncate(time.Microsecond)
	claim := l.event(item, start, Result{Outcome: Sending, Detail: "in progress", Attempt: n})
	if err := l.Store.ClaimDeliveryAttempt(ctx, item.Account, item.RunKey, l.id(item, n), claim); err != nil {
		if errors.Is(err, runs.ErrAlreadyExists) {
			return Result{Outcome: Failed}, fmt.Errorf("%w: another delivery of the event makes attempt %d", ErrRetry, n)
		}
		return Result{Outcome: Failed}, err
	}
	r := Result{Attempt: n}
	r.Outcome, r.Detail = send(ctx, n)
	if r.Outcome == Failed && n >= maxAttempts {
		r.Outcome, r.Detail = Abandoned, r.Detail+"; no attempts left"
	}
	if err := l.record(ctx, item, n, start, r); err != nil {
		return r, err
	}
	if r.Outcome == Failed {
		return r, fmt.Errorf("%w: %s", ErrRetry, r.Detail)
	}
	return r, nil
}

func (l Ledger) id(item Item, n int) string { return fmt.Sprintf("%s%02d", item.Prefix, n) }

func (l Ledger) event(item Item, at time.Time, r Result) runs.Event {
	return runs.Event{At: at, By: "runway", Type: l.Kind + "_" + string(r.Outcome), To: item.Status,
		Detail: fmt.Sprintf("%sattempt %d: %s", item.Label, r.Attempt, r.Detail)}
}

func (l Ledger) record(ctx context.Context, item Item, n int, at time.Time, r Result) error {
	return l.Store.RecordDeliveryAttempt(ctx, item.Account, item.RunKey, l.id(item, n), l.event(item, at, r))
}
