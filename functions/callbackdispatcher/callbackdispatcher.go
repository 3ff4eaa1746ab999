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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// The types of the run events that record callback attempts.
const (
	EventDelivered = "callback_delivered" // the receiver answered 2xx
	EventFailed    = "callback_failed"    // to be tried again
	EventAbandoned = "callback_abandoned" // not tried again: refused, or out of attempts
)

// DefaultMaxAttempts is how many times a callback is tried.
const DefaultMaxAttempts = 8

// Store is the storage the function needs; shared/store implements it.
type Store interface {
	GetRun(ctx context.Context, account, key string) (runs.Run, error)
	CallbackSettings(ctx context.Context, account string) (callbacks.Settings, error)
	CallbackAttempts(ctx context.Context, account, key, eventID string) ([]runs.Event, error)
	RecordCallbackAttempt(ctx context.Context, account, key, eventID string, n int, attempt runs.Event) error
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
	// DefaultMaxAttempts.
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler sends callbacks.
type Handler struct {
	store        Store
	client       *http.Client
	sealer       callbacks.Sealer
	allowPrivate bool
	maxAttempts  int
	now          func() time.Time
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
	h := &Handler{store: deps.Store, client: deps.Client, sealer: deps.Sealer, allowPrivate: deps.AllowPrivate, maxAttempts: deps.MaxAttempts, now: deps.Now}
	if h.maxAttempts <= 0 {
		h.maxAttempts = DefaultMaxAttempts
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// errRetry marks an attempt to be made again.
var errRetry = errors.New("callback not delivered; Pub/Sub will deliver the event again")

// Handle implements bus.Handler.
func (h *Handler) Handle(ctx context.Context, m bus.Message) error {
	log := logging.FromContext(ctx)
	var ev runs.RunEvent
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
	case errors.Is(err, runs.ErrNotFound):
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

	attempts, err := h.store.CallbackAttempts(ctx, ev.Account, key, ev.EventID)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(attempts, func(e runs.Event) bool { return e.Type == EventDelivered || e.Type == EventAbandoned }) {
		return nil // a redelivery of an event already dealt with
	}
	n := len(attempts) + 1
	outcome, detail := h.attempt(ctx, run, ev, n)
	if outcome == EventFailed && n >= h.maxAttempts {
		outcome, detail = EventAbandoned, detail+"; no attempts left"
	}
	logging.Annotate(ctx, slog.String("callback", outcome), slog.Int("attempt", n))
	record := runs.Event{At: h.now().UTC().Truncate(time.Microsecond), By: "runway", Type: outcome, To: ev.Status,
		Detail: fmt.Sprintf("attempt %d: %s", n, detail)}
	err = h.store.RecordCallbackAttempt(ctx, ev.Account, key, ev.EventID, n, record)
	switch {
	case errors.Is(err, runs.ErrAlreadyExists):
		// Another delivery of the event made attempt n at the same time;
		// the receiver deduplicates on X-Runway-Event-Id.
		log.WarnContext(ctx, "a concurrent delivery made the same callback attempt", slog.Int("attempt", n))
	case err != nil:
		return err
	}
	if outcome == EventFailed {
		return fmt.Errorf("%w: %s", errRetry, detail)
	}
	return nil
}

// attempt sends the callback, and says how it went: EventDelivered,
// EventFailed or EventAbandoned, with a detail for the run's events, which
// shows the callback URL with its query redacted.
func (h *Handler) attempt(ctx context.Context, run runs.Run, ev runs.RunEvent, n int) (string, string) {
	outcome, detail := h.send(ctx, run, ev, n)
	// Whatever quoted the URL (an error of the HTTP client does), the
	// account's viewers do not see its query.
	return outcome, strings.ReplaceAll(detail, run.CallbackURL, callbacks.RedactURL(run.CallbackURL))
}

func (h *Handler) send(ctx context.Context, run runs.Run, ev runs.RunEvent, n int) (string, string) {
	settings, err := h.store.CallbackSettings(ctx, ev.Account)
	if err != nil {
		return EventFailed, "settings unavailable"
	}
	// The settings may have changed since the launch: check again.
	if err := settings.CheckURL(run.CallbackURL, h.allowPrivate); err != nil {
		return EventAbandoned, err.Error()
	}
	if settings, err = settings.Open(ctx, h.sealer, ev.Account); err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "cannot open the account's callback secrets", slog.Any("error", err))
		return EventFailed, "the signing secrets could not be opened"
	}
	body, err := json.Marshal(resultAt(run, ev))
	if err != nil {
		return EventAbandoned, "cannot encode the result"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, run.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return EventAbandoned, "bad callback URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Runway-Callback/1")
	req.Header.Set(callbacks.HeaderSignature, callbacks.Sign(settings.Secrets, h.now(), ev.EventID, body))
	req.Header.Set(callbacks.HeaderKeyID, settings.Secrets[0].ID)
	req.Header.Set(callbacks.HeaderEventID, ev.EventID)
	req.Header.Set(callbacks.HeaderAttempt, strconv.Itoa(n))

	start := time.Now()
	resp, err := h.client.Do(req)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, callbacks.ErrPrivateAddress):
		// Unwrapped: the *url.Error quotes the URL, query and all.
		return EventAbandoned, "refused: " + errors.Unwrap(err).Error()
	case err != nil:
		return EventFailed, fmt.Sprintf("no answer after %s: %v", took, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	answer := fmt.Sprintf("%s answered %s in %s", callbacks.RedactURL(run.CallbackURL), reasonPhrase(resp), took)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return EventDelivered, answer
	case code >= 300 && code < 400:
		return EventAbandoned, answer + "; redirects are not followed"
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return EventFailed, answer
	default:
		return EventAbandoned, answer + "; a 4xx is not retried"
	}
}

// resultAt is the run's result as of the event: its status, and its last
// update at the event's time, even if the run has changed since.
func resultAt(run runs.Run, ev runs.RunEvent) api.RunResult {
	run.Status, run.LastUpdateDate = ev.Status, ev.At
	if run.EndDate.IsZero() || run.EndDate.After(ev.At) {
		run.EndDate = ev.At
	}
	return api.NewResults(ev.At, run).Results[0]
}

// reasonPhrase is the receiver's status line, made safe to record: its
// reason phrase is the receiver's to choose, and an invalid UTF-8 or huge
// one would make Firestore refuse the attempt's event, so that attempts
// would go uncounted.
func reasonPhrase(resp *http.Response) string {
	const maxLen = 200
	status := strings.ToValidUTF8(resp.Status, "\uFFFD")
	if len(status) > maxLen {
		status = strings.ToValidUTF8(status[:maxLen], "") + "…"
	}
	return status
}
