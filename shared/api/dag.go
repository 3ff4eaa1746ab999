// Package api holds what Runway's HTTP functions share: request and
// response types, action dispatch, strict decoding and validation, JSON
// errors, and the time and duration formats of the Tailer API.
package api

import (
	"time"

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
}

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
	return p
}

// LaunchResponse is the answer to launch_job: {"run_id":"…"}.
type LaunchResponse struct {
	RunID string `json:"run_id"`
}

// CheckRunStatusRequest is the body of check_run_status on /v1/dag/status.
type CheckRunStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	JobID             string `json:"job_id,omitempty"`
	RunID             string `json:"run_id"`
}

// AccountID implements Request.
func (r CheckRunStatusRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r CheckRunStatusRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, true)
	p.configurationType(r.ConfigurationType)
	p.configurationID(r.ConfigurationID)
	p.jobID(r.JobID)
	p.runID(r.RunID)
	return p
}

// RunRef returns the run the request names.
func (r CheckRunStatusRequest) RunRef() runs.RunRef {
	kind, _ := runs.KindOf(r.ConfigurationType)
	return runs.RunRef{Account: r.Account, Environment: r.Environment, Kind: kind,
		ConfigurationID: r.ConfigurationID, JobID: r.JobID, RunID: r.RunID}
}

// GetLastStatusRequest is the body of get_last_status on /v1/dag/status:
// the latest runs of one configuration.
type GetLastStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	ExecutionDate     string `json:"execution_date,omitempty"`
	Status            string `json:"status,omitempty"`
	Limit             *int   `json:"limit,omitempty"`
}

// AccountID implements Request.
func (r GetLastStatusRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r GetLastStatusRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, true)
	p.configurationType(r.ConfigurationType)
	p.configurationID(r.ConfigurationID)
	p.executionDate(r.ExecutionDate)
	p.status(r.Status, false)
	p.limit(r.Limit)
	return p
}

// Query returns the runs query the request describes.
func (r GetLastStatusRequest) Query() runs.Query {
	kind, _ := runs.KindOf(r.ConfigurationType)
	return runs.Query{Kind: kind, Environment: r.Environment, ConfigurationID: r.ConfigurationID,
		Status: runs.Status(r.Status), ExecutionDate: r.ExecutionDate, Limit: limitOr(r.Limit)}
}

// GetByStatusRequest is the body of get_by_status on /v1/dag/status: the
// latest runs of every configuration of a type.
type GetByStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	Status            string `json:"status,omitempty"`
	ExecutionDate     string `json:"execution_date,omitempty"`
	Limit             *int   `json:"limit,omitempty"`
}

// AccountID implements Request.
func (r GetByStatusRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r GetByStatusRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, false)
	p.configurationType(r.ConfigurationType)
	p.status(r.Status, false)
	p.executionDate(r.ExecutionDate)
	p.limit(r.Limit)
	return p
}

// Query returns the runs query the request describes.
func (r GetByStatusRequest) Query() runs.Query {
	kind, _ := runs.KindOf(r.ConfigurationType)
	return runs.Query{Kind: kind, Environment: r.Environment,
		Status: runs.Status(r.Status), ExecutionDate: r.ExecutionDate, Limit: limitOr(r.Limit)}
}

// SetRunStatusRequest is the body of set_run_status on /v1/dag/status.
// environment is optional: the reference's example leaves it out, and the
// run id already names the run.
type SetRunStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	JobID             string `json:"job_id,omitempty"`
	RunID             string `json:"run_id"`
	Status            string `json:"status"`
}

// AccountID implements Request.
func (r SetRunStatusRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r SetRunStatusRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, false)
	p.configurationType(r.ConfigurationType)
	p.configurationID(r.ConfigurationID)
	p.jobID(r.JobID)
	p.runID(r.RunID)
	p.status(r.Status, true)
	return p
}

// RunRef returns the run the request names.
func (r SetRunStatusRequest) RunRef() runs.RunRef {
	kind, _ := runs.KindOf(r.ConfigurationType)
	return runs.RunRef{Account: r.Account, Environment: r.Environment, Kind: kind,
		ConfigurationID: r.ConfigurationID, JobID: r.JobID, RunID: r.RunID}
}

// RunResult is a run as the status actions return it: exactly the fields
// of the Tailer API, in its (alphabetical) order. last_update_date is
// absent for imported runs that never had one, as in the reference.
type RunResult struct {
	Account            string `json:"account"`
	ConfigurationID    string `json:"configuration_id"`
	ConfigurationType  string `json:"configuration_type"`
	Duration           string `json:"duration"`
	Environment        string `json:"environment"`
	JobID              string `json:"job_id"`
	LastUpdateDate     string `json:"last_update_date,omitempty"`
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
			RunID:              r.RunID,
			StartExecutionDate: FormatTime(r.StartExecutionDate),
			Status:             string(r.Status),
		}
		if !r.LastUpdateDate.IsZero() {
			res.LastUpdateDate = FormatTime(r.LastUpdateDate)
		}
		out.Results = append(out.Results, res)
	}
	return out
}
