// Package alertdispatcher is the AlertDispatcher function, fed by a push
// subscription to the run events topic (final statuses only): it sends
// the alerts the monitoring block of the run's configuration asks for
// (shared/alerts). An alert not sent yet is returned as an error, so that
// Pub/Sub delivers the event again after the subscription's backoff; the
// alerts sent already are not sent again.
//
// It is a function of its own, not a part of the CallbackDispatcher: its
// subscription retries its failures apart from the callbacks' (an SMTP
// relay down does not redeliver callbacks, nor a callback receiver down
// alerts), and it alone is given the SMTP relay's secret.
package alertdispatcher

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/runwaydata/runway/shared/alerts"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/logging"
)

// Handler sends alerts.
type Handler struct {
	alerts *alerts.Dispatcher
}

// New returns the AlertDispatcher handler.
func New(deps alerts.Deps) (*Handler, error) {
	d, err := alerts.NewDispatcher(deps)
	if err != nil {
		return nil, fmt.Errorf("alertdispatcher: %w", err)
	}
	return &Handler{alerts: d}, nil
}

// Handle implements bus.Handler.
func (h *Handler) Handle(ctx context.Context, m bus.Message) error {
	var ev message.RunEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.EventID == "" {
		logging.FromContext(ctx).ErrorContext(ctx, "malformed run event; dropped", slog.String("message_id", m.ID), slog.Any("error", err))
		return nil
	}
	return h.alerts.Handle(ctx, ev)
}
