package runway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/runwaydata/runway/functions/access"
	"github.com/runwaydata/runway/functions/alertdispatcher"
	"github.com/runwaydata/runway/functions/board"
	"github.com/runwaydata/runway/functions/callbackdispatcher"
	"github.com/runwaydata/runway/functions/configuration"
	"github.com/runwaydata/runway/functions/configurationstatus"
	"github.com/runwaydata/runway/functions/daglaunch"
	"github.com/runwaydata/runway/functions/dagstatus"
	"github.com/runwaydata/runway/functions/executions"
	"github.com/runwaydata/runway/functions/reaper"
	"github.com/runwaydata/runway/functions/referenceexecutor"
	"github.com/runwaydata/runway/functions/scheduler"
	"github.com/runwaydata/runway/functions/workflowstatus"
	"github.com/runwaydata/runway/functions/workflowtrigger"
	"github.com/runwaydata/runway/shared/alerts"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/runs"
)

// Route is one Cloud Function: its entry point and how it is reached: on
// the API host at a path, by a push subscription to a topic, or by Cloud
// Scheduler. APIRoute, PushRoute and ScheduledRoute make each kind with
// the fields it needs.
type Route struct {
	// Function is the Cloud Function's entry point name.
	Function string

	// Method and Path are where the HTTPS host serves an API function
	// (Aliases too); New builds its handler from the process's Env. A path
	// ending in "/" serves the paths under it.
	Method  string
	Path    string
	Aliases []string
	New     func(env *Env) (http.Handler, error)

	// Schedule, for a function Cloud Scheduler calls (not on the API host),
	// is its cron; New builds its handler.
	Schedule string

	// Topic names the topic whose push subscription feeds a Pub/Sub
	// function; NewHandler builds its message handler.
	Topic      func(config.Config) string
	NewHandler func(env *Env) (bus.Handler, error)
	// Filter is the subscription's filter, so that the function receives
	// only the messages it acts on; Terraform's subscription has the same
	// (terraform/check_test.go). "" for every message, or, for the
	// reference executor, the deployment's own choice of accounts.
	Filter string

	// Publishes are the topics the function publishes to. Its handler is
	// built on a bus that refuses the others (Env.For), and Terraform
	// grants it these and no others (terraform/check_test.go).
	Publishes []bus.Topic

	// IAP marks a function people use in a browser: Identity-Aware Proxy
	// signs them in at the load balancer, and only IAP may invoke it
	// (terraform/lb.tf); it is not part of the JSON API.
	IAP bool
}

