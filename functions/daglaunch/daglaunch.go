// Package daglaunch is the DagLaunch function, POST /v1/dag/launch: it
// launches a run of a configuration (action launch_job).
package daglaunch

import (
	"context"
	"errors"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/runs"
)

// Deps are the DagLaunch function's dependencies.
type Deps struct {
	Runs  *runs.Service
	Authn api.Authenticator
	Authz api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
}

// Handler serves DagLaunch.
type Handler struct {
	*api.Endpoint
	runs *runs.Service
}

// New returns the DagLaunch handler.
func New(deps Deps) (*Handler, error) {
	if deps.Runs == nil {
		return nil, errors.New("daglaunch: missing runs service")
	}
	h := &Handler{runs: deps.Runs}
	endpoint, err := api.NewEndpoint("daglaunch", deps.Authn, deps.Authz, deps.Limits,
		// Launch reads the caller's role with the configuration, in one
		// round trip, and checks the policy's role itself.
		api.NewAction("launch_job", h.launch).AuthorizedByAct(),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

func (h *Handler) launch(ctx context.Context, who auth.Caller, req api.LaunchRequest) (api.LaunchResponse, error) {
	launch := runs.Launch{
		Account:         req.Account,
		Environment:     req.Environment,
		ConfigType:      req.ConfigurationType,
		ConfigurationID: req.ConfigurationID,
		JobID:           req.JobID,
		ExecutionDate:   req.ExecutionDate,
		IdempotencyKey:  req.IdempotencyKey,
		Parameters:      req.CompactParameters(),
		CallbackURL:     req.CallbackURL,
	}
	need := auth.Required("launch_job")
	if req.DryRun {
		msg, replay, err := h.runs.DryRun(ctx, who, need, launch)
		switch {
		case err != nil:
			return api.LaunchResponse{}, err
		case replay != nil:
			return api.LaunchResponse{DryRun: true, RunID: replay.RunID}, nil
		}
		return api.LaunchResponse{DryRun: true, Launch: &msg}, nil
	}
	run, _, err := h.runs.Launch(ctx, who, need, launch)
	if err != nil {
		return api.LaunchResponse{}, err
	}
	return api.LaunchResponse{RunID: run.RunID}, nil
}
