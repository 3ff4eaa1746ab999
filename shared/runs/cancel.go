package runs

import (
	"context"
	"log/slog"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/logging"
)

// CodeCanceled is the error code of a canceled run. Cancel keeps the
// Tailer status set: a canceled run is FAILED, with this code.
const CodeCanceled = "CANCELED"

// Canceled reports whether the run was canceled.
func (r Run) Canceled() bool {
	return r.Status == StatusFailed && r.Error != nil && r.Error.Code == CodeCanceled
}

// Cancel stops the RUNNING run ref names on behalf of who: it is FAILED
// with error code CANCELED and not retried, and a cancel message goes to
// the launch topic for its executor. Canceling a canceled run changes
// nothing; any other finished run cannot be canceled (409 with its
// status).
func (s *Service) Cancel(ctx context.Context, who auth.Caller, ref RunRef, reason string) (Run, error) {
	if reason == "" {
		reason = "canceled by " + who.Email
	}
	var canceled *Event
	run, err := s.change(ctx, ref, func(r *Run) (Update, error) {
		canceled = nil // the transaction may run again
		switch {
		case r.Canceled():
			return Update{}, nil
		case r.Status.Final():
			return Update{}, StatusConflict(*r, "", "run %s is already %s; only a RUNNING run can be canceled", r.RunID, r.Status)
		}
		r.Error = &RunError{Code: CodeCanceled, Message: reason}
		r.RetryAt = time.Time{}
		canceled = s.transition(r, who.Email, StatusFailed, "canceled: "+reason)
		return Update{Save: true, Event: canceled}, nil
	})
	if err != nil || canceled == nil {
		return run, err
	}
	s.publishCancel(ctx, run, *canceled, reason)
	return run, nil
}

// publishCancel tells executors that run was canceled. A failure is only
// logged: the executor learns it from the 409 its next report gets.
func (s *Service) publishCancel(ctx context.Context, run Run, ev Event, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.publishTimeout)
	defer cancel()
	_, err := s.bus.PublishCancel(ctx, message.Cancel{
		MessageType: message.TypeCancel, RunID: run.RunID, Account: run.Account, Environment: run.Environment,
		ConfigurationType: string(run.Kind), ConfigurationID: run.ConfigurationID, JobID: run.JobID,
		ExecutorID: run.ClaimedBy, Reason: reason, By: ev.By, At: ev.At,
	})
	if err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "cancel message not published; the executor stops at its next report",
			slog.String("run_id", run.RunID), slog.Any("error", err))
	}
}
