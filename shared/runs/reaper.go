package runs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// Reaper is who Runway's own changes to runs are recorded as.
const Reaper = "runway-reaper"

// EventRef is a run event together with the run it belongs to.
type EventRef struct {
	Account string
	RunKey  string
	Event   Event
}

// ReaperStore is the storage the Reaper needs, across every account. Its
// queries read one shard of the runs or events at a time: each shard's
// index range takes its share of the writes, rather than one range taking
// every run's (Firestore sustains about 500 writes/s into a range of
// increasing values).
type ReaperStore interface {
	// Shards is how many shards the queries below are split into.
	Shards() int
	// UndeliveredRuns returns the runs of shard whose launch message is due
	// to go out again at now (Run.DeliveryDue), most overdue first.
	UndeliveredRuns(ctx context.Context, shard int, now time.Time, limit int) ([]Run, error)
	// OverdueRuns returns the RUNNING runs of shard whose deadline is
	// before now.
	OverdueRuns(ctx context.Context, shard int, now time.Time, limit int) ([]Run, error)
	// DueRetries returns the failed runs of shard whose retry is due at now.
	DueRetries(ctx context.Context, shard int, now time.Time, limit int) ([]Run, error)
	// LongWaiting returns the runs of shard waiting for a slot since before
	// before, oldest first.
	LongWaiting(ctx context.Context, shard int, before time.Time, limit int) ([]Run, error)
	// UnpublishedEvents returns the status changes of shard's runs, made
	// before before, that are not on the run events topic.
	UnpublishedEvents(ctx context.Context, shard int, before time.Time, limit int) ([]EventRef, error)
	// ClaimEventPublication takes the right to publish an unpublished run
	// event for lease, and reports whether it got it: of two Reapers, one
	// publishes.
	ClaimEventPublication(ctx context.Context, account, key, eventID string, now time.Time, lease time.Duration) (bool, error)
	// ReleaseEventPublication gives back a claim whose publish failed, so
	// that the next pass tries again.
	ReleaseEventPublication(ctx context.Context, account, key, eventID string) error
	// CreateRetry creates retry and records it on parent, if parent's retry
	// is still due, in one transaction, and reports whether it did.
	CreateRetry(ctx context.Context, parent, retry Run) (bool, error)
	// GetConfiguration returns a configuration, or an error wrapping
	// ErrNotFound.
	GetConfiguration(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error)
}

// ReaperConfig tunes a Reaper pass.
type ReaperConfig struct {
	// PublishAfter is how old an unpublished run event, or a run waiting
	// for a slot, must be for the Reaper to take it over: longer than the
	// request that made it may take to publish or admit it.
	PublishAfter time.Duration
	// Lease is how long a Reaper's claim to publish an event keeps others
	// off.
	Lease time.Duration
	// MaxDeliveries bounds the publishes of a launch message no executor
	// claims, the launch's own included; 0 means DefaultReaperConfig's.
	MaxDeliveries int
	// Batch bounds the items a duty reads from a shard at a time.
	Batch int
	// Workers is how many shards each duty works on at once, an item at a
	// time in each.
	Workers int
	// Deadline bounds a pass: a duty that read a full batch reads the next
	// while time is left, so that a backlog (a Pub/Sub outage's unclaimed
	// launches) is worked through within passes of a minute.
	Deadline time.Duration
}

// DefaultReaperConfig is what a deployment uses: passes of at most 45 s
// within Cloud Scheduler's minute.
var DefaultReaperConfig = ReaperConfig{PublishAfter: time.Minute, Lease: 2 * time.Minute, MaxDeliveries: 5,
	Batch: 500, Workers: 16, Deadline: 45 * time.Second}

// Pass is what one Reaper pass did.
type Pass struct {
	Published int `json:"published"` // unclaimed launch messages published again
	TimedOut  int `json:"timed_out"` // silent runs failed
	Retried   int `json:"retried"`   // failed runs retried
	Events    int `json:"events"`    // unpublished run events published
	Admitted  int `json:"admitted"`  // waiting runs admitted to a free slot
}

