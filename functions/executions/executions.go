// Package executions is the Executions function, GET
// /rest/v1/executions/{flowId} (and the legacy
// /plugins/dashboard/rest/v1/flows/{flowId}): the status of a run in the
// form of ETLWorks' "Get flow status" API
// (docs/api.md), for tools written against it.
//
// A flow is a configuration: {flowId} is its configuration_id. The account
// is the account query parameter (required: a caller may belong to several
// accounts); the environment is the environment query parameter, or, when
// it is left out, the one environment in which the account has a
// configuration with that id. Then messageId selects the run launched with
// that idempotency key, auditId the run with that audit id, and neither the
// latest run.
package executions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/runs"
)

// Paths are the prefixes the function answers under.
var Paths = []string{"/rest/v1/executions/", "/plugins/dashboard/rest/v1/flows/"}

// Deps are the Executions function's dependencies.
type Deps struct {
	Runs    *runs.Service
	Configs *configs.Service
	Authn   api.Authenticator
	Authz   api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
	Now    func() time.Time
}

// Handler serves Executions.
type Handler struct {
	*api.Endpoint
	runs    *runs.Service
	configs *configs.Service
	now     func() time.Time
}

// New returns the Executions handler.
func New(deps Deps) (*Handler, error) {
	if deps.Runs == nil || deps.Configs == nil {
		return nil, errors.New("executions: missing runs or configs service")
	}
	h := &Handler{runs: deps.Runs, configs: deps.Configs, now: deps.Now}
	if h.now == nil {
		h.now = time.Now
	}
	read := func(r *http.Request) (api.FlowStatusRequest, *api.Error) {
		return api.ReadFlowStatusRequest(r, Paths...)
	}
	endpoint, err := api.NewEndpoint("executions", deps.Authn, deps.Authz, deps.Limits,
		api.NewGetAction("get_flow_status", read, h.flowStatus),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

// ServeHTTP answers GET {prefix}{flowId} through the endpoint's pipeline,
// and 404 elsewhere: the load balancer sends here every path no other
// function serves.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.ContainsFunc(Paths, func(p string) bool { return strings.HasPrefix(r.URL.Path, p) }) {
		api.WriteError(r.Context(), w, api.Errorf(http.StatusNotFound, "no endpoint at %s", r.URL.Path))
		return
	}
	h.Endpoint.ServeHTTP(w, r)
}

// flowStatus finds the flow and its run, and describes it.
func (h *Handler) flowStatus(ctx context.Context, _ auth.Caller, req api.FlowStatusRequest) (FlowExecution, error) {
	cfg, err := h.flow(ctx, req)
	if err != nil {
		return FlowExecution{}, err
	}
	run, err := h.runs.RunOf(ctx, cfg, req.MessageID, req.AuditID)
	if errors.Is(err, failure.ErrNotFound) {
		return FlowExecution{}, failure.NotFound("no such execution of flow %s in account %s", req.FlowID, req.Account)
	}
	if err != nil {
		return FlowExecution{}, err
	}
	return describe(cfg, run, h.now()), nil
}

// flow resolves the configuration {flowId} names.
func (h *Handler) flow(ctx context.Context, req api.FlowStatusRequest) (configs.Configuration, error) {
	found, err := h.configs.WithID(ctx, req.Account, req.FlowID)
	if err != nil {
		return configs.Configuration{}, err
	}
	var envs []string
	var match []configs.Configuration
	for _, c := range found {
		if req.Environment == "" || c.Environment == req.Environment {
			match = append(match, c)
			envs = append(envs, c.Environment)
		}
	}
	switch len(match) {
	case 0:
		return configs.Configuration{}, failure.NotFound("no flow %s in account %s", req.FlowID, req.Account)
	case 1:
		return match[0], nil
	}
	sort.Strings(envs)
	return configs.Configuration{}, failure.InvalidField("environment", "flow %s exists in environments %s: add ?environment=", req.FlowID, strings.Join(envs, ", "))
}

