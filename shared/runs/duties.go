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

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// The Reaper's duties, one run (or event) at a time: Reap (reaper.go)
// finds their work shard by shard and calls them. Each decides in a
// transaction on the run, through a pure function tested without a store
// (reaper_test.go), so that of two Reapers only one acts.

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
		seen     sync.Map // the configurations looked at (accountConfig): their runs are in every shard
	)
	_, err := sweep(ctx, cfg, s.store.Shards(), func(ctx context.Context, shard, limit int) ([]Run, error) {
		return s.store.LongWaiting(ctx, shard, now.Add(-cfg.PublishAfter), limit)
	}, func(ctx context.Context, run Run) (bool, bool, error) {
		if _, dup := seen.LoadOrStore(accountConfig{run.Account, run.ConfigRef()}, true); dup {
			return false, false, nil
		}
		cfg, err := s.store.GetConfiguration(ctx, run.Account, run.ConfigRef())
		if errors.Is(err, failure.ErrNotFound) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("store.GetConfiguration: %w", err)
		}
		n, err := s.AdmitWaiting(ctx, run.Account, run.ConfigRef(), cfg.Schedule.MaxActiveRuns, cfg.Definition)
		admitted.Add(int64(n))
		return false, n > 0, err
	})
	return int(admitted.Load()), err
}

// accountConfig names a configuration across accounts.
type accountConfig struct {
	account string
	ref     configs.ConfigRef
}

func (s *Service) definition(ctx context.Context, run Run) (map[string]any, error) {
	cfg, err := s.store.GetConfiguration(ctx, run.Account, run.ConfigRef())
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
