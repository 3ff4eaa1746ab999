// Package alerts sends the alerts of configurations' monitoring blocks
// (shared/configs, docs/alerts.md) when their
// runs change status: email as Tailer sends it, and Slack, PagerDuty and
// signed webhooks. Each alert of a status change is delivered once,
// however often the change's run event is delivered, through the attempt
// ledger completion callbacks use (shared/delivery): every attempt is an
// event of the run, a failed one is tried again when Pub/Sub redelivers
// the event, and the run itself is never changed.
package alerts

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/delivery"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// Store is the storage alerts need; shared/store implements it.
type Store interface {
	GetRun(ctx context.Context, account, key string) (runs.Run, error)
	GetConfiguration(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error)
	// CallbackSettings are the account's allowed hosts, which alerts are
	// sent to as callbacks are, and its secrets, which sign webhooks.
	CallbackSettings(ctx context.Context, account string) (callbacks.Settings, error)
	delivery.Store
	IncidentStore
}

// Deps are a Dispatcher's dependencies.
type Deps struct {
	Store Store
	// Mailer sends email alerts; nil when there is no relay
	// (RUNWAY_SMTP_URL), which abandons them.
	Mailer *SMTP
	// Client sends Slack, PagerDuty and webhook alerts:
	// callbacks.NewClient, which refuses private addresses unless
	// AllowPrivate.
	Client *http.Client
	// Sealer opens the account's secrets, which sign webhook alerts.
	Sealer callbacks.Sealer
	// AllowPrivate allows http and private addresses: the local dev stack.
	AllowPrivate bool
	// BoardURL starts the links to runs and configurations; "" for none.
	BoardURL string
	// MaxAttempts is how many times an alert is tried; 0 means
	// delivery.DefaultMaxAttempts.
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Dispatcher sends the alerts of status changes.
type Dispatcher struct {
	store    Store
	mailer   *SMTP
	sender   delivery.Sender
	boardURL string
	ledger   delivery.Ledger
	now      func() time.Time
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(deps Deps) (*Dispatcher, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("alerts: missing store")
	case deps.Client == nil:
		return nil, errors.New("alerts: missing HTTP client")
	case deps.Sealer == nil:
		return nil, errors.New("alerts: missing callback secret sealer")
	}
	d := &Dispatcher{store: deps.Store, mailer: deps.Mailer, boardURL: deps.BoardURL, now: deps.Now,
		sender: delivery.Sender{Settings: deps.Store, Sealer: deps.Sealer, Client: deps.Client, AllowPrivate: deps.AllowPrivate}}
	if d.now == nil {
		d.now = time.Now
	}
	d.ledger = delivery.Ledger{Store: deps.Store, Kind: "alert", MaxAttempts: deps.MaxAttempts, Now: d.now}
	return d, nil
}

// send delivers one alert of a status change: attempt n.
type send func(ctx context.Context, f *facts, n int) (delivery.Outcome, string)

// Handle sends the alerts of the status change ev that its
// configuration's monitoring block asks for, each at most once: it returns
// an error wrapping delivery.ErrRetry when one is to be tried again.
func (d *Dispatcher) Handle(ctx context.Context, ev message.RunEvent) error {
	key, ok := runs.RunKey(ev.RunID)
	if !ev.Status.Final() || !ok {
		return nil
	}
	ref := configs.ConfigRef{Environment: ev.Environment, Kind: configs.Kind(ev.ConfigurationType), ConfigurationID: ev.ConfigurationID}
	cfg, err := d.store.GetConfiguration(ctx, ev.Account, ref)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	log := logging.FromContext(ctx).With(slog.String("account", ev.Account), slog.String("run_id", ev.RunID), slog.String("event_id", ev.EventID))
	m, err := configs.ParseMonitoring(cfg.Definition)
	if err != nil {
		// Deployed before monitoring blocks were checked: its owner must
		// fix it, and nothing retrying can.
		log.ErrorContext(ctx, "the configuration's monitoring block is invalid: no alert sent", slog.Any("error", err))
		return nil
	}
	if m == nil {
		return nil
	}
	sends := map[string]send{}
	for _, a := range m.Alerts {
		switch {
		case a.PagerDuty != nil && ev.Status == runs.StatusSuccess:
			if s, err := d.resolve(ctx, ev, a); err != nil {
				return err
			} else if s != nil {
				sends[a.Name] = s
			}
		case m.Due(ev.Environment, ev.Status):
			sends[a.Name] = d.senderOf(a)
		}
	}
	if len(sends) == 0 {
		return nil
	}
	run, err := d.store.GetRun(ctx, ev.Account, key)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	f := newFacts(ev, run, cfg, m, d.boardURL)

	// The alerts are independent: each is attempted at once, and each
	// failed one again at the event's next delivery.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for name, s := range sends {
		wg.Go(func() {
			item := delivery.Item{Account: ev.Account, RunKey: key, Prefix: "alert-" + ev.EventID + "-" + name + "-", Label: name + ": ", Status: ev.Status}
			r, err := d.ledger.Deliver(ctx, item, func(ctx context.Context, n int) (delivery.Outcome, string) { return s(ctx, f, n) })
			alog := log.With(slog.String("alert", name), slog.Int("attempt", r.Attempt), slog.String("detail", r.Detail))
			switch {
			case r.Outcome == delivery.Abandoned && r.Attempt > 0:
				alog.ErrorContext(ctx, "alert not sent, and not tried again")
			case r.Outcome == delivery.Failed && r.Attempt > 0:
				alog.WarnContext(ctx, "alert not sent yet; it is tried again")
			}
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// senderOf returns how alert a is sent.
func (d *Dispatcher) senderOf(a configs.Alert) send {
	switch {
	case a.Email != nil:
		return func(ctx context.Context, f *facts, _ int) (delivery.Outcome, string) { return d.email(ctx, a, f) }
	case a.Slack != nil:
		return func(ctx context.Context, f *facts, _ int) (delivery.Outcome, string) { return d.slack(ctx, a.Slack, f) }
	case a.PagerDuty != nil:
		return func(ctx context.Context, f *facts, _ int) (delivery.Outcome, string) { return d.trigger(ctx, a, f) }
	default:
		return func(ctx context.Context, f *facts, n int) (delivery.Outcome, string) {
			return d.webhook(ctx, a.Webhook, f, n)
		}
	}
}
