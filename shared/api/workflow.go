package api

import (
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/workflows"
)

// WorkflowRequest is the body of reset_workflow_status and
// get_workflow_status on /v1/workflow/status.
type WorkflowRequest struct {
	Action string `json:"action"`
	ConfigRefRequest
}

// Validate implements Request.
func (r WorkflowRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	if r.ConfigurationType != "" && r.ConfigurationType != "workflow" {
		p.add("configuration_type", `must be "workflow"`)
	}
	return p
}

// ResetResponse is the reference's answer to reset_workflow_status:
// {"code":200,"data":{},"message":"ok"}.
type ResetResponse struct {
	Code    int      `json:"code"`
	Data    struct{} `json:"data"`
	Message string   `json:"message"`
}

// WorkflowStatusResponse answers get_workflow_status: where the workflow's
// current cycle stands, criterion by criterion.
type WorkflowStatusResponse struct {
	Workflow WorkflowStatus `json:"workflow"`
}

// WorkflowStatus is a workflow's current cycle.
type WorkflowStatus struct {
	Account         string      `json:"account"`
	Environment     string      `json:"environment"`
	ConfigurationID string      `json:"configuration_id"`
	Activated       bool        `json:"activated"`
	Archived        bool        `json:"archived"`
	Target          Target      `json:"target_dag"`
	ResetSchedule   string      `json:"schedule_interval_reset,omitempty"`
	Cycle           int         `json:"cycle"`
	CycleStartedAt  string      `json:"cycle_started_at"`
	LastResetBy     string      `json:"last_reset_by,omitempty"`
	Criteria        []Criterion `json:"criteria"`
	LastFired       *Firing     `json:"last_fired,omitempty"`
}

// Target is the configuration a workflow launches.
type Target struct {
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
}

// Criterion is one authorized job of a workflow: met in the current cycle
// or not, and by which run.
type Criterion struct {
	JobID string `json:"job_id"`
	Met   bool   `json:"met"`
	RunID string `json:"run_id,omitempty"`
	At    string `json:"at,omitempty"`
}

// Firing is the end of a workflow's previous cycle.
type Firing struct {
	Cycle         int      `json:"cycle"`
	At            string   `json:"at"`
	TargetRunID   string   `json:"target_run_id,omitempty"`
	TriggerRunIDs []string `json:"trigger_run_ids"`
	Skipped       string   `json:"skipped,omitempty"`
}

// NewWorkflowStatus describes the workflow wf whose current cycle is st
// (workflows.Service.Status).
func NewWorkflowStatus(wf configs.Configuration, st workflows.State) WorkflowStatus {
	spec := wf.Workflow
	out := WorkflowStatus{
		Account: wf.Account, Environment: wf.Environment, ConfigurationID: wf.ConfigurationID,
		Activated: wf.Activated, Archived: wf.Archived,
		Target:        Target{ConfigurationType: spec.TargetType, ConfigurationID: spec.Target.ConfigurationID},
		ResetSchedule: spec.ResetSchedule, Cycle: st.Cycle, CycleStartedAt: FormatTime(st.CycleStartedAt),
		LastResetBy: st.LastResetBy, Criteria: make([]Criterion, 0, len(spec.AuthorizedJobIDs)),
	}
	for _, job := range spec.AuthorizedJobIDs {
		c := Criterion{JobID: job}
		if met, ok := st.Met[job]; ok {
			c.Met, c.RunID, c.At = true, met.RunID, FormatTime(met.At)
		}
		out.Criteria = append(out.Criteria, c)
	}
	if f := st.LastFired; f != nil {
		out.LastFired = &Firing{Cycle: f.Cycle, At: FormatTime(f.At), TargetRunID: f.TargetRunID,
			TriggerRunIDs: f.TriggerRunIDs, Skipped: f.Skipped}
	}
	return out
}
