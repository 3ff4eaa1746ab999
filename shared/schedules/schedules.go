// Package schedules launches configurations on their own schedules: a
// Scheduler pass finds the configurations whose next tick is due and
// launches each due tick once.
//
// A tick's run is created in the same atomic write that moves the
// configuration's next tick past it, on condition that the configuration
// is as the pass read it, with a key derived from the configuration and
// the tick: two passes at once, a pass that dies halfway, or a redeploy in
// the middle of a tick still make one run per tick. A run created but not published (the pass died before) is
// published by the Reaper, as every launch is.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// Store is the storage the Scheduler needs; shared/store implements it.
type Store interface {
	// DueConfigurations returns the configurations of shard whose next
	// tick is at or before now, soonest first, at most limit.
	DueConfigurations(ctx context.Context, shard int, now time.Time, limit int) ([]configs.Configuration, error)
	// LaunchTicks creates the runs of cfg's due ticks, with the slot each
	// admitted one holds, and saves its new ticks, in one atomic write, if
	// cfg is still as it was read (its Revision), none of the runs exists
	// and none of the slots is held; it reports whether it wrote.
	LaunchTicks(ctx context.Context, cfg configs.Configuration, created []runs.Run, ticks configs.Ticks) (bool, error)
	// GetConfiguration returns a configuration, or an error wrapping
	// failure.ErrNotFound.
	GetConfiguration(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error)
}

// Launcher admits and starts runs; runs.Service implements it.
type Launcher interface {
	// Admitted returns run holding a slot of its configuration's
	// max_active_runs from now, for the write that creates it to take.
	Admitted(run runs.Run, now time.Time) runs.Run
	// Start sends a run the store created on its way: published if it
	// holds a slot, else admitted to one when one is free, and published.
	Start(ctx context.Context, run runs.Run, definition map[string]any)
}

// Config tunes a pass.
type Config struct {
	// Shards is how many shards the store's due configurations are in
	// (store.ScheduleShards); a pass reads them in parallel.
	Shards int
	// Configurations bounds the due configurations read per shard and
	// pass; those left wait for the next pass.
	Configurations int
	// TicksPerConfiguration bounds the ticks one configuration launches
	// per pass, when it catches up: one configuration cannot starve the
	// others.
	TicksPerConfiguration int
}

// Scheduled is who launches scheduled runs, as their started_by.
const Scheduled = "schedule"

// Service makes Scheduler passes.
type Service struct {
	store    Store
	launcher Launcher
	config   Config
	now      func() time.Time
}

// NewService returns a Service; now may be nil for time.Now.
func NewService(store Store, launcher Launcher, config Config, now func() time.Time) (*Service, error) {
	switch {
	case store == nil:
		return nil, errors.New("schedules: missing store")
	case launcher == nil:
		return nil, errors.New("schedules: missing launcher")
	case config.Shards < 1 || config.Configurations < 1 || config.TicksPerConfiguration < 1:
		return nil, fmt.Errorf("schedules: a pass needs shards, configurations and ticks per configuration: %+v", config)
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, launcher: launcher, config: config, now: now}, nil
}

// Pass is what one Scheduler pass did.
type Pass struct {
	Configurations int `json:"configurations"` // due configurations looked at
	Launched       int `json:"launched"`       // runs launched, one per tick
}

// Pass launches the due ticks of every shard, shards in parallel.
func (s *Service) Pass(ctx context.Context) (Pass, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	var (
		mu   sync.Mutex
		pass Pass
		errs []error
	)
	var g errgroup.Group
	for shard := range s.config.Shards {
		g.Go(func() error {
			p, err := s.passShard(ctx, shard, now)
			mu.Lock()
			defer mu.Unlock()
			pass.Configurations += p.Configurations
			pass.Launched += p.Launched
			if err != nil {
				errs = append(errs, fmt.Errorf("shard %d: %w", shard, err))
			}
			return nil
		})
	}
	_ = g.Wait()
	return pass, errors.Join(errs...)
}

func (s *Service) passShard(ctx context.Context, shard int, now time.Time) (Pass, error) {
	due, err := s.store.DueConfigurations(ctx, shard, now, s.config.Configurations)
	if err != nil {
		return Pass{}, fmt.Errorf("store.DueConfigurations: %w", err)
	}
	pass := Pass{Configurations: len(due)}
	// Passes that overlap take the configurations in different orders, so
	// that they seldom wait on each other's transactions.
	rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	var errs []error
	for _, cfg := range due {
		n, err := s.launch(ctx, cfg, now)
		pass.Launched += n
		if err != nil {
			errs = append(errs, fmt.Errorf("configuration %s: %w", cfg.ConfigurationID, err))
		}
	}
	return pass, errors.Join(errs...)
}

