package runway

import (
	"net/http"

	"github.com/runwaydata/runway/functions/access"
	"github.com/runwaydata/runway/functions/daglaunch"
	"github.com/runwaydata/runway/functions/dagstatus"
)

// Route is one Cloud Function: its entry point, where the load balancer
// serves it, and how its handler is built.
type Route struct {
	// Function is the Cloud Function's entry point name.
	Function string
	// Method and Path are where the HTTPS host serves it.
	Method string
	Path   string
	// New builds the function's handler from the process's Env.
	New func(env *Env) (http.Handler, error)
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
		Function: "Access",
		Method:   http.MethodPost,
		Path:     "/v1/access",
		New: func(env *Env) (http.Handler, error) {
			return access.New(access.Deps{Members: env.Store, Authn: env.Verifier, Authz: env.Authorizer})
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
