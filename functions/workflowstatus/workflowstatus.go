// Package workflowstatus is the WorkflowStatus function, POST
// /v1/workflow/status: it resets a workflow (reset_workflow_status) and
// shows where its current cycle stands (get_workflow_status).
package workflowstatus

import (
	"context"
	"errors"
	"net/http"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/workflows"
)

// Deps are the WorkflowStatus function's dependencies.
type Deps struct {
	Workflows *workflows.Service
	Authn     api.Authenticator
	Authz     api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
}

// Handler serves WorkflowStatus.
type Handler struct {
	*api.Endpoint
	workflows *workflows.Service
}

// New returns the WorkflowStatus handler.
func New(deps Deps) (*Handler, error) {
	if deps.Workflows == nil {
		return nil, errors.New("workflowstatus: missing workflows service")
	}
	h := &Handler{workflows: deps.Workflows}
	endpoint, err := api.NewEndpoint("workflowstatus", deps.Authn, deps.Authz, deps.Limits,
		api.NewAction("reset_workflow_status", h.reset),
		api.NewAction("get_workflow_status", h.status),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

func (h *Handler) reset(ctx context.Context, who auth.Caller, req api.WorkflowRequest) (api.ResetResponse, error) {
	if err := h.workflows.Reset(ctx, who, req.Account, req.Ref()); err != nil {
		return api.ResetResponse{}, err
	}
	return api.ResetResponse{Code: http.StatusOK, Message: "ok"}, nil
}

func (h *Handler) status(ctx context.Context, _ auth.Caller, req api.WorkflowRequest) (api.WorkflowStatusResponse, error) {
	wf, st, err := h.workflows.Status(ctx, req.Account, req.Ref())
	if err != nil {
		return api.WorkflowStatusResponse{}, err
	}
	return api.WorkflowStatusResponse{Workflow: api.NewWorkflowStatus(wf, st)}, nil
}
