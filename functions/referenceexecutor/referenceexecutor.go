// Package referenceexecutor is the ReferenceExecutor function, fed by a
// push subscription to the launch topic: an executor that follows the
// contract of docs/executors.md, whose "work" is to wait and end as the
// configuration's definition says. It lets the whole loop (launch, Pub/Sub,
// execution, reports, retries) run locally and in tests, and is the
// starting point of a real executor.
//
// The fields it reads, all optional, from the launch's parameters or else
// from the configuration's definition:
//
//	"sleep_ms": 1000          how long the work takes
//	"outcome": "SUCCESS"      how it ends: SUCCESS, FAILED or NO_MATCH
//	"fail_attempts": 0        the first N attempts fail whatever the outcome
//	"silent": false           claim the run, then never report again (the Reaper's case)
package referenceexecutor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/executor"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// Deps are the ReferenceExecutor's dependencies.
type Deps struct {
	// Client reports to the Runway API.
	Client *executor.Client
	// Work performs the "work": it waits d, or until ctx ends. Tests count
	// its calls; nil means a plain wait.
	Work func(ctx context.Context, d time.Duration) error
}

// Handler executes launch messages, and stops the runs that cancel
// messages name.
type Handler struct {
	client  *executor.Client
	work    func(ctx context.Context, d time.Duration) error
	running executor.Running
}

// New returns the ReferenceExecutor handler.
func New(deps Deps) (*Handler, error) {
	if deps.Client == nil {
		return nil, errors.New("referenceexecutor: missing Runway client")
	}
	h := &Handler{client: deps.Client, work: deps.Work}
	if h.work == nil {
		h.work = wait
	}
	return h, nil
}

func wait(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// plan is what the definition asks of the reference executor.
type plan struct {
	sleep        time.Duration
	outcome      runs.Status
	failAttempts int
	silent       bool
}

// planOf reads the plan from the launch's parameters, which override the
// definition's fields of the same name.
func planOf(msg message.Launch) plan {
	def := maps.Clone(msg.Definition)
	var params map[string]any
	if json.Unmarshal(msg.Parameters, &params) == nil {
		if def == nil {
			def = map[string]any{}
		}
		maps.Copy(def, params)
	}
	p := plan{sleep: time.Second, outcome: runs.StatusSuccess}
	if ms, ok := def["sleep_ms"].(float64); ok && ms >= 0 {
		p.sleep = time.Duration(ms) * time.Millisecond
	}
	switch o := runs.Status(fmt.Sprint(def["outcome"])); o {
	case runs.StatusSuccess, runs.StatusFailed, runs.StatusNoMatch:
		p.outcome = o
	}
	if n, ok := def["fail_attempts"].(float64); ok {
		p.failAttempts = int(n)
	}
	p.silent, _ = def["silent"].(bool)
	return p
}

// Handle implements bus.Handler: claim the run, keep it alive while
// working, report the outcome. A duplicate delivery finds the run claimed
// and is acknowledged without working; a failure to reach Runway is
// returned so that Pub/Sub delivers the message again. A cancel message
// stops the run's work if this process is doing it; otherwise the next
// heartbeat, which Runway refuses, does.
func (h *Handler) Handle(ctx context.Context, m bus.Message) error {
	log := logging.FromContext(ctx)
	if executor.IsCancel(m.Attributes) {
		msg, stopped, err := h.running.Cancel(m.Data)
		if err != nil {
			log.ErrorContext(ctx, "malformed cancel message; dropped", slog.String("message_id", m.ID), slog.Any("error", err))
			return nil
		}
		logging.Annotate(ctx, slog.String("account", msg.Account), slog.String("run_id", msg.RunID), slog.Bool("stopped", stopped))
		return nil
	}
	msg, err := executor.DecodeLaunch(m.Data)
	if err != nil {
		log.ErrorContext(ctx, "malformed launch message; dropped", slog.String("message_id", m.ID), slog.Any("error", err))
		return nil
	}
	log = log.With(slog.String("run_id", msg.RunID), slog.Int("attempt", msg.Attempt))
	logging.Annotate(ctx, slog.String("account", msg.Account), slog.String("run_id", msg.RunID))

	exec, err := h.client.Start(ctx, msg)
	switch {
	case errors.Is(err, executor.ErrNotYours), errors.Is(err, executor.ErrUnknownRun):
		log.InfoContext(ctx, "not executing: another delivery has the run, or it is over", slog.Any("reason", err))
		return nil
	case err != nil:
		return err
	}
	p := planOf(msg)
	if p.silent {
		log.WarnContext(ctx, "claimed the run and going silent, as the definition asks")
		return nil
	}

	ctx, done := h.running.Track(ctx, msg.RunID)
	defer done()
	workCtx, stop := exec.KeepAlive(ctx)
	started := time.Now()
	workErr := h.work(workCtx, p.sleep)
	stop()
	if executor.Stopped(workCtx) {
		// Canceled: the run is already FAILED, there is nothing to report.
		log.InfoContext(ctx, "run stopped", slog.Any("reason", context.Cause(workCtx)))
		return nil
	}
	outcome, runErr := p.outcome, (*runs.RunError)(nil)
	switch {
	case workErr != nil:
		outcome, runErr = runs.StatusFailed, &runs.RunError{Message: "the work was interrupted: " + workErr.Error(), Code: "INTERRUPTED"}
	case msg.Attempt <= p.failAttempts:
		outcome, runErr = runs.StatusFailed, &runs.RunError{Message: fmt.Sprintf("attempt %d of the %d the definition fails on purpose", msg.Attempt, p.failAttempts),
			Code: "REFERENCE_FAILURE", Location: "referenceexecutor"}
	case outcome == runs.StatusFailed:
		runErr = &runs.RunError{Message: "the definition's outcome is FAILED", Code: "REFERENCE_FAILURE", Location: "referenceexecutor"}
	case outcome == runs.StatusNoMatch:
		runErr = &runs.RunError{Message: "the definition's outcome is NO_MATCH", Code: "NO_MATCH"}
	}
	metrics := map[string]any{"work_ms": time.Since(started).Milliseconds(), "attempt": msg.Attempt}
	err = exec.Finish(ctx, outcome, runErr, metrics)
	if errors.Is(err, executor.ErrNotYours) {
		log.InfoContext(ctx, "the run was finished by someone else while it executed", slog.Any("reason", err))
		return nil
	}
	if err != nil {
		// The run stays RUNNING; if Runway stays unreachable, the Reaper
		// fails it at its deadline.
		log.ErrorContext(ctx, "outcome not reported", slog.String("outcome", string(outcome)), slog.Any("error", err))
		return nil
	}
	log.InfoContext(ctx, "run executed", slog.String("outcome", string(outcome)))
	return nil
}
