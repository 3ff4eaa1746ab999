// Package api holds what Runway's HTTP functions share: request and
// response types, action dispatch, strict decoding and validation, JSON
// errors, and the time and duration formats of the Tailer API.
package api

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
)

// LaunchRequest is the body of launch_job on /v1/dag/launch.
type LaunchRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	JobID             string `json:"job_id,omitempty"`
	ExecutionDate     string `json:"execution_date,omitempty"`
	// IdempotencyKey makes the launch safe to retry: a replay with the same
	// key and body returns the first run_id; the same key with another body
	// is a 409.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Parameters is a JSON object of at most MaxParametersBytes, passed to
	// the executor in the launch message and shown by check_run_status.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// CallbackURL is called back, with a signed POST of the run's result,
	// when the run finishes. Its host must be in the account's
	// allowed_hosts (set_callback_settings on /v1/access).
	CallbackURL string `json:"callback_url,omitempty"`
	// DryRun checks everything a launch checks and answers with the launch
	// message it would publish, writing nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// MaxParametersBytes bounds a launch's parameters, written compactly: they
// travel in every launch message and are kept on the run.
const MaxParametersBytes = 16 << 10

// AccountID implements Request.
func (r LaunchRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r LaunchRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, true)
	p.configurationType(r.ConfigurationType)
	p.configurationID(r.ConfigurationID)
	p.jobID(r.JobID)
	p.executionDate(r.ExecutionDate)
	p.idempotencyKey(r.IdempotencyKey)
	p.parameters(r.Parameters)
	p.callbackURL(r.CallbackURL)
	return p
}

// CompactParameters returns the request's parameters without insignificant
// space, or nil when there are none.
func (r LaunchRequest) CompactParameters() json.RawMessage {
	if isNull(r.Parameters) {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, r.Parameters) != nil {
		return nil // Validate refused it
	}
	return buf.Bytes()
}

// LaunchResponse is the answer to launch_job: {"run_id":"…"}. A dry run
// answers {"dry_run":true,"launch":{…}} with the launch message it would
// publish, or {"dry_run":true,"run_id":"…"} when its idempotency key makes
// it a replay of that run.
type LaunchResponse struct {
	RunID  string          `json:"run_id,omitempty"`
	DryRun bool            `json:"dry_run,omitempty"`
	Launch *message.Launch `json:"launch,omitempty"`
}

// CheckRunStatusRequest is the body of check_run_status on /v1/dag/status.
// Its environment is required, as the reference's example gives it.
type CheckRunStatusRequest struct {
	Action string `json:"action"`
	RunIdentity
	// WaitSeconds, up to MaxWaitSeconds, holds the answer until the run
	// has finished or the time is up, so that a pipeline can launch and
	// wait with two requests.
	WaitSeconds int `json:"wait_seconds,omitempty"`
}

// MaxWaitSeconds bounds wait_seconds. The DagStatus function's timeout
// (terraform/function_dag_status.tf) leaves room for it.
const MaxWaitSeconds = 60

// Validate implements Request.
func (r CheckRunStatusRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	if r.Environment == "" {
		p.add("environment", "is required")
	}
	if r.WaitSeconds < 0 || r.WaitSeconds > MaxWaitSeconds {
		p.add("wait_seconds", "must be between 0 and %d", MaxWaitSeconds)
	}
	return p
}

// RunFilters are the filters get_last_status and get_by_status share.
type RunFilters struct {
	ExecutionDate string `json:"execution_date,omitempty"`
	Status        string `json:"status,omitempty"`
	Limit         *int   `json:"limit,omitempty"`
}

func (f RunFilters) validate(p *problems) {
	p.executionDate(f.ExecutionDate)
	p.status(f.Status, false)
	p.limit(f.Limit)
}

// query returns the runs query of the filters, on the configurations ref
// names (every configuration of its kind when its id is "").
func (f RunFilters) query(ref configs.ConfigRef) runs.Query {
	return runs.Query{Kind: ref.Kind, Environment: ref.Environment, ConfigurationID: ref.ConfigurationID,
		Status: runs.Status(f.Status), ExecutionDate: f.ExecutionDate, Limit: limitOr(f.Limit)}
}

// GetLastStatusRequest is the body of get_last_status on /v1/dag/status:
// the latest runs of one configuration.
type GetLastStatusRequest struct {
	Action string `json:"action"`
	ConfigRefRequest
	RunFilters
}

// Validate implements Request.
func (r GetLastStatusRequest) Validate() []FieldError {
	var p problems
	r.ConfigRefRequest.validate(&p)
	r.RunFilters.validate(&p)
	return p
}

// Query returns the runs query the request describes.
func (r GetLastStatusRequest) Query() runs.Query { return r.query(r.Ref()) }

// GetByStatusRequest is the body of get_by_status on /v1/dag/status: the
// latest runs of every configuration of a type.
type GetByStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	RunFilters
}

// AccountID implements Request.
func (r GetByStatusRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r GetByStatusRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, false)
	p.configurationType(r.ConfigurationType)
	r.RunFilters.validate(&p)
	return p
}

// Query returns the runs query the request describes.
func (r GetByStatusRequest) Query() runs.Query {
	kind, _ := configs.KindOf(r.ConfigurationType)
	return r.query(configs.ConfigRef{Environment: r.Environment, Kind: kind})
}

// SetRunStatusRequest is the body of set_run_status on /v1/dag/status.
// environment is optional: the reference's example leaves it out, and the
// run id already names the run.
type SetRunStatusRequest struct {
	Action string `json:"action"`
	RunIdentity
	Status string `json:"status"`
	// ExpectedStatus makes the change a compare-and-set: if the run is not
	// in this status, nothing changes and the answer is a 409 with the
	// current status.
	ExpectedStatus string `json:"expected_status,omitempty"`
	// Note says why, recorded with the change in the run's events.
	Note string `json:"note,omitempty"`
}