// Reap makes one Reaper pass: it publishes again the launches no executor
// claimed in time and the events a failed publish left behind, fails the
// runs whose executor went silent past the configuration's timeout,
// launches the retries that are due, and admits runs left waiting with a
// slot free. Its duties run at once, each on cfg.Workers shards at a time,
// reading batch after batch until the pass's deadline; every duty is safe
// to run in two Reapers at once.
func (s *Service) Reap(ctx context.Context, cfg ReaperConfig) (Pass, error) {
	now := s.clock()
	if cfg.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Deadline)
		defer cancel()
	}
	shards := s.store.Shards()
	var (
		pass Pass
		g    errgroup.Group
		errs = make([]error, 5)
	)
	g.Go(func() error {
		pass.Published, errs[0] = sweep(ctx, cfg, shards, func(ctx context.Context, shard, limit int) ([]Run, error) {
			return s.store.UndeliveredRuns(ctx, shard, now, limit)
		}, func(ctx context.Context, run Run) (bool, bool, error) {
			return s.redeliver(ctx, cfg, now, run)
		})
		return nil
	})
	g.Go(func() error {
		pass.TimedOut, errs[1] = sweep(ctx, cfg, shards, func(ctx context.Context, shard, limit int) ([]Run, error) {
			return s.store.OverdueRuns(ctx, shard, now, limit)
		}, func(ctx context.Context, run Run) (bool, bool, error) { return s.failSilentRun(ctx, now, run) })
		return nil
	})
	g.Go(func() error {
		pass.Retried, errs[2] = sweep(ctx, cfg, shards, func(ctx context.Context, shard, limit int) ([]Run, error) {
			return s.store.DueRetries(ctx, shard, now, limit)
		}, func(ctx context.Context, parent Run) (bool, bool, error) {
			return s.retryFailedRun(ctx, now, parent)
		})
		return nil
	})
	g.Go(func() error {
		pass.Events, errs[3] = sweep(ctx, cfg, shards, func(ctx context.Context, shard, limit int) ([]EventRef, error) {
			return s.store.UnpublishedEvents(ctx, shard, now.Add(-cfg.PublishAfter), limit)
		}, func(ctx context.Context, e EventRef) (bool, bool, error) {
			return s.publishLeftoverEvent(ctx, cfg, now, e)
		})
		return nil
	})
	g.Go(func() error {
		pass.Admitted, errs[4] = s.admitLongWaiting(ctx, cfg, now)
		return nil
	})
	_ = g.Wait()
	return pass, errors.Join(errs...)
}

// sweep runs one duty over every shard, cfg.Workers shards at a time: in
// each, it reads a batch of items with find and handles them one by one;
// handle says whether an item counts in the pass's figures, and whether it
// changed anything (an item it leaves as it was, say one another Reaper
// holds, may be read again). While a shard's batch is full and changed
// something, it reads the shard's next, until ctx ends.
func sweep[T any](ctx context.Context, cfg ReaperConfig, shards int, find func(ctx context.Context, shard, limit int) ([]T, error),
	handle func(context.Context, T) (counted, changed bool, err error)) (int, error) {
	var (
		mu    sync.Mutex
		total int
		errs  []error
		g     errgroup.Group
	)
	g.SetLimit(max(cfg.Workers, 1))
	for shard := range shards {
		g.Go(func() error {
			n, err := sweepShard(ctx, cfg, func(ctx context.Context, limit int) ([]T, error) { return find(ctx, shard, limit) }, handle)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil {
				errs = append(errs, fmt.Errorf("shard %d: %w", shard, err))
			}
			return nil
		})
	}
	_ = g.Wait()
	return total, errors.Join(errs...)
}