// writeAttempts bounds how often launch reads a configuration again that
// changed under it.
const writeAttempts = 5

// launch launches the due ticks of one configuration, and says how many.
// When another pass, or a redeploy, changed the configuration since it was
// read, it reads it again and decides again: what the other pass launched
// is no longer due, and a redeploy does not make a tick skipped.
func (s *Service) launch(ctx context.Context, cfg configs.Configuration, now time.Time) (int, error) {
	for range writeAttempts {
		created, ticks := Decide(cfg, now, s.config.TicksPerConfiguration)
		if len(created) == 0 && ticks == cfg.Ticks {
			return 0, nil
		}
		created, wrote, err := s.write(ctx, cfg, created, ticks)
		if err != nil {
			return 0, fmt.Errorf("store.LaunchTicks: %w", err)
		}
		if wrote {
			log := logging.FromContext(ctx).With(slog.String("account", cfg.Account), slog.String("configuration_id", cfg.ConfigurationID))
			for _, run := range created {
				log.InfoContext(ctx, "scheduled tick launched", slog.String("run_id", run.RunID), slog.String("execution_date", run.ExecutionDate))
				s.launcher.Start(ctx, run, cfg.Definition)
			}
			return len(created), nil
		}
		cfg, err = s.store.GetConfiguration(ctx, cfg.Account, cfg.Ref())
		if errors.Is(err, failure.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("store.GetConfiguration: %w", err)
		}
	}
	return 0, fmt.Errorf("it kept changing: %d attempts", writeAttempts)
}

// write creates cfg's tick runs and saves its ticks, and returns the runs
// as created. The oldest tick's run first takes a slot of max_active_runs
// in that write, as an API launch does, so that Start publishes it at
// once: admitting it after would cost a read of the slots, a query of the
// queue and a write. When that write fails (its slot is held, or another
// pass or a redeploy changed the configuration), write makes it again with
// every run waiting for a slot, which either succeeds or fails for the
// second reason.
func (s *Service) write(ctx context.Context, cfg configs.Configuration, created []runs.Run, ticks configs.Ticks) ([]runs.Run, bool, error) {
	if len(created) > 0 {
		admitted := slices.Clone(created)
		// Admitted now, not at the pass's start: its deadline and the
		// time it is to be claimed by run from its admission.
		admitted[0] = s.launcher.Admitted(admitted[0], s.now().UTC())
		if wrote, err := s.store.LaunchTicks(ctx, cfg, admitted, ticks); wrote || err != nil {
			return admitted, wrote, err
		}
	}
	wrote, err := s.store.LaunchTicks(ctx, cfg, created, ticks)
	return created, wrote, err
}

// Decide returns the runs cfg's due ticks launch at now, at most batch,
// and where its schedule then stands. A configuration that no longer runs
// on its own (deactivated, archived or unscheduled since it was found
// due) launches nothing and keeps no next tick.
func Decide(cfg configs.Configuration, now time.Time, batch int) ([]runs.Run, configs.Ticks) {
	if !cfg.Scheduled() {
		return nil, configs.Ticks{Last: cfg.Ticks.Last}
	}
	due, next := configs.DueTicks(cfg.Schedule, cfg.Ticks, now, batch)
	ticks := configs.Ticks{Next: next, Last: cfg.Ticks.Last}
	created := make([]runs.Run, 0, len(due))
	for _, tick := range due {
		created = append(created, TickRun(cfg, tick, now))
		ticks.Last = tick
	}
	return created, ticks
}

// TickRun is the run that launches cfg's tick at now. Its key is derived
// from the configuration and the tick, so that a tick can make one run. It
// waits for a slot of the configuration's max_active_runs (a pass admits
// the oldest tick's run as it creates it, when a slot is free): several
// ticks of a catchup start one at a time when max_active_runs is 1.
func TickRun(cfg configs.Configuration, tick, now time.Time) runs.Run {
	key := runs.IdempotentKey(cfg.Account, fmt.Sprintf("schedule\x00%s\x00%s\x00%s\x00%s",
		cfg.Environment, cfg.Kind, cfg.ConfigurationID, tick.UTC().Format(time.RFC3339)))
	run := runs.NewQueuedRun(cfg, key, now)
	// It waits for a slot since its tick: the ticks of a catchup, created
	// at once, are admitted oldest first.
	run.QueuedAt = tick
	run.TriggerType, run.StartedBy = runs.TriggerSchedule, Scheduled
	run.ExecutionDate = tick.UTC().Format(time.DateOnly)
	return run
}
