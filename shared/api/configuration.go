package api

import (
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// ConfigRefRequest holds the identity of a configuration, as the Tailer
// API's configuration and workflow actions take it.
type ConfigRefRequest struct {
	Account           string `json:"account"`
	Environment       string `json:"environment"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
}

// AccountID implements Request.
func (r ConfigRefRequest) AccountID() string { return r.Account }

func (r ConfigRefRequest) validate(p *problems) {
	p.account(r.Account)
	p.environment(r.Environment, true)
	p.configurationType(r.ConfigurationType)
	p.configurationID(r.ConfigurationID)
}

// Ref returns the configuration the request names.
func (r ConfigRefRequest) Ref() configs.ConfigRef {
	kind, _ := configs.KindOf(r.ConfigurationType)
	return configs.ConfigRef{Environment: r.Environment, Kind: kind, ConfigurationID: r.ConfigurationID}
}

// DeployConfigurationRequest is the body of deploy_configuration on
// /v1/configuration: the configuration's JSON definition, as its user
// writes it (docs/configurations.md), under "configuration".
type DeployConfigurationRequest struct {
	Action        string         `json:"action"`
	Configuration map[string]any `json:"configuration"`
	// DryRun checks the definition as a deploy does, in the same
	// transaction, and answers what would be stored, storing nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// AccountID implements Request: the definition's account.
func (r DeployConfigurationRequest) AccountID() string {
	account, _ := r.Configuration["account"].(string)
	return account
}

// Validate implements Request. The definition itself is checked by the
// configs package, which names each field at fault.
func (r DeployConfigurationRequest) Validate() []FieldError {
	var p problems
	if r.Configuration == nil {
		p.add("configuration", "is required: the configuration's JSON definition")
		return p
	}
	if _, ok := r.Configuration["account"].(string); !ok {
		p.add("configuration.account", "is required")
	} else {
		p.account(r.AccountID())
		for i := range p {
			p[i].Field = "configuration." + p[i].Field
		}
	}
	return p
}

// GetConfigurationRequest is the body of get_configuration.
type GetConfigurationRequest struct {
	Action string `json:"action"`
	ConfigRefRequest
}

// Validate implements Request.
func (r GetConfigurationRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	return p
}

// ListConfigurationsRequest is the body of list_configurations: a page of
// the account's configurations, by environment, type and id.
type ListConfigurationsRequest struct {
	Action            string `json:"action"`
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type,omitempty"`
	Activated         *bool  `json:"activated,omitempty"`
	Limit             *int   `json:"limit,omitempty"`
	PageToken         string `json:"page_token,omitempty"`
}

// AccountID implements Request.
func (r ListConfigurationsRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r ListConfigurationsRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, false)
	if r.ConfigurationType != "" {
		p.configurationType(r.ConfigurationType)
	}
	p.limit(r.Limit)
	return p
}

// SetConfigurationStatusRequest is the body of set_configuration_status on
// /v1/configuration/status. activated and archived are both required, as
// in every example of the reference.
type SetConfigurationStatusRequest struct {
	Action    string `json:"action"`
	Activated *bool  `json:"activated"`
	Archived  *bool  `json:"archived"`
	ConfigRefRequest
}

// Validate implements Request.
func (r SetConfigurationStatusRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	if r.Activated == nil {
		p.add("activated", "is required: true or false")
	}
	if r.Archived == nil {
		p.add("archived", "is required: true or false")
	}
	return p
}

