// Package configuration is the Configuration function, POST
// /v1/configuration: it deploys configurations from their JSON definitions
// (deploy_configuration) and reads them (get_configuration,
// list_configurations).
package configuration

import (
	"context"
	"errors"
	"log/slog"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// defaultListLimit is list_configurations' page size when none is asked.
const defaultListLimit = 100

// Deps are the Configuration function's dependencies.
type Deps struct {
	Configs *configs.Service
	// Runs lists the runs waiting for a slot, in get_schedule.
	Runs  *runs.Service
	Authn api.Authenticator
	Authz api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
}

// Handler serves Configuration.
type Handler struct {
	*api.Endpoint
	configs *configs.Service
	runs    *runs.Service
}

// New returns the Configuration handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Configs == nil:
		return nil, errors.New("configuration: missing configs service")
	case deps.Runs == nil:
		return nil, errors.New("configuration: missing runs service")
	}
	h := &Handler{configs: deps.Configs, runs: deps.Runs}
	endpoint, err := api.NewEndpoint("configuration", deps.Authn, deps.Authz, deps.Limits,
		api.NewAction("deploy_configuration", h.deploy),
		api.NewAction("get_configuration", h.get),
		api.NewAction("list_configurations", h.list),
		api.NewAction("get_schedule", h.schedule),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

func (h *Handler) deploy(ctx context.Context, who auth.Caller, req api.DeployConfigurationRequest) (api.ConfigurationResponse, error) {
	deploy := h.configs.Deploy
	if req.DryRun {
		deploy = h.configs.DryRun
	}
	cfg, err := deploy(ctx, who, req.Configuration)
	if err != nil {
		return api.ConfigurationResponse{}, err
	}
	logging.Annotate(ctx, slog.String("configuration_id", cfg.ConfigurationID), slog.Int("version", cfg.Version), slog.Bool("dry_run", req.DryRun))
	return api.ConfigurationResponse{DryRun: req.DryRun, Configuration: api.NewConfigurationResult(cfg, true)}, nil
}

func (h *Handler) get(ctx context.Context, _ auth.Caller, req api.GetConfigurationRequest) (api.ConfigurationResponse, error) {
	cfg, err := h.configs.Get(ctx, req.Account, req.Ref())
	if err != nil {
		return api.ConfigurationResponse{}, err
	}
	return api.ConfigurationResponse{Configuration: api.NewConfigurationResult(cfg, true)}, nil
}

func (h *Handler) list(ctx context.Context, _ auth.Caller, req api.ListConfigurationsRequest) (api.ConfigurationsResponse, error) {
	f := configs.Filter{Environment: req.Environment, Activated: req.Activated}
	f.Kind, _ = configs.KindOf(req.ConfigurationType)
	limit := defaultListLimit
	if req.Limit != nil {
		limit = *req.Limit
	}
	list, next, err := h.configs.List(ctx, req.Account, f, limit, req.PageToken)
	if err != nil {
		return api.ConfigurationsResponse{}, err
	}
	out := api.ConfigurationsResponse{Configurations: make([]api.ConfigurationResult, 0, len(list)), NextPageToken: next}
	for _, c := range list {
		out.Configurations = append(out.Configurations, api.NewConfigurationResult(c, false))
	}
	return out, nil
}

// upcomingTicks is how many next ticks get_schedule shows.
const upcomingTicks = 5

// shownWaiting bounds the waiting runs get_schedule lists.
const shownWaiting = 100

func (h *Handler) schedule(ctx context.Context, _ auth.Caller, req api.GetScheduleRequest) (api.ScheduleResponse, error) {
	cfg, err := h.configs.Get(ctx, req.Account, req.Ref())
	if err != nil {
		return api.ScheduleResponse{}, err
	}
	waiting, err := h.runs.Waiting(ctx, req.Account, cfg.Ref(), shownWaiting)
	if err != nil {
		return api.ScheduleResponse{}, err
	}
	return api.NewScheduleResponse(cfg, configs.UpcomingTicks(cfg.Schedule, cfg.Ticks, upcomingTicks), waiting), nil
}
