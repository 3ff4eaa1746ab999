package runs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// Report is an executor's report on a run: a RUNNING heartbeat, or its
// outcome with what went wrong and what it measured.
type Report struct {
	// ExecutorID names one execution of the run: the executor makes a new
	// one for each delivery of a launch message it handles.
	ExecutorID string
	Status     Status // RUNNING, SUCCESS, FAILED or NO_MATCH
	Error      *RunError
	Metrics    map[string]any
}

// maxRetryDelay bounds the exponential backoff between retries.
const maxRetryDelay = 24 * time.Hour

// ReportStatus records an executor's report on the run ref names. The
// first report claims the run for its executor_id and for who sent it:
// reports with another executor_id are refused (409), so a launch message
// delivered twice is executed once, and reports from anyone else are
// refused (403), so that an executer who read the executor_id off the
// run's events cannot report in the executor's name; a person changes the
// status with set_run_status, which records who did. A report never
// changes a finished run: repeating its final status changes nothing,
// anything else is refused (409), which tells a late executor to stop. A
// failure schedules a retry if the configuration allows one.
func (s *Service) ReportStatus(ctx context.Context, who auth.Caller, ref RunRef, rep Report) (Run, error) {
	return s.change(ctx, ref, func(r *Run) (Update, error) {
		now := s.clock()
		claim, err := s.decideReport(r, who, rep, now)
		switch {
		case err != nil:
			return Update{}, err
		case r.Status.Final():
			return Update{}, nil // a redelivered final report
		}
		r.LastHeartbeat = now
		if rep.Status == StatusRunning {
			r.Heartbeats++
			r.LastUpdateDate = now
			if r.Timeout > 0 {
				r.Deadline = now.Add(r.Timeout)
			}
			return Update{Save: true, Event: claim}, nil
		}
		r.Error, r.Metrics = rep.Error, rep.Metrics
		if rep.Status == StatusFailed {
			s.scheduleRetry(r, now)
		}
		return Update{Save: true, Event: s.transition(r, who.Email, rep.Status, rep.ExecutorID)}, nil
	})
}

// decideReport checks that who may report rep on r, and claims r for them
// if nobody has: it returns the claim's event, if it made one. The only
// report on a finished run it accepts is a redelivered final report.
func (s *Service) decideReport(r *Run, who auth.Caller, rep Report, now time.Time) (*Event, error) {
	if r.ClaimCaller != "" && !strings.EqualFold(r.ClaimCaller, who.Email) {
		return nil, &failure.Error{Kind: failure.ErrForbidden, Message: fmt.Sprintf(
			"run %s was claimed by %s; only it may report on the run (a person sets its status with set_run_status)", r.RunID, r.ClaimCaller)}
	}
	if r.Status.Final() {
		if r.Status == rep.Status && r.ClaimedBy == rep.ExecutorID {
			return nil, nil // a redelivered final report
		}
		return nil, StatusConflict(*r, "", "run %s is already %s; an executor's report cannot change a finished run", r.RunID, r.Status)
	}
	switch r.ClaimedBy {
	case rep.ExecutorID:
		return nil, nil
	case "":
		r.ClaimedBy, r.ClaimCaller = rep.ExecutorID, who.Email
		// Only status changes go to the run events topic: a claim has
		// nothing to publish.
		return &Event{At: now, By: who.Email, Type: EventClaimed, To: StatusRunning, Detail: rep.ExecutorID, Published: true}, nil
	}
	return nil, &failure.Error{Kind: failure.ErrConflict, Field: "executor_id", Message: fmt.Sprintf(
		"run %s is being executed by executor %s; this delivery is a duplicate, drop it", r.RunID, r.ClaimedBy)}
}

// scheduleRetry sets when a failed run is to be retried, if it has
// attempts left: after RetryDelay, doubled for each earlier retry.
func (s *Service) scheduleRetry(r *Run, now time.Time) {
	if r.Attempt > r.Retries {
		return
	}
	delay := r.RetryDelay
	for i := 1; i < r.Attempt && delay < maxRetryDelay; i++ {
		delay *= 2
	}
	r.RetryAt = now.Add(min(delay, maxRetryDelay))
}