// sweepShard is sweep's work on one shard.
func sweepShard[T any](ctx context.Context, cfg ReaperConfig, find func(context.Context, int) ([]T, error),
	handle func(context.Context, T) (counted, changed bool, err error)) (int, error) {
	total := 0
	for ctx.Err() == nil {
		items, err := find(ctx, cfg.Batch)
		if err != nil {
			return total, err
		}
		changed := 0
		var errs []error
		for _, item := range items {
			c, ch, err := handle(ctx, item)
			if c {
				total++
			}
			if ch || c {
				changed++
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return total, err
		}
		if len(items) < cfg.Batch || changed == 0 {
			return total, nil
		}
	}
	return total, nil
}

// redeliver publishes again the launch message of a run no executor
// claimed by its DeliverBy. The decision is made in a transaction on the
// run, so that of two Reapers one publishes, and a claim that lands
// meanwhile stops it; the publish follows the decision, and a publish
// that fails is tried again at the next due time.
func (s *Service) redeliver(ctx context.Context, cfg ReaperConfig, now time.Time, run Run) (bool, bool, error) {
	var event *Event // what the transaction's last attempt decided
	updated, err := s.change(ctx, refOf(run), func(r *Run) (Update, error) {
		event = nil
		if !redeliveryDue(*r, now) {
			return Update{}, nil // claimed or finished meanwhile, or another Reaper got there first
		}
		event = redelivery(r, now, s.redeliverAfter, cfg.maxDeliveries())
		return Update{Save: true, Event: event}, nil
	})
	switch {
	case err != nil:
		return false, false, err
	case event == nil:
		return false, false, nil
	case event.Type == EventUndelivered:
		logging.FromContext(ctx).ErrorContext(ctx, "no executor claimed the run: Runway stopped publishing its launch message",
			slog.String("run_id", run.RunID), slog.String("account", run.Account), slog.Int("deliveries", updated.Deliveries))
		return false, true, nil
	}
	definition, err := s.definition(ctx, updated)
	if err != nil {
		return false, false, err
	}
	logging.FromContext(ctx).WarnContext(ctx, "publishing again a launch no executor claimed", slog.String("run_id", run.RunID),
		slog.Int("delivery", updated.Deliveries))
	return s.publish(ctx, updated, definition) == nil, true, nil
}

// redeliveryDue reports whether r's launch message is due to go out again
// at now: the re-check, in the run's transaction, of what UndeliveredRuns
// selected, which a claim, an end or another Reaper may have changed.
func redeliveryDue(r Run, now time.Time) bool {
	due := r.DeliveryDue()
	return !due.IsZero() && !due.After(now)
}

// maxDeliveries is cfg.MaxDeliveries, or DefaultReaperConfig's when unset.
func (cfg ReaperConfig) maxDeliveries() int {
	return cmp.Or(cfg.MaxDeliveries, DefaultReaperConfig.MaxDeliveries)
}

// redelivery decides what becomes of a run whose launch message is
// overdue for a claim, and returns the event that records it: published
// again, the delay to the next look doubled (redeliverAfter, then twice
// that, and so on), while fewer than maxDeliveries publishes were made;
// else no more publishes, and the configuration's timeout, if it has one,
// fails the run.
func redelivery(r *Run, now time.Time, redeliverAfter time.Duration, maxDeliveries int) *Event {
	if r.Deliveries >= maxDeliveries {
		r.DeliverBy = time.Time{}
		return &Event{At: now, By: Reaper, Type: EventUndelivered, Published: true, Detail: fmt.Sprintf(
			"no executor claimed the run after %d publishes of its launch message: Runway publishes it no more", r.Deliveries)}
	}
	r.Deliveries++
	r.DeliverBy = now.Add(redeliverAfter << (r.Deliveries - 1))
	return &Event{At: now, By: Reaper, Type: EventRepublished, Published: true, Detail: fmt.Sprintf(
		"no executor claimed the run in time: its launch message is published again (%d of at most %d)", r.Deliveries, maxDeliveries)}
}

// failSilentRun fails a RUNNING run whose executor has not reported within
// the configuration's timeout, and schedules its retry.
func (s *Service) failSilentRun(ctx context.Context, now time.Time, run Run) (bool, bool, error) {
	timedOut := false // set by the transaction's last attempt
	_, err := s.change(ctx, refOf(run), func(r *Run) (Update, error) {
		update := s.decideTimeout(r, now)
		timedOut = update.Save
		return update, nil
	})
	return timedOut, timedOut, err
}

// overdue reports whether r is RUNNING past its deadline at now: the
// re-check, in the run's transaction, of what OverdueRuns selected, which
// a report or another Reaper may have changed.
func overdue(r Run, now time.Time) bool {
	return r.Status == StatusRunning && !r.Deadline.IsZero() && !r.Deadline.After(now)
}

// decideTimeout fails r, if it is overdue at now, with a TIMEOUT error
// saying since when its executor is silent, and schedules its retry; it
// changes nothing, and returns no update, when r is not overdue.
func (s *Service) decideTimeout(r *Run, now time.Time) Update {
	if !overdue(*r, now) {
		return Update{} // it reported meanwhile, or another Reaper got there first
	}
	since := r.LastHeartbeat
	what := "no report from its executor since"
	if since.IsZero() {
		since, what = r.StartExecutionDate, "no executor took the run since its launch at"
	}
	message := fmt.Sprintf("%s %s: the configuration's timeout is %s", what, since.Format(time.RFC3339), r.Timeout)
	r.Error = &RunError{Message: message, Code: "TIMEOUT"}
	s.scheduleRetry(r, now)
	return Update{Save: true, Event: s.transition(r, Reaper, StatusFailed, message)}
}

// retryFailedRun launches the retry of a failed run. The retry's key is
// derived from its parent's, and the retry is created in the transaction
// that records it on the parent: a failed run is retried once.
func (s *Service) retryFailedRun(ctx context.Context, now time.Time, parent Run) (bool, bool, error) {
	config, err := s.store.GetConfiguration(ctx, parent.Account, configs.ConfigRef{Environment: parent.Environment, Kind: parent.Kind, ConfigurationID: parent.ConfigurationID})
	if err != nil && !errors.Is(err, failure.ErrNotFound) {
		return false, false, fmt.Errorf("store.GetConfiguration: %w", err)
	}
	if why := retryRefusal(config, err == nil); why != "" {
		_, err := s.change(ctx, refOf(parent), func(r *Run) (Update, error) {
			return s.decideNoRetry(r, why), nil
		})
		return false, err == nil, err
	}
	retry := retryOf(parent, config, now)
	created, err := s.store.CreateRetry(ctx, parent, retry)
	if err != nil || !created {
		return false, false, wrap("store.CreateRetry", err)
	}
	logging.FromContext(ctx).InfoContext(ctx, "retrying a failed run", slog.String("run_id", parent.RunID),
		slog.String("retry_run_id", retry.RunID), slog.Int("attempt", retry.Attempt))
	s.Start(ctx, retry, config.Definition)
	return true, true, nil
}

// retryRefusal explains why a failed run is not to be retried with
// config (found false when it no longer exists), or returns "".
func retryRefusal(config configs.Configuration, found bool) string {
	if !found {
		return "the configuration no longer exists"
	}
	if refusal := config.Launchable(); refusal != nil {
		return refusal.Error()
	}
	return ""
}

// decideNoRetry gives up r's pending retry, for why. Its configuration
// was deleted, deactivated or archived since: the run stays FAILED, now
// for good, and says so in an event of its own: a completion callback
// held back while a retry was due goes out on it. It changes nothing, and
// returns no update, when no retry is pending any more.
func (s *Service) decideNoRetry(r *Run, why string) Update {
	if r.RetryAt.IsZero() {
		return Update{}
	}
	r.RetryAt = time.Time{}
	return Update{Save: true, Event: s.transition(r, Reaper, StatusFailed, "not retried: "+why)}
}

// retryOf is the run that retries parent with config at now: its key is
// derived from its parent's, so that a parent has one retry at most; it
// waits for a slot, and carries on its parent's launch.
func retryOf(parent Run, config configs.Configuration, now time.Time) Run {
	retry := NewQueuedRun(config, IdempotentKey(parent.Account, "retry\x00"+parent.Key), now)
	retry.ConfigurationType, retry.ExecutionDate = parent.ConfigurationType, parent.ExecutionDate
	retry.TriggerType, retry.StartedBy = TriggerRetry, parent.StartedBy
	retry.Attempt, retry.ParentRunID = parent.Attempt+1, parent.RunID
	retry.Parameters, retry.CallbackURL = parent.Parameters, parent.CallbackURL
	// The retry budget is the one the first attempt was launched with.
	retry.Retries, retry.RetryDelay = parent.Retries, parent.RetryDelay
	return retry
}

// RetryPending reports whether r, as read in CreateRetry's transaction,
// still awaits the retry DueRetries selected it for: it is FAILED, has a
// retry time, and no retry yet. A person's status change or another
// Reaper's retry since makes it false.
func (r Run) RetryPending() bool {
	return r.Status == StatusFailed && !r.RetryAt.IsZero() && r.RetryRunID == ""
}

// PublicationClaimable reports whether a Reaper may take, at now, the
// right to publish a run event: it is not published, and nobody claimed
// it (claimedAt zero) or their lease ran out.
func PublicationClaimable(published bool, claimedAt, now time.Time, lease time.Duration) bool {
	return !published && (claimedAt.IsZero() || now.Sub(claimedAt) >= lease)
}

// publishLeftoverEvent publishes a status change whose publish failed, by
// one Reaper.
func (s *Service) publishLeftoverEvent(ctx context.Context, cfg ReaperConfig, now time.Time, e EventRef) (bool, bool, error) {
	claimed, err := s.store.ClaimEventPublication(ctx, e.Account, e.RunKey, e.Event.ID, now, cfg.Lease)
	if err != nil || !claimed {
		return false, false, wrap("store.ClaimEventPublication", err)
	}
	run, err := s.store.GetRun(ctx, e.Account, e.RunKey)
	if err != nil {
		return false, false, fmt.Errorf("store.GetRun: %w", err)
	}
	if err := s.publishEvent(ctx, run, e.Event); err != nil {
		if err := s.store.ReleaseEventPublication(ctx, e.Account, e.RunKey, e.Event.ID); err != nil {
			return false, false, fmt.Errorf("store.ReleaseEventPublication: %w", err)
		}
		return false, false, nil
	}
	return true, true, nil
}

// wrap wraps err, if any, with the callee's name.
func wrap(callee string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", callee, err)
}

// admitLongWaiting admits the runs that have waited for a slot longer
// than a launch's own admission takes, configuration by configuration:
// those whose admission was lost (the process died after queueing them),
// and those of a configuration whose max_active_runs was raised.
func (s *Service) admitLongWaiting(ctx context.Context, cfg ReaperConfig, now time.Time) (int, error) {
	var (
		admitted atomic.Int64
		seen     sync.Map // the configurations looked at: their runs are in every shard
	)
	_, err := sweep(ctx, cfg, s.store.Shards(), func(ctx context.Context, shard, limit int) ([]Run, error) {
		return s.store.LongWaiting(ctx, shard, now.Add(-cfg.PublishAfter), limit)
	}, func(ctx context.Context, run Run) (bool, bool, error) {
		if _, dup := seen.LoadOrStore(run.Account+"/"+string(run.Kind)+"/"+run.Environment+"/"+run.ConfigurationID, true); dup {
			return false, false, nil
		}
		cfg, err := s.store.GetConfiguration(ctx, run.Account, configOf(run))
		if errors.Is(err, failure.ErrNotFound) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("store.GetConfiguration: %w", err)
		}
		n, err := s.AdmitWaiting(ctx, run.Account, configOf(run), cfg.Schedule.MaxActiveRuns, cfg.Definition)
		admitted.Add(int64(n))
		return false, n > 0, err
	})
	return int(admitted.Load()), err
}

func (s *Service) definition(ctx context.Context, run Run) (map[string]any, error) {
	cfg, err := s.store.GetConfiguration(ctx, run.Account, configs.ConfigRef{Environment: run.Environment, Kind: run.Kind, ConfigurationID: run.ConfigurationID})
	if errors.Is(err, failure.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetConfiguration: %w", err)
	}
	return cfg.Definition, nil
}

// refOf names run by its own identity.
func refOf(run Run) RunRef {
	return RunRef{Account: run.Account, Environment: run.Environment, Kind: run.Kind, ConfigurationID: run.ConfigurationID, RunID: run.RunID}
}
