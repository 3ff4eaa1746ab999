package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// RunRef identifies a run together with the configuration it belongs to.
type RunRef struct {
	Account         string
	Environment     string // optional
	Kind            configs.Kind
	ConfigurationID string
	JobID           string // optional
	RunID           string
}

// matches reports whether run is the run ref names. A run of another
// configuration is reported as not found, not as a mismatch, so that a
// caller cannot probe run ids across configurations.
func (ref RunRef) matches(run Run) bool {
	return run.RunID == ref.RunID &&
		run.Kind == ref.Kind &&
		run.ConfigurationID == ref.ConfigurationID &&
		(ref.Environment == "" || run.Environment == ref.Environment) &&
		(ref.JobID == "" || run.JobID == ref.JobID)
}

func (ref RunRef) notFound() error {
	return failure.NotFound("run %s of configuration %s not found in account %s", ref.RunID, ref.ConfigurationID, ref.Account)
}

func (ref RunRef) key() (string, error) {
	key, ok := RunKey(ref.RunID)
	if !ok {
		return "", failure.InvalidField("run_id", "run_id %s", ValidateRunID(ref.RunID))
	}
	return key, nil
}

// Get returns the run ref names.
func (s *Service) Get(ctx context.Context, ref RunRef) (Run, error) {
	key, err := ref.key()
	if err != nil {
		return Run{}, err
	}
	run, err := s.store.GetRun(ctx, ref.Account, key)
	if errors.Is(err, failure.ErrNotFound) {
		return Run{}, ref.notFound()
	}
	if err != nil {
		return Run{}, fmt.Errorf("store.GetRun: %w", err)
	}
	if !ref.matches(run) {
		return Run{}, ref.notFound()
	}
	return run, nil
}

// Watch returns run, which ref names, once it has finished, or as it is
// when wait is over.
func (s *Service) Watch(ctx context.Context, ref RunRef, run Run, wait time.Duration) (Run, error) {
	if run.Status.Final() || wait <= 0 {
		return run, nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	watched, err := s.store.WatchRun(waitCtx, ref.Account, run.Key, func(r Run) bool { return r.Status.Final() })
	if err != nil {
		// The wait ended before the listener's first snapshot, or its
		// stream broke: the caller still gets the run as it is now.
		logging.FromContext(ctx).WarnContext(ctx, "waiting for the run ended without a snapshot; reading it again", slog.Any("error", err))
		return s.Get(ctx, ref)
	}
	return watched, nil
}

// EventPage selects a page of a run's events: at most Limit, after After.
type EventPage struct {
	After EventCursor // the zero cursor for the first page
	Limit int
}

// EventCursor is where a page of events ended: the time and id of its
// last event. Events are ordered by both, since several may share a time.
type EventCursor struct {
	At time.Time
	ID string
}

// History returns the run ref names and a page of its recorded events,
// and where the next page starts: nil when this page is the last.
func (s *Service) History(ctx context.Context, ref RunRef, page EventPage) (Run, []Event, *EventCursor, error) {
	run, err := s.Get(ctx, ref)
	if err != nil {
		return Run{}, nil, nil, err
	}
	// One more than the page holds says whether another page follows.
	events, err := s.store.Events(ctx, run.Account, run.Key, EventPage{After: page.After, Limit: page.Limit + 1})
	if err != nil {
		return Run{}, nil, nil, fmt.Errorf("store.Events: %w", err)
	}
	if len(events) <= page.Limit {
		return run, events, nil, nil
	}
	events = events[:page.Limit]
	last := events[len(events)-1]
	return run, events, &EventCursor{At: last.At, ID: last.ID}, nil
}

// Find returns the runs of account that q selects, newest first.
func (s *Service) Find(ctx context.Context, account string, q Query) ([]Run, error) {
	found, err := s.store.QueryRuns(ctx, account, q)
	if err != nil {
		return nil, fmt.Errorf("store.QueryRuns: %w", err)
	}
	return found, nil
}

// RunOf returns a run of cfg: the one launched with idempotencyKey when it
// is given, or else the one with auditID when it is given, or else cfg's
// latest run. A run of another configuration is not found.
func (s *Service) RunOf(ctx context.Context, cfg configs.Configuration, idempotencyKey string, auditID int64) (Run, error) {
	var run Run
	var err error
	switch {
	case idempotencyKey != "":
		run, err = s.store.GetRun(ctx, cfg.Account, IdempotentKey(cfg.Account, idempotencyKey))
	case auditID != 0:
		run, err = s.store.RunByAuditID(ctx, cfg.Account, auditID)
	default:
		var latest []Run
		latest, err = s.store.QueryRuns(ctx, cfg.Account, Query{Kind: cfg.Kind, Environment: cfg.Environment, ConfigurationID: cfg.ConfigurationID, Limit: 1})
		if err == nil && len(latest) == 0 {
			err = failure.ErrNotFound
		}
		if err == nil {
			run = latest[0]
		}
	}
	if errors.Is(err, failure.ErrNotFound) || (err == nil && run.ConfigRef() != cfg.Ref()) {
		return Run{}, failure.NotFound("no such run of configuration %s in account %s", cfg.ConfigurationID, cfg.Account)
	}
	if err != nil {
		return Run{}, fmt.Errorf("runs.RunOf: %w", err)
	}
	return run, nil
}
