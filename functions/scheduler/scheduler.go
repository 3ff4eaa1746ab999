// Package scheduler is the Scheduler function, called by Cloud Scheduler
// every minute: it launches the due ticks of every configuration with a
// schedule_interval, each tick once. Passes may overlap safely.
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/schedules"
)

// Deps are the Scheduler's dependencies.
type Deps struct {
	Schedules *schedules.Service
	// Authenticate accepts Cloud Scheduler's requests only.
	Authenticate func(*http.Request) error
}

// Handler serves the Scheduler.
type Handler struct {
	schedules    *schedules.Service
	authenticate func(*http.Request) error
}

// New returns the Scheduler handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Schedules == nil:
		return nil, errors.New("scheduler: missing schedules service")
	case deps.Authenticate == nil:
		return nil, errors.New("scheduler: missing authentication")
	}
	return &Handler{schedules: deps.Schedules, authenticate: deps.Authenticate}, nil
}

// ServeHTTP runs one pass and answers what it did.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api.ServePass(w, r, "Scheduler", h.authenticate, h.Pass)
}

// Pass runs one pass of the Scheduler.
func (h *Handler) Pass(ctx context.Context) (schedules.Pass, error) {
	pass, err := h.schedules.Pass(ctx)
	logging.Annotate(ctx, slog.Int("configurations", pass.Configurations), slog.Int("launched", pass.Launched))
	return pass, err
}