// Routes is the route table, the one source of truth for which functions
// exist: the framework registration (runway.go), the local dev server, the
// OpenAPI spec and the Terraform are all checked against it. Each kind of
// function has its constructor (APIRoute, ScheduledRoute, PushRoute), which
// takes what that kind needs.
var Routes = []Route{
	APIRoute("DagLaunch", http.MethodPost, "/v1/dag/launch", func(env *Env) (http.Handler, error) {
		return daglaunch.New(daglaunch.Deps{Runs: env.Runs, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}).Publishing(bus.LaunchTopic),
	// Status changes go to the run events topic, cancel_run's cancel
	// message to the launch topic, where the run's executor listens.
	APIRoute("DagStatus", http.MethodPost, "/v1/dag/status", func(env *Env) (http.Handler, error) {
		return dagstatus.New(dagstatus.Deps{Runs: env.Runs, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}).Publishing(bus.LaunchTopic, bus.RunEventsTopic),
	APIRoute("WorkflowStatus", http.MethodPost, "/v1/workflow/status", func(env *Env) (http.Handler, error) {
		return workflowstatus.New(workflowstatus.Deps{Workflows: env.Workflows, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}),
	APIRoute("ConfigurationStatus", http.MethodPost, "/v1/configuration/status", func(env *Env) (http.Handler, error) {
		return configurationstatus.New(configurationstatus.Deps{Configs: env.Configs, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}),
	APIRoute("Configuration", http.MethodPost, "/v1/configuration", func(env *Env) (http.Handler, error) {
		return configuration.New(configuration.Deps{Configs: env.Configs, Runs: env.Runs, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}),
	APIRoute("Access", http.MethodPost, "/v1/access", func(env *Env) (http.Handler, error) {
		sealer, err := env.CallbackSealer()
		if err != nil {
			return nil, err
		}
		return access.New(access.Deps{Members: env.Store, Callbacks: env.Store, Sealer: sealer, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}),
	APIRoute("Executions", http.MethodGet, executions.Paths[0], func(env *Env) (http.Handler, error) {
		return executions.New(executions.Deps{Runs: env.Runs, Configs: env.Configs, Authn: env.Verifier, Authz: env.Authorizer, Limits: env.Limits})
	}).WithAliases(executions.Paths[1:]...),
	// Setting a status publishes the change; canceling, the cancel message;
	// a status change frees a slot, which admits a run.
	APIRoute("Board", http.MethodGet, board.Root, func(env *Env) (http.Handler, error) {
		identity, err := env.boardIdentity()
		if err != nil {
			return nil, err
		}
		return board.New(board.Deps{Runs: env.Runs, Configs: env.Configs, Workflows: env.Workflows,
			Members: env.Store, Authz: env.Authorizer, Identity: identity, Limits: env.Limits})
	}).Publishing(bus.LaunchTopic, bus.RunEventsTopic).BehindIAP(),
	ScheduledRoute("Reaper", "* * * * *", func(env *Env) (http.Handler, error) {
		authenticate, err := env.systemCallers("Reaper")
		if err != nil {
			return nil, err
		}
		return reaper.New(reaper.Deps{Runs: env.Runs, Config: runs.DefaultReaperConfig, Authenticate: authenticate})
	}).Publishing(bus.LaunchTopic, bus.RunEventsTopic),
	ScheduledRoute("Scheduler", "* * * * *", func(env *Env) (http.Handler, error) {
		authenticate, err := env.systemCallers("Scheduler")
		if err != nil {
			return nil, err
		}
		return scheduler.New(scheduler.Deps{Schedules: env.Schedules, Authenticate: authenticate})
	}).Publishing(bus.LaunchTopic),
	// Every launch; the deployment chooses the accounts (Terraform).
	PushRoute("ReferenceExecutor", launchTopic, "", func(env *Env) (bus.Handler, error) {
		client, err := env.ExecutorClient(context.Background())
		if err != nil {
			return nil, err
		}
		h, err := referenceexecutor.New(referenceexecutor.Deps{Client: client})
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}),
	// Only a success counts toward a workflow.
	PushRoute("WorkflowTrigger", runEventsTopic, `attributes.status = "SUCCESS"`, func(env *Env) (bus.Handler, error) {
		h, err := workflowtrigger.New(env.Workflows)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}).Publishing(bus.LaunchTopic),
	// Final statuses only: alerts are on them, PagerDuty's resolve on a
	// success.
	PushRoute("AlertDispatcher", runEventsTopic,
		`attributes.status = "FAILED" OR attributes.status = "SUCCESS" OR attributes.status = "NO_MATCH" OR attributes.status = "CHECKED"`,
		newAlertDispatcher),
	// Only runs launched with a callback_url, when they finish.
	PushRoute("CallbackDispatcher", runEventsTopic, `attributes.callback = "true" AND NOT attributes.status = "RUNNING"`,
		func(env *Env) (bus.Handler, error) {
			sealer, err := env.CallbackSealer()
			if err != nil {
				return nil, err
			}
			dev := env.Config.AuthMode == config.AuthDev
			h, err := callbackdispatcher.New(callbackdispatcher.Deps{Store: env.Store, Client: callbacks.NewClient(dev), Sealer: sealer, AllowPrivate: dev})
			if err != nil {
				return nil, err
			}
			return h.Handle, nil
		}),
}

// The topics push routes read, as the configuration names them.
func launchTopic(c config.Config) string    { return c.LaunchTopic }
func runEventsTopic(c config.Config) string { return c.RunEventsTopic }

// APIRoute is a function the HTTPS host serves at method and path; new
// builds its handler from the process's Env. A path ending in "/" serves
// the paths under it.
func APIRoute(function, method, path string, new func(env *Env) (http.Handler, error)) Route {
	return Route{Function: function, Method: method, Path: path, New: new}
}

// ScheduledRoute is a function Cloud Scheduler calls on schedule, a cron,
// not on the API host; new builds its handler.
func ScheduledRoute(function, schedule string, new func(env *Env) (http.Handler, error)) Route {
	return Route{Function: function, Schedule: schedule, New: new}
}

// PushRoute is a function a push subscription to topic feeds, with filter
// ("" for every message); newHandler builds its message handler.
func PushRoute(function string, topic func(config.Config) string, filter string, newHandler func(env *Env) (bus.Handler, error)) Route {
	return Route{Function: function, Topic: topic, Filter: filter, NewHandler: newHandler}
}

// Publishing is r, publishing to topics (Route.Publishes).
func (r Route) Publishing(topics ...bus.Topic) Route {
	r.Publishes = topics
	return r
}

// WithAliases is r, served at paths too.
func (r Route) WithAliases(paths ...string) Route {
	r.Aliases = paths
	return r
}

// BehindIAP is r, signed in by Identity-Aware Proxy (Route.IAP).
func (r Route) BehindIAP() Route {
	r.IAP = true
	return r
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
	env, err := env.For(r)
	if err != nil {
		return nil, err
	}
	switch {
	case r.New != nil:
		return r.New(env)
	case r.NewHandler != nil:
		h, err := r.NewHandler(env)
		if err != nil {
			return nil, err
		}
		authenticate, err := env.systemCallers(r.Function)
		if err != nil {
			return nil, err
		}
		return bus.PushHandler(authenticate, h), nil
	}
	return nil, fmt.Errorf("runway: route %s has no handler", r.Function)
}

// systemCallers returns the check of the requests to function, which only
// RUNWAY_SYSTEM_CALLERS may call, with Google ID tokens issued for the
// function's own URL(s) in RUNWAY_PUSH_AUDIENCES. With system callers but
// no URL for the function, every call would be refused: the instance does
// not start.
func (env *Env) systemCallers(function string) (func(*http.Request) error, error) {
	audiences := env.Config.PushAudiences[function]
	if len(env.Config.SystemCallers) > 0 && len(audiences) == 0 {
		return nil, fmt.Errorf("RUNWAY_PUSH_AUDIENCES names no URL for %s: the tokens of RUNWAY_SYSTEM_CALLERS would all be refused", function)
	}
	return env.Verifier.RequireCaller(env.Config.SystemCallers, audiences), nil
}

// newAlertDispatcher builds the AlertDispatcher's handler: email alerts go
// through RUNWAY_SMTP_URL's relay, if there is one.
func newAlertDispatcher(env *Env) (bus.Handler, error) {
	sealer, err := env.CallbackSealer()
	if err != nil {
		return nil, err
	}
	dev := env.Config.AuthMode == config.AuthDev
	deps := alerts.Deps{Store: env.Store, Client: callbacks.NewClient(dev), Sealer: sealer, AllowPrivate: dev, BoardURL: env.Config.BoardURL}
	if env.Config.SMTPURL != nil {
		if deps.Mailer, err = alerts.NewSMTP(env.Config.SMTPURL); err != nil {
			return nil, err
		}
	}
	h, err := alertdispatcher.New(deps)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

// boardIdentity says how the board knows who is signed in: by IAP's
// assertions where Runway is deployed, which need RUNWAY_IAP_AUDIENCE (the
// instance does not start without it), by the dev sign-in page's cookie in
// dev mode.
func (env *Env) boardIdentity() (board.Identity, error) {
	if env.Config.AuthMode == config.AuthDev {
		return board.DevSignIn{Verifier: env.Verifier}, nil
	}
	if env.Config.IAPAudience == "" {
		return nil, errors.New("RUNWAY_IAP_AUDIENCE is required by Board: the backend service Identity-Aware Proxy guards it with, /projects/NUMBER/global/backendServices/ID")
	}
	return board.IAP{Verifier: env.Verifier, Audience: env.Config.IAPAudience}, nil
}
