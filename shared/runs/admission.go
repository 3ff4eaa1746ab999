package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// A configuration's max_active_runs bounds its runs in executors' hands:
// each holds one of its slots, numbered 1 to max_active_runs, from its
// admission to its final status. A launch that finds no slot free waits,
// queued and unpublished; when a run of the configuration finishes, it
// frees its slot and the oldest waiting run is admitted. A queued run is RUNNING, as Tailer's statuses have no other for
// it; check_run_status shows queued_at and get_run_events when it waited
// and when it was admitted.

// maxAdmissions bounds the runs one AdmitWaiting call admits.
const maxAdmissions = 100

// createProbes bounds the slots a launch tries, one at random after
// another, before it waits in the queue: with a tenth of a configuration's
// slots held, one launch in a thousand waits while a slot is free, rather
// than one in ten.
const createProbes = 3

// pickSlot returns the slot a launch tries to take: one at random, so that
// concurrent launches seldom try the same.
func pickSlot(slots int) int { return 1 + rand.IntN(max(slots, 1)) }

// admit gives r slot at now: r is in executors' hands from then on, its
// deadline runs from now, and its launch message, published next, is to
// be claimed within redeliverAfter.
func admit(r *Run, slot int, now time.Time, redeliverAfter time.Duration) {
	r.Queued, r.Slot, r.AdmittedAt = false, slot, now
	if r.Timeout > 0 {
		r.Deadline = now.Add(r.Timeout)
	}
	r.Deliveries, r.DeliverBy = 1, now.Add(redeliverAfter)
}

// enqueue makes r wait for a slot from now. A waiting run has no deadline:
// its executor's silence cannot begin before it has one.
func enqueue(r *Run, now time.Time) {
	r.Queued, r.QueuedAt, r.Slot, r.AdmittedAt, r.Deadline = true, now, 0, time.Time{}, time.Time{}
}

// Admitted returns run, which the caller is about to create, holding a
// slot of its configuration's max_active_runs from now, at random as a
// launch's: its creator takes the slot in the same write (store.CreateRun,
// a Scheduler pass's LaunchTicks), which fails when the slot is held. It
// never waited, so it has no queued_at.
func (s *Service) Admitted(run Run, now time.Time) Run {
	run.QueuedAt = time.Time{}
	admit(&run, pickSlot(run.MaxActiveRuns), now, s.redeliverAfter)
	return run
}

// NewQueuedRun is NewRun, waiting for a slot: what a workflow, a schedule
// or a retry creates inside its own transaction, then starts with Start.
func NewQueuedRun(cfg configs.Configuration, key string, now time.Time) Run {
	run := NewRun(cfg, key, now)
	enqueue(&run, now)
	return run
}

// settle applies to r what a change that finished it means for its slot:
// a finished run gives its slot back (update.Release), and leaves the
// queue if it was waiting.
func settle(r *Run, update Update) Update {
	if !update.Save || !r.Status.Final() {
		return update
	}
	r.Queued = false
	if r.Slot > 0 {
		update.Release, r.Slot = r.Slot, 0
	}
	return update
}

// create creates run holding a slot, when one of the few it tries is free,
// or waiting for one. It returns the run as created, or ErrAlreadyExists
// when a run with its key exists.
//
// A launch reads no queue first (the emulator scans a collection for a
// query, and a launch's reads are on the latency path): a launch that comes
// in the instant between a run's end and the admission of the oldest
// waiting run (AdmitWaiting, right after) may take the slot first.
// Admission is first come, first served but for that instant.
func (s *Service) create(ctx context.Context, run Run) (Run, error) {
	for probe := range createProbes {
		admitted := s.Admitted(run, run.StartExecutionDate)
		err := s.store.CreateRun(ctx, admitted)
		if !errors.Is(err, ErrAlreadyExists) {
			return admitted, err
		}
		if probe == 0 {
			// Either the run exists (a replay), or its slot is held.
			switch _, err := s.store.GetRun(ctx, run.Account, run.Key); {
			case err == nil:
				return Run{}, ErrAlreadyExists
			case !errors.Is(err, failure.ErrNotFound):
				return Run{}, fmt.Errorf("store.GetRun: %w", err)
			}
		}
		if run.MaxActiveRuns <= 1 {
			break
		}
	}
	queued := run
	enqueue(&queued, run.StartExecutionDate)
	return queued, s.store.CreateRun(ctx, queued)
}

// Start sends a run the store created on its way: its launch message if it
// holds a slot, else its admission, if a slot is free. A failure is
// logged: the Reaper publishes what is left unpublished, and admits what
// waits with a slot free.
func (s *Service) Start(ctx context.Context, run Run, definition map[string]any) {
	if !run.Queued {
		s.Publish(ctx, run, definition)
		return
	}
	if _, err := s.AdmitWaiting(ctx, run.Account, run.ConfigRef(), run.MaxActiveRuns, definition); err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "admitting waiting runs failed; the Reaper will", slog.String("run_id", run.RunID), slog.Any("error", err))
	}
}

// AdmitWaiting admits the runs of a configuration that wait for one of
// its slots (max_active_runs of them), oldest first, while slots are
// free, and publishes their launches with definition. It returns how many
// it admitted.
func (s *Service) AdmitWaiting(ctx context.Context, account string, ref configs.ConfigRef, slots int, definition map[string]any) (int, error) {
	admitted := 0
	for range maxAdmissions {
		run, err := s.store.Admit(ctx, account, ref, slots, func(r *Run, slot int) { admit(r, slot, s.clock(), s.redeliverAfter) })
		switch {
		case errors.Is(err, ErrAlreadyExists):
			continue // a launch took the slot meanwhile: look again
		case err != nil:
			return admitted, fmt.Errorf("store.Admit: %w", err)
		case run == nil:
			return admitted, nil
		}
		logging.FromContext(ctx).InfoContext(ctx, "a waiting run got a slot", slog.String("run_id", run.RunID), slog.Int("slot", run.Slot))
		s.Publish(ctx, *run, definition)
		admitted++
	}
	return admitted, nil
}

// admitAfter admits the runs waiting for the slot finished freed, if any
// waits. A failure is logged: the Reaper admits what waits with a slot
// free.
func (s *Service) admitAfter(ctx context.Context, finished Run) {
	if err := s.admitWaitingOf(ctx, finished.Account, finished.ConfigRef()); err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "admitting waiting runs failed; the Reaper will",
			slog.String("after", finished.RunID), slog.Any("error", err))
	}
}

// admitWaitingOf is AdmitWaiting for a configuration read from the store,
// when a run of it waits.
func (s *Service) admitWaitingOf(ctx context.Context, account string, ref configs.ConfigRef) error {
	waiting, err := s.store.Waiting(ctx, account, ref, 1)
	if err != nil || len(waiting) == 0 {
		return err
	}
	cfg, err := s.store.GetConfiguration(ctx, account, ref)
	if errors.Is(err, failure.ErrNotFound) {
		return nil // deleted: its waiting runs stay as they are
	}
	if err != nil {
		return fmt.Errorf("store.GetConfiguration: %w", err)
	}
	_, err = s.AdmitWaiting(ctx, account, ref, cfg.Schedule.MaxActiveRuns, cfg.Definition)
	return err
}

// Waiting returns the runs of a configuration waiting for a slot, oldest
// first, at most limit.
func (s *Service) Waiting(ctx context.Context, account string, ref configs.ConfigRef, limit int) ([]Run, error) {
	waiting, err := s.store.Waiting(ctx, account, ref, limit)
	if err != nil {
		return nil, fmt.Errorf("store.Waiting: %w", err)
	}
	return waiting, nil
}