// ConfigurationResult is a configuration as the API returns it. The
// definition is left out of lists.
type ConfigurationResult struct {
	Account           string `json:"account"`
	Environment       string `json:"environment"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	JobID             string `json:"job_id"`
	Activated         bool   `json:"activated"`
	Archived          bool   `json:"archived"`
	Version           int    `json:"version"`
	UpdatedBy         string `json:"updated_by"`
	UpdatedAt         string `json:"updated_at"`
	// NextTick is when its schedule next launches it, while it runs on
	// its own (get_schedule tells more).
	NextTick   string         `json:"next_tick,omitempty"`
	Definition map[string]any `json:"definition,omitempty"`
}

// NewConfigurationResult converts a configuration, with its definition or
// without.
func NewConfigurationResult(c configs.Configuration, withDefinition bool) ConfigurationResult {
	r := ConfigurationResult{
		Account: c.Account, Environment: c.Environment, ConfigurationType: c.ConfigurationType,
		ConfigurationID: c.ConfigurationID, JobID: c.JobID, Activated: c.Activated, Archived: c.Archived,
		Version: c.Version, UpdatedBy: c.UpdatedBy, UpdatedAt: FormatTime(c.UpdatedAt), NextTick: formatOptional(c.Ticks.Next),
	}
	if withDefinition {
		r.Definition = c.Definition
	}
	return r
}

// ConfigurationResponse answers deploy_configuration and get_configuration.
// A dry run's answer has dry_run true: what a deploy would store.
type ConfigurationResponse struct {
	DryRun        bool                `json:"dry_run,omitempty"`
	Configuration ConfigurationResult `json:"configuration"`
}

// ConfigurationsResponse answers list_configurations. NextPageToken is
// absent on the last page.
type ConfigurationsResponse struct {
	Configurations []ConfigurationResult `json:"configurations"`
	NextPageToken  string                `json:"next_page_token,omitempty"`
}

// GetScheduleRequest is the body of get_schedule on /v1/configuration:
// where a configuration's own schedule stands.
type GetScheduleRequest struct {
	Action string `json:"action"`
	ConfigRefRequest
}

// Validate implements Request.
func (r GetScheduleRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	return p
}

// ScheduleResponse answers get_schedule: a configuration's schedule, its
// next ticks and the last one launched, why no tick runs when none does,
// and the runs waiting for a slot.
type ScheduleResponse struct {
	ConfigurationID   string `json:"configuration_id"`
	ConfigurationType string `json:"configuration_type"`
	Environment       string `json:"environment"`
	// ScheduleInterval is as deployed; "None" when there is none.
	ScheduleInterval string `json:"schedule_interval"`
	StartDate        string `json:"start_date,omitempty"` // YYYY-MM-DD
	Catchup          bool   `json:"catchup"`
	MaxActiveRuns    int    `json:"max_active_runs"`
	// NextTicks are the next times the schedule launches the
	// configuration, soonest first; none while no tick runs.
	NextTicks []string `json:"next_ticks"`
	// LastTick is the last tick launched.
	LastTick string `json:"last_tick,omitempty"`
	// Waiting are the runs waiting for a slot of max_active_runs, oldest
	// first (at most 100): launches, ticks, workflow firings or retries
	// that start when a run of the configuration finishes.
	Waiting []string `json:"waiting"`
	// NotRunning says why no tick runs: no schedule_interval, deactivated
	// or archived.
	NotRunning string `json:"not_running,omitempty"`
}

// NewScheduleResponse describes c's schedule, with its upcoming ticks.
func NewScheduleResponse(c configs.Configuration, upcoming []time.Time, waiting []runs.Run) ScheduleResponse {
	r := ScheduleResponse{
		ConfigurationID: c.ConfigurationID, ConfigurationType: c.ConfigurationType, Environment: c.Environment,
		ScheduleInterval: c.Schedule.Interval, Catchup: c.Schedule.Catchup, MaxActiveRuns: c.Schedule.MaxActiveRuns,
		NextTicks: make([]string, 0, len(upcoming)), LastTick: formatOptional(c.Ticks.Last), Waiting: make([]string, 0, len(waiting)),
	}
	for _, w := range waiting {
		r.Waiting = append(r.Waiting, w.RunID)
	}
	if !c.Schedule.Start.IsZero() {
		r.StartDate = c.Schedule.Start.Format(time.DateOnly)
	}
	for _, t := range upcoming {
		r.NextTicks = append(r.NextTicks, FormatTime(t))
	}
	switch {
	case c.Schedule.Interval == "":
		r.ScheduleInterval = "None"
		r.NotRunning = `schedule_interval is "None": it runs when launched (launch_job) or by a workflow`
	case c.Archived:
		r.NotRunning = "archived: no tick runs until it is unarchived (set_configuration_status)"
	case !c.Activated:
		r.NotRunning = "deactivated: no tick runs until it is activated again (set_configuration_status), from then on, or from its last tick with catchup"
	}
	return r
}