// Validate implements Request.
func (r SetRunStatusRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	p.status(r.Status, true)
	p.oneOf("expected_status", r.ExpectedStatus, false)
	p.printable("note", r.Note)
	return p
}

// Limits of set_runs_status: how many runs one call changes.
const (
	DefaultBulkLimit = 100
	MaxBulkLimit     = 500
)

// SetRunsStatusRequest is the body of set_runs_status on /v1/dag/status:
// set_run_status for every run the filters select (those of get_by_status,
// with configuration_id, from_status and before), at most limit per call.
type SetRunsStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id,omitempty"`
	ExecutionDate     string `json:"execution_date,omitempty"`
	// FromStatus selects runs in this status; by default, every run not
	// already in Status.
	FromStatus string `json:"from_status,omitempty"`
	// Before selects runs launched before this time: RFC 3339, as the
	// results write it, or YYYY-MM-DD for midnight UTC.
	Before string `json:"before,omitempty"`
	Status string `json:"status"`
	DryRun bool   `json:"dry_run,omitempty"`
	Limit  *int   `json:"limit,omitempty"`
}

// AccountID implements Request.
func (r SetRunsStatusRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r SetRunsStatusRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, false)
	p.configurationType(r.ConfigurationType)
	if r.ConfigurationID != "" {
		p.configurationID(r.ConfigurationID)
		if r.Environment == "" {
			p.add("environment", "is required with configuration_id")
		}
	}
	p.executionDate(r.ExecutionDate)
	p.status(r.Status, true)
	p.oneOf("from_status", r.FromStatus, false)
	if r.FromStatus != "" && r.FromStatus == r.Status {
		p.add("from_status", "must differ from status: runs already %s are never changed", r.Status)
	}
	if _, ok := parseBefore(r.Before); !ok {
		p.add("before", "must be a time written RFC 3339 (2020-12-30T11:28:43.861340+00:00) or a date YYYY-MM-DD")
	}
	if r.Limit != nil && (*r.Limit < 1 || *r.Limit > MaxBulkLimit) {
		p.add("limit", "must be between 1 and %d", MaxBulkLimit)
	}
	return p
}

// Query returns the runs query the request describes.
func (r SetRunsStatusRequest) Query() runs.Query {
	kind, _ := configs.KindOf(r.ConfigurationType)
	before, _ := parseBefore(r.Before)
	limit := DefaultBulkLimit
	if r.Limit != nil {
		limit = *r.Limit
	}
	return runs.Query{Kind: kind, Environment: r.Environment, ConfigurationID: r.ConfigurationID,
		Status: runs.Status(r.FromStatus), ExecutionDate: r.ExecutionDate, Before: before, Limit: limit}
}

// parseBefore reads set_runs_status's before: "" is no bound.
func parseBefore(value string) (time.Time, bool) {
	if value == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, value); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// SetRunsStatusResponse is the answer to set_runs_status. Matched counts
// the runs the filters selected, up to limit + 1 (a history may hold
// millions; counting them all would cost as much); a dry run lists in run_ids the ones a
// call would change (at most limit), a real call the ones it changed.
// Remaining is what is left after the call (or would be, for a dry run):
// while it is above zero, the same call goes on with the next ones.
type SetRunsStatusResponse struct {
	DryRun    bool     `json:"dry_run"`
	Matched   int      `json:"matched"`
	Changed   int      `json:"changed"`
	Remaining int      `json:"remaining"`
	RunIDs    []string `json:"run_ids"`
}

// RunResult is a run as the status actions return it: exactly the fields
// of the Tailer API, in its (alphabetical) order. last_update_date is
// absent for imported runs that never had one, as in the reference.
type RunResult struct {
	Account           string `json:"account"`
	ConfigurationID   string `json:"configuration_id"`
	ConfigurationType string `json:"configuration_type"`
	Duration          string `json:"duration"`
	Environment       string `json:"environment"`
	JobID             string `json:"job_id"`
	LastUpdateDate    string `json:"last_update_date,omitempty"`
	// Parameters are the launch's parameters, when it had some.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// QueuedAt is when the run began waiting for a slot of its
	// configuration's max_active_runs, while it waits: it is RUNNING, but
	// not yet in an executor's hands.
	QueuedAt           string `json:"queued_at,omitempty"`
	RunID              string `json:"run_id"`
	StartExecutionDate string `json:"start_execution_date"`
	Status             string `json:"status"`
}

// Results is the answer of the status actions: {"results":[…]}, newest first.
type Results struct {
	Results []RunResult `json:"results"`
}

// NewResults converts runs to Results, with durations as of now.
func NewResults(now time.Time, found ...runs.Run) Results {
	out := Results{Results: make([]RunResult, 0, len(found))}
	for _, r := range found {
		res := RunResult{
			Account:            r.Account,
			ConfigurationID:    r.ConfigurationID,
			ConfigurationType:  r.ConfigurationType,
			Duration:           FormatDuration(r.Duration(now)),
			Environment:        r.Environment,
			JobID:              r.JobID,
			Parameters:         r.Parameters,
			RunID:              r.RunID,
			StartExecutionDate: FormatTime(r.StartExecutionDate),
			Status:             string(r.Status),
		}
		if !r.LastUpdateDate.IsZero() {
			res.LastUpdateDate = FormatTime(r.LastUpdateDate)
		}
		if r.Queued {
			res.QueuedAt = FormatTime(r.QueuedAt)
		}
		out.Results = append(out.Results, res)
	}
	return out
}
