package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// ErrStale is returned by Store.SaveWorkflowState when the stored state
// changed after it was read; the change is then made again on the new state.
var ErrStale = errors.New("workflow state changed since it was read")

// Store is the storage workflows need; shared/store implements it.
type Store interface {
	// WorkflowsWaitingOn returns the workflows of an environment that list
	// jobID among their authorized jobs.
	WorkflowsWaitingOn(ctx context.Context, account, environment, jobID string) ([]configs.Configuration, error)
	// GetConfiguration returns a configuration, or an error wrapping
	// failure.ErrNotFound.
	GetConfiguration(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error)
	// WorkflowState returns the workflow's stored state, and whether there
	// is one.
	WorkflowState(ctx context.Context, account string, workflow configs.ConfigRef) (State, bool, error)
	// SaveWorkflowState replaces the state read as prev (created if it did
	// not exist) by next and, in the same atomic write, creates launch if
	// it is not nil. It returns ErrStale if the stored state is no longer
	// prev.
	SaveWorkflowState(ctx context.Context, account string, workflow configs.ConfigRef, prev *State, next State, launch *runs.Run) error
	// MarkMet records that job is met in cycle of the workflow, by c,
	// unless it is already: a document of its own per job and cycle,
	// created once, so that the successes of a busy job never contend on
	// the workflow's state.
	MarkMet(ctx context.Context, account string, workflow configs.ConfigRef, cycle int, job string, c Criterion) error
	// MetJobs returns which of jobs are met in cycle of the workflow.
	MetJobs(ctx context.Context, account string, workflow configs.ConfigRef, cycle int, jobs []string) (map[string]Criterion, error)
}

// Launcher starts a run the store created: it is admitted to a slot of
// its configuration when one is free, and published.
type Launcher interface {
	Start(ctx context.Context, run runs.Run, definition map[string]any)
}

// maxAttempts bounds the retries of a state change that keeps losing to
// concurrent changes; past it the event is returned to Pub/Sub to retry.
const maxAttempts = 50

// Service counts successes toward workflows, launches their targets, and
// resets them.
type Service struct {
	store    Store
	launcher Launcher
	now      func() time.Time
}

