package main

import "encoding/json"

// The requests the CLI sends and the parts of the answers it reads, as
// docs/openapi.yaml describes them. The CLI keeps its own small copies
// rather than importing shared/api, which would bring the server's
// dependencies into a client.

// configRef names a configuration.
type configRef struct {
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
}

// runRef names a run, with its configuration.
type runRef struct {
	configRef
	RunID string `json:"run_id"`
}

type launchRequest struct {
	Action string `json:"action"`
	configRef
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Parameters     json.RawMessage `json:"parameters,omitempty"`
	CallbackURL    string          `json:"callback_url,omitempty"`
	DryRun         bool            `json:"dry_run,omitempty"`
}

type launchResponse struct {
	RunID  string          `json:"run_id"`
	DryRun bool            `json:"dry_run"`
	Launch json.RawMessage `json:"launch"`
}

type checkRunStatusRequest struct {
	Action string `json:"action"`
	runRef
	WaitSeconds int `json:"wait_seconds,omitempty"`
}

type runRequest struct {
	Action string `json:"action"`
	runRef
	Status         string `json:"status,omitempty"`          // set_run_status
	ExpectedStatus string `json:"expected_status,omitempty"` // set_run_status
	Reason         string `json:"reason,omitempty"`          // cancel_run
	Limit          *int   `json:"limit,omitempty"`           // get_run_events
	PageToken      string `json:"page_token,omitempty"`      // get_run_events
}

// runsRequest is get_last_status (with a configuration_id) or
// get_by_status (without).
type runsRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id,omitempty"`
	ExecutionDate     string `json:"execution_date,omitempty"`
	Status            string `json:"status,omitempty"`
	Limit             *int   `json:"limit,omitempty"`
}

type setRunsStatusRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id,omitempty"`
	ExecutionDate     string `json:"execution_date,omitempty"`
	FromStatus        string `json:"from_status,omitempty"`
	Before            string `json:"before,omitempty"`
	Status            string `json:"status"`
	DryRun            bool   `json:"dry_run,omitempty"`
	Limit             *int   `json:"limit,omitempty"`
}

type setRunsStatusResponse struct {
	Matched   int      `json:"matched"`
	Changed   int      `json:"changed"`
	Remaining int      `json:"remaining"`
	RunIDs    []string `json:"run_ids"`
}

// runResult is a run as the status actions answer it.
type runResult struct {
	RunID              string          `json:"run_id"`
	Environment        string          `json:"environment"`
	ConfigurationType  string          `json:"configuration_type"`
	ConfigurationID    string          `json:"configuration_id"`
	JobID              string          `json:"job_id"`
	Status             string          `json:"status"`
	StartExecutionDate string          `json:"start_execution_date"`
	LastUpdateDate     string          `json:"last_update_date"`
	Duration           string          `json:"duration"`
	Parameters         json.RawMessage `json:"parameters"`
}

type results struct {
	Results []runResult `json:"results"`
}

// runEvents is the answer to get_run_events: a run's history, a page of
// its events.
type runEvents struct {
	RunID         string         `json:"run_id"`
	Status        string         `json:"status"`
	TriggerType   string         `json:"trigger_type"`
	Attempt       int            `json:"attempt"`
	ParentRunID   string         `json:"parent_run_id"`
	RetryRunID    string         `json:"retry_run_id"`
	RetryAt       string         `json:"retry_at"`
	ExecutorID    string         `json:"executor_id"`
	Heartbeats    int            `json:"heartbeats"`
	LastHeartbeat string         `json:"last_heartbeat"`
	Deadline      string         `json:"deadline"`
	Error         *runError      `json:"error"`
	Metrics       map[string]any `json:"metrics"`
	Events        []runEvent     `json:"events"`
	NextPageToken string         `json:"next_page_token"`
}

type runError struct {
	Message  string `json:"message"`
	Code     string `json:"code"`
	Location string `json:"location"`
}

func (e *runError) String() string {
	s := e.Message
	if e.Code != "" {
		s = e.Code + ": " + s
	}
	if e.Location != "" {
		s += " (at " + e.Location + ")"
	}
	return s
}

type runEvent struct {
	Type   string `json:"type"`
	At     string `json:"at"`
	By     string `json:"by"`
	From   string `json:"from"`
	To     string `json:"to"`
	Detail string `json:"detail"`
}

type deployRequest struct {
	Action        string          `json:"action"`
	Configuration json.RawMessage `json:"configuration"`
	DryRun        bool            `json:"dry_run,omitempty"`
}

// configurationResult is a configuration as the API answers it.
type configurationResult struct {
	Environment       string         `json:"environment"`
	ConfigurationType string         `json:"configuration_type"`
	ConfigurationID   string         `json:"configuration_id"`
	JobID             string         `json:"job_id"`
	Activated         bool           `json:"activated"`
	Archived          bool           `json:"archived"`
	Version           int            `json:"version"`
	UpdatedBy         string         `json:"updated_by"`
	UpdatedAt         string         `json:"updated_at"`
	Definition        map[string]any `json:"definition"`
}

type configurationResponse struct {
	DryRun        bool                `json:"dry_run,omitempty"`
	Configuration configurationResult `json:"configuration"`
}

type listConfigurationsRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type,omitempty"`
	Limit             *int   `json:"limit,omitempty"`
	PageToken         string `json:"page_token,omitempty"`
}

type configurationsResponse struct {
	Configurations []configurationResult `json:"configurations"`
	NextPageToken  string                `json:"next_page_token"`
}

// configRequest is get_configuration, get_workflow_status and
// reset_workflow_status; with the flags, set_configuration_status.
type configRequest struct {
	Action string `json:"action"`
	configRef
	Activated *bool `json:"activated,omitempty"`
	Archived  *bool `json:"archived,omitempty"`
}

type workflowStatus struct {
	Workflow struct {
		ConfigurationID string `json:"configuration_id"`
		Environment     string `json:"environment"`
		Activated       bool   `json:"activated"`
		Archived        bool   `json:"archived"`
		Target          struct {
			ConfigurationType string `json:"configuration_type"`
			ConfigurationID   string `json:"configuration_id"`
		} `json:"target_dag"`
		ResetSchedule  string `json:"schedule_interval_reset"`
		Cycle          int    `json:"cycle"`
		CycleStartedAt string `json:"cycle_started_at"`
		LastResetBy    string `json:"last_reset_by"`
		Criteria       []struct {
			JobID string `json:"job_id"`
			Met   bool   `json:"met"`
			RunID string `json:"run_id"`
			At    string `json:"at"`
		} `json:"criteria"`
		LastFired *struct {
			Cycle       int    `json:"cycle"`
			At          string `json:"at"`
			TargetRunID string `json:"target_run_id"`
			Skipped     string `json:"skipped"`
		} `json:"last_fired"`
	} `json:"workflow"`
}
