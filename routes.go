package runway

import (
	"fmt"
	"net/http"

	"github.com/runwaydata/runway/functions/access"
	"github.com/runwaydata/runway/functions/configuration"
	"github.com/runwaydata/runway/functions/configurationstatus"
	"github.com/runwaydata/runway/functions/daglaunch"
	"github.com/runwaydata/runway/functions/dagstatus"
	"github.com/runwaydata/runway/functions/workflowstatus"
	"github.com/runwaydata/runway/functions/workflowtrigger"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/config"
)

// Route is one Cloud Function: its entry point and how it is reached,
// either on the API host at a path, or by a push subscription to a topic.
type Route struct {
	// Function is the Cloud Function's entry point name.
	Function string

	// Method and Path are where the HTTPS host serves an API function;
	// New builds its handler from the process's Env.
	Method string
	Path   string
	New    func(env *Env) (http.Handler, error)

	// Topic names the topic whose push subscription feeds a Pub/Sub
	// function; NewHandler builds its message handler.
	Topic      func(config.Config) string
	NewHandler func(env *Env) (bus.Handler, error)
}

// Routes is the route table, the one source of truth for which functions
// exist: the framework registration (runway.go), the local dev server, the
// OpenAPI spec and the Terraform are all checked against it.
var Routes = []Route{
	{
		Function: "DagLaunch",
		Method:   http.MethodPost,
		Path:     "/v1/dag/launch",
		New: func(env *Env) (http.Handler, error) {
			return daglaunch.New(daglaunch.Deps{Runs: env.Runs, Authn: env.Verifier, Authz: env.Authorizer})
		},
	},
	{
		Function: "DagStatus",
		Method:   http.MethodPost,
		Path:     "/v1/dag/status",
		New: func(env *Env) (http.Handler, error) {
			return dagstatus.New(dagstatus.Deps{Runs: env.Runs, Authn: env.Verifier, Authz: env.Authorizer})
		},
	},
	{
		Function: "WorkflowStatus",
		Method:   http.MethodPost,
		Path:     "/v1/workflow/status",
		New: func(env *Env) (http.Handler, error) {
			return workflowstatus.New(workflowstatus.Deps{Workflows: env.Workflows, Authn: env.Verifier, Authz: env.Authorizer})
		},
	},
	{
		Function: "ConfigurationStatus",
		Method:   http.MethodPost,
		Path:     "/v1/configuration/status",
		New: func(env *Env) (http.Handler, error) {
			return configurationstatus.New(configurationstatus.Deps{Configs: env.Configs, Authn: env.Verifier, Authz: env.Authorizer})
		},
	},
	{
		Function: "Configuration",
		Method:   http.MethodPost,
		Path:     "/v1/configuration",
		New: func(env *Env) (http.Handler, error) {
			return configuration.New(configuration.Deps{Configs: env.Configs, Authn: env.Verifier, Authz: env.Authorizer})
		},
	},
	{
		Function: "Access",
		Method:   http.MethodPost,
		Path:     "/v1/access",
		New: func(env *Env) (http.Handler, error) {
			return access.New(access.Deps{Members: env.Store, Authn: env.Verifier, Authz: env.Authorizer})
		},
	},
	{
		Function: "WorkflowTrigger",
		Topic:    func(c config.Config) string { return c.RunEventsTopic },
		NewHandler: func(env *Env) (bus.Handler, error) {
			h, err := workflowtrigger.New(env.Workflows)
			if err != nil {
				return nil, err
			}
			return h.Handle, nil
		},
	},
}

// RouteFor returns the route of a function.
func RouteFor(function string) (Route, bool) {
	for _, r := range Routes {
		if r.Function == function {
			return r, true
		}
	}
	return Route{}, false
}

// Handler builds the HTTP handler the function is deployed with: the API
// handler, or the push endpoint that checks the push subscription's token
// and hands the message over.
func (r Route) Handler(env *Env) (http.Handler, error) {
	switch {
	case r.New != nil:
		return r.New(env)
	case r.NewHandler != nil:
		h, err := r.NewHandler(env)
		if err != nil {
			return nil, err
		}
		return bus.PushHandler(env.Verifier.RequireCaller(env.Config.SystemCallers), h), nil
	}
	return nil, fmt.Errorf("runway: route %s has no handler", r.Function)
}
