// Package configurationstatus is the ConfigurationStatus function, POST
// /v1/configuration/status: it activates, deactivates, archives and
// unarchives configurations (set_configuration_status).
package configurationstatus

import (
	"context"
	"errors"
	"log/slog"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/logging"
)

// Deps are the ConfigurationStatus function's dependencies.
type Deps struct {
	Configs *configs.Service
	Authn   api.Authenticator
	Authz   api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
}

// Handler serves ConfigurationStatus.
type Handler struct {
	*api.Endpoint
	configs *configs.Service
}

// New returns the ConfigurationStatus handler.
func New(deps Deps) (*Handler, error) {
	if deps.Configs == nil {
		return nil, errors.New("configurationstatus: missing configs service")
	}
	h := &Handler{configs: deps.Configs}
	endpoint, err := api.NewEndpoint("configurationstatus", deps.Authn, deps.Authz, deps.Limits,
		api.NewAction("set_configuration_status", h.setStatus),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

func (h *Handler) setStatus(ctx context.Context, who auth.Caller, req api.SetConfigurationStatusRequest) (api.OK, error) {
	if err := h.configs.SetStatus(ctx, who, req.Account, req.Ref(), *req.Activated, *req.Archived); err != nil {
		return api.OK{}, err
	}
	logging.Annotate(ctx, slog.String("configuration_id", req.ConfigurationID),
		slog.Bool("activated", *req.Activated), slog.Bool("archived", *req.Archived))
	return api.OK{Message: "ok"}, nil
}