// NewService returns a Service; now may be nil for time.Now.
func NewService(store Store, launcher Launcher, now func() time.Time) (*Service, error) {
	switch {
	case store == nil:
		return nil, errors.New("workflows: missing store")
	case launcher == nil:
		return nil, errors.New("workflows: missing launcher")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, launcher: launcher, now: now}, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// HandleRunEvent counts a run's success toward every activated workflow of
// its environment that authorizes its job, and launches each target whose
// criteria are then all met. Handling an event twice changes nothing the
// second time.
func (s *Service) HandleRunEvent(ctx context.Context, ev message.RunEvent) error {
	if ev.Status != runs.StatusSuccess {
		return nil
	}
	waiting, err := s.store.WorkflowsWaitingOn(ctx, ev.Account, ev.Environment, ev.JobID)
	if err != nil {
		return fmt.Errorf("store.WorkflowsWaitingOn: %w", err)
	}
	var errs []error
	for _, wf := range waiting {
		if !listens(wf) {
			continue // a deactivated or archived workflow's triggers do not fire
		}
		if err := s.count(ctx, wf, ev); err != nil {
			errs = append(errs, fmt.Errorf("workflow %s: %w", wf.ConfigurationID, err))
		}
	}
	return errors.Join(errs...)
}

// listens reports whether wf counts successes: it is an activated,
// unarchived workflow.
func listens(wf configs.Configuration) bool {
	return wf.Activated && !wf.Archived && wf.Workflow != nil
}

// count marks ev's job met in wf's current cycle and, when that completes
// the cycle, launches the target. Marking a job met creates a document of
// its own (MarkMet), so a job's burst of successes writes once per cycle
// and never waits on the others; the workflow's state is written once per
// cycle, when it fires: the new state and the target's run together,
// conditionally on the state being unchanged since it was read, so that
// of two events completing a cycle at once exactly one launches. The
// run's key is derived from the workflow and the cycle, so no retry can
// launch a cycle twice either.
func (s *Service) count(ctx context.Context, wf configs.Configuration, ev message.RunEvent) error {
	log := logging.FromContext(ctx).With(slog.String("workflow", wf.ConfigurationID), slog.String("run_id", ev.RunID))
	schedule, _ := configs.ResetSchedule(wf.Workflow)
	authorized := wf.Workflow.AuthorizedJobIDs
	return s.retryStale(ctx, wf.ConfigurationID, func() error {
		prev, exists, err := s.state(ctx, wf)
		if err != nil {
			return err
		}
		next, marked, current := prev.arrive(s.clock(), schedule, ev.JobID, ev.RunID, ev.At)
		if !current {
			return nil // an earlier cycle's success
		}
		if marked {
			if err := s.store.MarkMet(ctx, wf.Account, wf.Ref(), next.Cycle, ev.JobID, next.Met[ev.JobID]); err != nil {
				return fmt.Errorf("store.MarkMet: %w", err)
			}
		}
		// Whoever marked the job met first, this event checks whether the
		// cycle is complete: of events completing it at once, at least one
		// sees every job met.
		met, err := s.store.MetJobs(ctx, wf.Account, wf.Ref(), next.Cycle, authorized)
		if err != nil {
			return fmt.Errorf("store.MetJobs: %w", err)
		}
		maps.Copy(next.Met, met)
		if !next.complete(authorized) {
			return nil
		}
		launch, target, err := s.fireCycle(ctx, wf, &next)
		if err != nil {
			return err
		}
		var prevPtr *State
		if exists {
			prevPtr = &prev
		}
		// ErrStale: another event fired the cycle, or someone reset it.
		if err := s.store.SaveWorkflowState(ctx, wf.Account, wf.Ref(), prevPtr, next, launch); err != nil {
			return fmt.Errorf("store.SaveWorkflowState: %w", err)
		}
		if launch != nil {
			log.InfoContext(ctx, "workflow criteria met: target launched", slog.String("target_run_id", launch.RunID), slog.Int("cycle", next.LastFired.Cycle))
			s.launcher.Start(ctx, *launch, target.Definition)
		} else {
			log.WarnContext(ctx, "workflow criteria met but target not launched", slog.String("reason", next.LastFired.Skipped))
		}
		return nil
	})
}

// retryStale calls change until it returns anything but ErrStale: a
// change made on a state another change replaced first is made again on
// the new state, after a short random pause so that racers spread out.
// Past maxAttempts, or when ctx ends, it gives up: the state is too busy
// for now, a 503 the caller (or Pub/Sub) retries.
func (s *Service) retryStale(ctx context.Context, workflow string, change func() error) error {
	for attempt := range maxAttempts {
		err := change()
		if !errors.Is(err, ErrStale) {
			return err
		}
		select {
		case <-ctx.Done():
			return failure.Unavailable("the workflow state", ctx.Err())
		case <-time.After(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond):
		}
	}
	return failure.Unavailable("the workflow state", fmt.Errorf("%s kept changing; %d attempts", workflow, maxAttempts))
}

// state reads a workflow's state; a workflow never triggered starts its
// first cycle when it was deployed.
func (s *Service) state(ctx context.Context, wf configs.Configuration) (State, bool, error) {
	st, exists, err := s.store.WorkflowState(ctx, wf.Account, wf.Ref())
	if err != nil {
		return State{}, false, fmt.Errorf("store.WorkflowState: %w", err)
	}
	if !exists {
		st = initialState(wf)
	}
	return st, exists, nil
}

// initialState is the state of a workflow never triggered: its first
// cycle began when it was deployed.
func initialState(wf configs.Configuration) State {
	return State{Cycle: 1, CycleStartedAt: wf.UpdatedAt}
}

// fireCycle ends st's cycle, which has every criterion met, and returns
// the target's run to create with the new state; or no run, with the reason
// recorded on st, when the target cannot be launched.
func (s *Service) fireCycle(ctx context.Context, wf configs.Configuration, st *State) (*runs.Run, configs.Configuration, error) {
	target, err := s.store.GetConfiguration(ctx, wf.Account, wf.Workflow.Target)
	if err != nil && !errors.Is(err, failure.ErrNotFound) {
		return nil, configs.Configuration{}, fmt.Errorf("store.GetConfiguration: %w", err)
	}
	return endCycle(wf, target, err == nil, st, s.clock()), target, nil
}

// endCycle ends st's cycle, which has every criterion met, at now, and
// returns the run of target to create with the new state; or no run, with
// the reason recorded on st, when target cannot be launched (found is
// false when it no longer exists).
func endCycle(wf, target configs.Configuration, found bool, st *State, now time.Time) *runs.Run {
	spec := wf.Workflow
	skipped := ""
	if !found {
		skipped = fmt.Sprintf("target %s no longer exists", spec.Target.ConfigurationID)
	} else if problem := target.Launchable(); problem != nil {
		skipped = problem.Error()
	}
	if skipped != "" {
		st.fire(spec.AuthorizedJobIDs, "", skipped)
		return nil
	}
	run := targetRun(wf, target, st.Cycle, now)
	st.fire(spec.AuthorizedJobIDs, run.RunID, "")
	run.TriggerRunIDs = st.LastFired.TriggerRunIDs
	return &run
}

// targetRun is the run a workflow launches at the end of a cycle. Its key
// is derived from the workflow and the cycle: whatever happens, one cycle
// can create one run.
func targetRun(wf, target configs.Configuration, cycle int, now time.Time) runs.Run {
	key := runs.IdempotentKey(wf.Account, fmt.Sprintf("workflow\x00%s\x00%s\x00%d", wf.Environment, wf.ConfigurationID, cycle))
	// Created with the workflow's state, it waits there for a slot of the
	// target's max_active_runs, and is admitted after.
	run := runs.NewQueuedRun(target, key, now)
	run.TriggerType, run.StartedBy = runs.TriggerWorkflow, "workflow:"+wf.ConfigurationID
	return run
}

// Reset starts a new cycle of the workflow ref names, forgetting every
// success so far: the reference's reset_workflow_status.
func (s *Service) Reset(ctx context.Context, who auth.Caller, account string, ref configs.ConfigRef) error {
	wf, err := s.workflow(ctx, account, ref)
	if err != nil {
		return err
	}
	schedule, _ := configs.ResetSchedule(wf.Workflow)
	return s.retryStale(ctx, ref.ConfigurationID, func() error {
		prev, exists, err := s.state(ctx, wf)
		if err != nil {
			return err
		}
		next := prev.resetAt(s.clock(), schedule, who.Email)
		var prevPtr *State
		if exists {
			prevPtr = &prev
		}
		if err := s.store.SaveWorkflowState(ctx, account, ref, prevPtr, next, nil); err != nil {
			return fmt.Errorf("store.SaveWorkflowState: %w", err)
		}
		logging.Annotate(ctx, slog.Int("cycle", next.Cycle))
		return nil
	})
}

// Status returns the workflow ref names and its state as of now.
func (s *Service) Status(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, State, error) {
	wf, err := s.workflow(ctx, account, ref)
	if err != nil {
		return configs.Configuration{}, State{}, err
	}
	st, _, err := s.state(ctx, wf)
	if err != nil {
		return configs.Configuration{}, State{}, err
	}
	schedule, _ := configs.ResetSchedule(wf.Workflow)
	st = st.current(s.clock(), schedule)
	met, err := s.store.MetJobs(ctx, account, ref, st.Cycle, wf.Workflow.AuthorizedJobIDs)
	if err != nil {
		return configs.Configuration{}, State{}, fmt.Errorf("store.MetJobs: %w", err)
	}
	maps.Copy(st.Met, met)
	return wf, st, nil
}

func (s *Service) workflow(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error) {
	wf, err := s.store.GetConfiguration(ctx, account, ref)
	if errors.Is(err, failure.ErrNotFound) || (err == nil && wf.Workflow == nil) {
		return configs.Configuration{}, failure.NotFound("workflow %s not found in environment %s of account %s", ref.ConfigurationID, ref.Environment, account)
	}
	if err != nil {
		return configs.Configuration{}, fmt.Errorf("store.GetConfiguration: %w", err)
	}
	return wf, nil
}
