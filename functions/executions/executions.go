// Package executions is the Executions function, GET
// /rest/v1/executions/{flowId} (and the legacy
// /plugins/dashboard/rest/v1/flows/{flowId}): the status of a run in the
// form of ETLWorks' "Get flow status" API
// (reference/etlworks-get-flow-status.txt), for tools written against it.
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
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// Paths are the prefixes the function answers under.
var Paths = []string{"/rest/v1/executions/", "/plugins/dashboard/rest/v1/flows/"}

// Store is what the function reads; shared/store implements it.
type Store interface {
	FindConfigurations(ctx context.Context, account, configurationID string) ([]configs.Configuration, error)
	GetRun(ctx context.Context, account, key string) (runs.Run, error)
	RunByAuditID(ctx context.Context, account string, auditID int64) (runs.Run, error)
	QueryRuns(ctx context.Context, account string, q runs.Query) ([]runs.Run, error)
}

// Deps are the Executions function's dependencies.
type Deps struct {
	Store Store
	Authn api.Authenticator
	Authz api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
	Now    func() time.Time
}

// Handler serves Executions.
type Handler struct {
	store  Store
	authn  api.Authenticator
	authz  api.Authorizer
	limits *api.Limits
	now    func() time.Time
}

// New returns the Executions handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("executions: missing store")
	case deps.Authn == nil || deps.Authz == nil:
		return nil, errors.New("executions: missing authentication or authorization")
	}
	h := &Handler{store: deps.Store, authn: deps.Authn, authz: deps.Authz, limits: deps.Limits, now: deps.Now}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Actions lists the one action the function serves, for the access
// control tests that hold every route to auth.Policy.
func (h *Handler) Actions() []api.Action {
	return []api.Action{{Name: "get_flow_status", Role: auth.Required("get_flow_status")}}
}

// query is a decoded request.
type query struct {
	flowID      string
	account     string
	environment string
	messageID   string
	auditID     int64
}

var (
	flowIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$`)
	accountPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	knownParams    = map[string]bool{"account": true, "environment": true, "messageId": true, "auditId": true}
)

// ServeHTTP answers GET {prefix}{flowId}: authenticate → decode → validate
// → authorize → act → encode, like every Runway function.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !slices.ContainsFunc(Paths, func(p string) bool { return strings.HasPrefix(r.URL.Path, p) }) {
		// The load balancer sends every path no other function serves here.
		api.WriteError(ctx, w, api.Errorf(http.StatusNotFound, "no endpoint at %s", r.URL.Path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e := api.Errorf(http.StatusMethodNotAllowed, "%s accepts GET only, not %s", r.URL.Path, r.Method)
		e.Header = http.Header{"Allow": {http.MethodGet}}
		api.WriteError(ctx, w, e)
		return
	}
	who, err := h.authn.Authenticate(r)
	if err != nil {
		api.WriteError(ctx, w, err)
		return
	}
	logging.Annotate(ctx, slog.String("caller", who.Email), slog.String("action", "get_flow_status"))
	q, apiErr := decode(r)
	if apiErr != nil {
		api.WriteError(ctx, w, apiErr)
		return
	}
	logging.Annotate(ctx, slog.String("account", q.account))
	if err := h.limits.Allow("get_flow_status", who.Email); err != nil {
		api.WriteError(ctx, w, err)
		return
	}
	if err := h.authz.Authorize(ctx, who, q.account, auth.Required("get_flow_status")); err != nil {
		api.WriteError(ctx, w, err)
		return
	}
	out, err := h.execution(ctx, q)
	if err != nil {
		api.WriteError(ctx, w, err)
		return
	}
	api.WriteJSON(ctx, w, http.StatusOK, out)
}

func decode(r *http.Request) (query, *api.Error) {
	var q query
	for _, prefix := range Paths {
		if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
			q.flowID = rest // r.URL.Path is already unescaped
		}
	}
	params := r.URL.Query()
	var problems []api.FieldError
	add := func(field, problem string) {
		problems = append(problems, api.FieldError{Field: field, Problem: problem})
	}
	if !flowIDPattern.MatchString(q.flowID) {
		add("flowId", "must be the configuration_id of a configuration, after "+Paths[0])
	}
	for name := range params {
		if !knownParams[name] {
			add(name, "unknown query parameter; accepted are account, environment, messageId and auditId")
		}
	}
	q.account, q.environment, q.messageID = params.Get("account"), params.Get("environment"), params.Get("messageId")
	if !accountPattern.MatchString(q.account) {
		add("account", "is required: the account of the flow, such as ?account=000099")
	}
	if id := params.Get("auditId"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 || n >= 1<<53 {
			add("auditId", "must be a positive whole number below 2^53")
		}
		q.auditID = n
	}
	if q.messageID != "" && q.auditID != 0 {
		add("messageId", "give messageId or auditId, not both")
	}
	if len(problems) > 0 {
		return query{}, api.Invalid(problems)
	}
	return q, nil
}

// execution finds the flow and its run, and describes it.
func (h *Handler) execution(ctx context.Context, q query) (FlowExecution, error) {
	cfg, err := h.flow(ctx, q)
	if err != nil {
		return FlowExecution{}, err
	}
	var run runs.Run
	switch {
	case q.messageID != "":
		run, err = h.store.GetRun(ctx, q.account, runs.IdempotentKey(q.account, q.messageID))
	case q.auditID != 0:
		run, err = h.store.RunByAuditID(ctx, q.account, q.auditID)
	default:
		var latest []runs.Run
		latest, err = h.store.QueryRuns(ctx, q.account, runs.Query{Kind: cfg.Kind, Environment: cfg.Environment, ConfigurationID: cfg.ConfigurationID, Limit: 1})
		if err == nil && len(latest) == 0 {
			err = failure.ErrNotFound
		}
		if err == nil {
			run = latest[0]
		}
	}
	if errors.Is(err, failure.ErrNotFound) || (err == nil && (run.ConfigurationID != cfg.ConfigurationID || run.Environment != cfg.Environment)) {
		return FlowExecution{}, failure.NotFound("no such execution of flow %s in account %s", q.flowID, q.account)
	}
	if err != nil {
		return FlowExecution{}, err
	}
	return describe(cfg, run, h.now()), nil
}

// flow resolves the configuration {flowId} names.
func (h *Handler) flow(ctx context.Context, q query) (configs.Configuration, error) {
	found, err := h.store.FindConfigurations(ctx, q.account, q.flowID)
	if err != nil {
		return configs.Configuration{}, err
	}
	var envs []string
	var match []configs.Configuration
	for _, c := range found {
		if q.environment == "" || c.Environment == q.environment {
			match = append(match, c)
			envs = append(envs, c.Environment)
		}
	}
	switch len(match) {
	case 0:
		return configs.Configuration{}, failure.NotFound("no flow %s in account %s", q.flowID, q.account)
	case 1:
		return match[0], nil
	}
	sort.Strings(envs)
	return configs.Configuration{}, failure.InvalidField("environment", "flow %s exists in environments %s: add ?environment=", q.flowID, strings.Join(envs, ", "))
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