// FlowExecution is ETLWorks' flow status, field for field. Fields ETLWorks
// documents but Runway has nothing for are null.
type FlowExecution struct {
	AuditID            int64     `json:"auditId"`
	ParentAuditID      *int64    `json:"parentAuditId"`
	Retries            *int      `json:"retries"`
	FlowID             string    `json:"flowId"`
	FlowName           string    `json:"flowName"`
	EventID            *int64    `json:"eventId"`
	EventName          *string   `json:"eventName"`
	MessageID          *string   `json:"messageId"`
	TenantID           *int64    `json:"tenantId"`
	Status             string    `json:"status"`
	TriggerType        *string   `json:"triggerType"`
	StartedBy          string    `json:"startedBy"`
	Started            int64     `json:"started"`
	Ended              *int64    `json:"ended,omitempty"`
	Duration           *string   `json:"duration,omitempty"`
	Code               *string   `json:"code"`
	Exception          *string   `json:"exception"`
	Warnings           *string   `json:"warnings"`
	Metrics            []Metric  `json:"metrics"`
	FileMetrics        *[]Metric `json:"fileMetrics"`
	ErrorLocationInSQL *int      `json:"errorLocationInSql"`
	FileName           *string   `json:"fileName"`
	Records            *int      `json:"records"`
}

// Metric is one of the metrics the executor reported.
type Metric struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// statuses maps run statuses to ETLWorks' four. CHECKED, a failure a
// person acknowledged, is a warning; so is NO_MATCH, a file that matched no
// template.
var statuses = map[runs.Status]string{
	runs.StatusSuccess: "success",
	runs.StatusFailed:  "error",
	runs.StatusRunning: "running",
	runs.StatusNoMatch: "warning",
	runs.StatusChecked: "warning",
}

// triggerTypes maps how a run was started to ETLWorks' trigger types: a
// run launched through the API is on demand, one launched by a workflow or
// by its configuration's schedule is scheduled.
var triggerTypes = map[string]string{
	runs.TriggerAPI:      "flow.execution.on.demand",
	runs.TriggerWorkflow: "flow.execution.scheduler",
	runs.TriggerSchedule: "flow.execution.scheduler",
	runs.TriggerRetry:    "flow.execution.on.demand",
}

func describe(cfg configs.Configuration, run runs.Run, now time.Time) FlowExecution {
	out := FlowExecution{
		AuditID:   run.AuditID,
		FlowID:    cfg.ConfigurationID,
		FlowName:  cfg.ConfigurationID,
		Status:    statuses[run.Status],
		StartedBy: run.StartedBy,
		Started:   run.StartExecutionDate.UnixMilli(),
		Metrics:   []Metric{},
	}
	if name, ok := cfg.Definition["short_description"].(string); ok && name != "" {
		out.FlowName = name
	}
	if key, ok := runs.RunKey(run.ParentRunID); ok {
		parent := runs.AuditIDOf(key)
		out.ParentAuditID = &parent
	}
	if run.Attempt > 1 {
		retries := run.Attempt - 1
		out.Retries = &retries
	}
	if run.IdempotencyKey != "" {
		out.MessageID = &run.IdempotencyKey
	}
	if t, ok := triggerTypes[run.TriggerType]; ok {
		out.TriggerType = &t
	}
	if run.Status.Final() {
		ended := run.EndDate.UnixMilli()
		duration := run.Duration(now).Round(time.Millisecond).String()
		out.Ended, out.Duration = &ended, &duration
	}
	if e := run.Error; e != nil {
		exception := e.Message
		if e.Location != "" {
			exception = fmt.Sprintf("%s (at %s)", e.Message, e.Location)
		}
		if run.Status == runs.StatusFailed {
			out.Exception = &exception
		} else {
			out.Warnings = &exception
		}
		if e.Code != "" {
			out.Code = &e.Code
		}
	}
	names := make([]string, 0, len(run.Metrics))
	for name := range run.Metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out.Metrics = append(out.Metrics, Metric{Name: name, Value: run.Metrics[name]})
	}
	return out
}
