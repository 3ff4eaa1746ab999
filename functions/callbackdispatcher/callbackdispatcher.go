// Package callbackdispatcher is the CallbackDispatcher function, fed by a
// push subscription to the run events topic: when a run that asked for a
// callback (launch_job's callback_url) reaches a final status, it POSTs
// the run's result there, signed with the account's secrets
// (shared/callbacks), which it is the only function to open. A failed
// attempt is returned as an error, so that Pub/Sub delivers the event
// again after the subscription's backoff; every attempt is recorded in the
// run's events, with the callback URL's query redacted: the account's
// viewers read them.
package callbackdispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/delivery"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// Store is the storage the function needs; shared/store implements it.
type Store interface {
	GetRun(ctx context.Context, account, key string) (runs.Run, error)
	CallbackSettings(ctx context.Context, account string) (callbacks.Settings, error)
	delivery.Store
}

// Deps are the CallbackDispatcher's dependencies.
type Deps struct {
	Store Store
	// Client sends the callbacks: callbacks.NewClient, which refuses
	// private addresses unless AllowPrivate.
	Client *http.Client
	// Sealer opens the account's signing secrets, stored sealed.
	Sealer callbacks.Sealer
	// AllowPrivate allows http and private addresses: the local dev stack.
	AllowPrivate bool
	// MaxAttempts is how many times a callback is tried; 0 means
	// delivery.DefaultMaxAttempts.
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler sends callbacks.
type Handler struct {
	store  Store
	sender delivery.Sender
	ledger delivery.Ledger
	now    func() time.Time
}

// New returns the CallbackDispatcher handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("callbackdispatcher: missing store")
	case deps.Client == nil:
		return nil, errors.New("callbackdispatcher: missing HTTP client")
	case deps.Sealer == nil:
		return nil, errors.New("callbackdispatcher: missing callback secret sealer")
	}
	h := &Handler{store: deps.Store, now: deps.Now,
		sender: delivery.Sender{Settings: deps.Store, Sealer: deps.Sealer, Client: deps.Client, AllowPrivate: deps.AllowPrivate}}
	if h.now == nil {
		h.now = time.Now
	}
	h.ledger = delivery.Ledger{Store: deps.Store, Kind: "callback", MaxAttempts: deps.MaxAttempts, Now: h.now}
	return h, nil
}

// Handle implements bus.Handler.
func (h *Handler) Handle(ctx context.Context, m bus.Message) error {
	log := logging.FromContext(ctx)
	var ev message.RunEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.EventID == "" {
		log.ErrorContext(ctx, "malformed run event; dropped", slog.String("message_id", m.ID), slog.Any("error", err))
		return nil
	}
	key, ok := runs.RunKey(ev.RunID)
	if !ev.Status.Final() || !ok {
		return nil
	}
	run, err := h.store.GetRun(ctx, ev.Account, key)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return nil
	case err != nil:
		return err
	case run.CallbackURL == "":
		return nil
	case ev.Status == runs.StatusFailed && (!run.RetryAt.IsZero() || run.RetryRunID != ""):
		// The run is retried, and the retry calls back in its turn: a
		// caller waiting for the outcome is not told of a failure that is
		// not the last word.
		logging.Annotate(ctx, slog.String("callback", "skipped: the run is retried"))
		return nil
	}
	logging.Annotate(ctx, slog.String("account", ev.Account), slog.String("run_id", ev.RunID), slog.String("event_id", ev.EventID))
	item := delivery.Item{Account: ev.Account, RunKey: key, Prefix: "callback-" + ev.EventID + "-", Status: ev.Status}
	r, err := h.ledger.Deliver(ctx, item, func(ctx context.Context, n int) (delivery.Outcome, string) {
		return h.attempt(ctx, run, ev, n)
	})
	logging.Annotate(ctx, slog.String("callback", string(r.Outcome)), slog.Int("attempt", r.Attempt))
	return err
}

// attempt sends the callback, and says how it went, with a detail for the
// run's events, which shows the callback URL with its query redacted.
func (h *Handler) attempt(ctx context.Context, run runs.Run, ev message.RunEvent, n int) (delivery.Outcome, string) {
	body, err := json.Marshal(api.ResultAt(run, ev))
	if err != nil {
		return delivery.Abandoned, "cannot encode the result"
	}
	return h.sender.Post(ctx, ev.Account, run.CallbackURL, callbacks.RedactURL(run.CallbackURL), body,
		&delivery.Signature{EventID: ev.EventID, Attempt: n, At: h.now()})
}
