package runs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/configs"
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
