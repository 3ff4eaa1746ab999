package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// SetStatus sets the status of the run ref names on behalf of who, a
// person: unlike an executor's report, it may move a finished run to any
// status, and it stops a pending retry, since the person now decides. The
// change is recorded in the run's events; setting the status a run already
// has changes nothing.
//
// expected, when set, makes it a compare-and-set: the run must still be in
// that status, or nothing changes and the answer is a conflict that says
// what the status is, so that a person cannot overwrite an executor's
// report they have not seen. note, optional, is recorded with the change
// (the event's detail): why the person made it.
func (s *Service) SetStatus(ctx context.Context, who auth.Caller, ref RunRef, status, expected Status, note string) (Run, error) {
	return s.change(ctx, ref, func(r *Run) (Update, error) {
		return s.setStatus(r, who.Email, status, expected, note)
	})
}

func (s *Service) setStatus(r *Run, by string, status, expected Status, detail string) (Update, error) {
	if expected != "" && r.Status != expected {
		return Update{}, StatusConflict(*r, "expected_status", "run %s is %s, not %s as expected; nothing was changed", r.RunID, r.Status, expected)
	}
	if r.Status == status {
		return Update{}, nil
	}
	r.RetryAt = time.Time{}
	return Update{Save: true, Event: s.transition(r, by, status, detail)}, nil
}

// transition moves r to status at now, and returns the event recording it.
func (s *Service) transition(r *Run, by string, status Status, detail string) *Event {
	now := s.clock()
	event := &Event{At: now, By: by, Type: EventStatus, From: r.Status, To: status, Detail: detail}
	switch {
	case status == StatusRunning:
		r.EndDate = time.Time{} // running again: the duration runs on
		if r.Timeout > 0 {
			r.Deadline = now.Add(r.Timeout)
		}
	case r.EndDate.IsZero():
		r.EndDate = now
	}
	// A change between final statuses (FAILED → CHECKED) keeps the end
	// date: acknowledging a failure does not make the run longer.
	if status.Final() {
		r.Deadline = time.Time{}
	}
	r.Status = status
	r.LastUpdateDate = now
	return event
}

// change applies decide to the run ref names, and publishes the status
// change it records, if any.
func (s *Service) change(ctx context.Context, ref RunRef, decide func(*Run) (Update, error)) (Run, error) {
	key, err := ref.key()
	if err != nil {
		return Run{}, err
	}
	released := false
	run, event, err := s.store.UpdateRun(ctx, ref.Account, key, func(r *Run) (Update, error) {
		if !ref.matches(*r) {
			return Update{}, ref.notFound()
		}
		update, err := decide(r)
		if err != nil {
			return update, err
		}
		update = settle(r, update)
		released = update.Release > 0 // the transaction may run again: the last run counts
		return update, nil
	})
	if errors.Is(err, failure.ErrNotFound) {
		return Run{}, ref.notFound()
	}
	if err != nil {
		return Run{}, fmt.Errorf("store.UpdateRun: %w", err)
	}
	logging.Annotate(ctx, slog.String("run_id", run.RunID), slog.String("status", string(run.Status)))
	if event != nil && event.Type == EventStatus {
		s.PublishEvent(ctx, run, *event)
	}
	if released {
		s.admitAfter(ctx, run)
	}
	return run, nil
}

// PublishEvent puts a status change on the run events topic and records
// that it is there. A failure is logged and leaves the event unpublished
// for the Reaper: a workflow waiting on the run still hears of it.
func (s *Service) PublishEvent(ctx context.Context, run Run, event Event) {
	_ = s.publishEvent(ctx, run, event)
}

// publishEvent is PublishEvent, saying whether the event went out.
func (s *Service) publishEvent(ctx context.Context, run Run, event Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.publishTimeout)
	defer cancel()
	log := logging.FromContext(ctx).With(slog.String("run_id", run.RunID), slog.String("event_id", event.ID))
	_, err := s.bus.PublishRunEvent(ctx, message.RunEvent{
		EventID:           event.ID,
		Account:           run.Account,
		Environment:       run.Environment,
		ConfigurationType: string(run.Kind),
		ConfigurationID:   run.ConfigurationID,
		JobID:             run.JobID,
		RunID:             run.RunID,
		Status:            event.To,
		PreviousStatus:    event.From,
		At:                event.At,
		By:                event.By,
		HasCallback:       run.CallbackURL != "",
	})
	if err != nil {
		log.ErrorContext(ctx, "run event not published; it stays unpublished until the Reaper publishes it", slog.Any("error", err))
		return err
	}
	if err := retry(ctx, func() error { return s.store.MarkEventPublished(ctx, run.Account, run.Key, event.ID) }); err != nil {
		log.ErrorContext(ctx, "run event published but not recorded: the Reaper may publish it again", slog.Any("error", err))
	}
	return nil
}

// retry calls write until it succeeds or ctx ends, with a growing pause.
// A message is out: recording it is what keeps the Reaper from sending it
// again, so a Firestore blip is worth waiting out.
func retry(ctx context.Context, write func() error) error {
	pause := 50 * time.Millisecond
	for {
		err := write()
		if err == nil || !errors.Is(err, failure.ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
			pause = min(2*pause, time.Second)
		}
	}
}
