// Package workflowtrigger is the WorkflowTrigger function, fed by a push
// subscription to the run events topic: each successful run counts toward
// the workflows waiting on its job, which launch their target when every
// job they wait on has succeeded.
package workflowtrigger

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/workflows"
)

// Handler handles run events.
type Handler struct {
	workflows *workflows.Service
}

// New returns the WorkflowTrigger handler.
func New(w *workflows.Service) (*Handler, error) {
	if w == nil {
		return nil, errors.New("workflowtrigger: missing workflows service")
	}
	return &Handler{workflows: w}, nil
}

// Handle implements bus.Handler. A malformed event is logged and dropped:
// no retry can make it readable. A failure to reach Firestore is returned,
// so that Pub/Sub delivers the event again; counting it twice changes
// nothing.
func (h *Handler) Handle(ctx context.Context, m bus.Message) error {
	if m.Attributes[message.AttrStatus] != "" && m.Attributes[message.AttrStatus] != string(runs.StatusSuccess) {
		return nil // only successes count toward workflows
	}
	var ev message.RunEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Account == "" || ev.Environment == "" || ev.JobID == "" || ev.RunID == "" || ev.At.IsZero() {
		logging.FromContext(ctx).ErrorContext(ctx, "malformed run event; dropped", slog.String("message_id", m.ID), slog.Any("error", err))
		return nil
	}
	logging.Annotate(ctx, slog.String("account", ev.Account), slog.String("run_id", ev.RunID), slog.String("job_id", ev.JobID))
	return h.workflows.HandleRunEvent(ctx, ev)
}
