// Package reaper is the Reaper function, called by Cloud Scheduler every
// minute: it publishes the runs and run events a failed publish left
// behind, fails the runs whose executor went silent past their timeout,
// and launches the retries that are due. Passes may overlap safely.
package reaper

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// Deps are the Reaper's dependencies.
type Deps struct {
	Runs   *runs.Service
	Config runs.ReaperConfig
	// Authenticate accepts the scheduler's requests only.
	Authenticate func(*http.Request) error
}

// Handler serves the Reaper.
type Handler struct {
	runs         *runs.Service
	config       runs.ReaperConfig
	authenticate func(*http.Request) error
}

// New returns the Reaper handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Runs == nil:
		return nil, errors.New("reaper: missing runs service")
	case deps.Authenticate == nil:
		return nil, errors.New("reaper: missing authentication")
	}
	return &Handler{runs: deps.Runs, config: deps.Config, authenticate: deps.Authenticate}, nil
}

// ServeHTTP runs one pass and answers what it did.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api.ServePass(w, r, "Reaper", h.authenticate, h.Pass)
}

// Pass runs one pass of the Reaper.
func (h *Handler) Pass(ctx context.Context) (runs.Pass, error) {
	pass, err := h.runs.Reap(ctx, h.config)
	logging.Annotate(ctx, slog.Int("published", pass.Published), slog.Int("timed_out", pass.TimedOut),
		slog.Int("retried", pass.Retried), slog.Int("events", pass.Events))
	return pass, err
}
