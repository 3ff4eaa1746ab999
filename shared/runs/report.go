package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/runwaydata/runway/shared/auth"
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
// first report claims the run for its executor_id: reports with another
// one are refused (409), so a launch message delivered twice is executed
// once. A report never changes a finished run: repeating its final status
// changes nothing, anything else is refused (409), which tells a late
// executor to stop. A failure schedules a retry if the configuration
// allows one.
func (s *Service) ReportStatus(ctx context.Context, who auth.Caller, ref RunRef, rep Report) (Run, error) {
	return s.change(ctx, ref, func(r *Run) (Update, error) {
		if r.Status.Final() {
			if r.Status == rep.Status && r.ClaimedBy == rep.ExecutorID {
				return Update{}, nil // a redelivered final report
			}
			return Update{}, StatusConflict(*r, "", "run %s is already %s; an executor's report cannot change a finished run", r.RunID, r.Status)
		}
		now := s.clock()
		var claim *Event
		switch r.ClaimedBy {
		case rep.ExecutorID:
		case "":
			r.ClaimedBy = rep.ExecutorID
			// Only status changes go to the run events topic: a claim has
			// nothing to publish.
			claim = &Event{At: now, By: who.Email, Type: EventClaimed, To: StatusRunning, Detail: rep.ExecutorID, Published: true}
		default:
			return Update{}, &Error{Kind: ErrConflict, Field: "executor_id", Message: fmt.Sprintf(
				"run %s is being executed by executor %s; this delivery is a duplicate, drop it", r.RunID, r.ClaimedBy)}
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
