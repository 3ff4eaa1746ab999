// Package message holds the formats of the messages Runway and executors
// exchange over Pub/Sub: the launch and cancel messages of the launch
// topic, the run events of the run events topic, their attributes, and the
// statuses and errors they carry. Their JSON form is the executor contract
// (docs/executors.md).
//
// It depends on the standard library only, so that an executor importing
// shared/executor pulls in none of the server: the runs service, the store
// and the token checks import this package, not the other way round.
package message

import (
	"encoding/json"
	"time"
)

// Attribute names set on Runway's messages. Subscriptions filter on them,
// e.g. attributes.configuration_type = "table-to-table" for an executor, or
// attributes.status = "SUCCESS" for the workflow trigger.
const (
	AttrAccount           = "account"
	AttrEnvironment       = "environment"
	AttrConfigurationType = "configuration_type"
	AttrRunID             = "run_id"
	AttrAttempt           = "attempt"
	AttrStatus            = "status"
	AttrType              = "message_type" // on the launch topic: TypeLaunch or TypeCancel
	// AttrCallback is "true" on the run events of a run launched with a
	// callback_url: the CallbackDispatcher's subscription receives those
	// only.
	AttrCallback = "callback"
)

// The types of message on the launch topic, in their message_type field
// and attribute.
const (
	TypeLaunch = "launch"
	TypeCancel = "cancel"
)

// Launch is what executors receive on the launch topic.
type Launch struct {
	MessageType       string         `json:"message_type"`     // TypeLaunch
	RunID             string         `json:"run_id,omitempty"` // absent only in a dry run's answer
	Account           string         `json:"account"`
	Environment       string         `json:"environment"`
	ConfigurationType string         `json:"configuration_type"`
	ConfigurationID   string         `json:"configuration_id"`
	JobID             string         `json:"job_id"`
	ExecutionDate     string         `json:"execution_date"`
	Attempt           int            `json:"attempt"`
	ParentRunID       string         `json:"parent_run_id,omitempty"`
	Definition        map[string]any `json:"definition"`
	// Parameters are the launch's parameters, as the launcher gave them.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// Deadline is when the run is failed unless the executor reports
	// before; every RUNNING report moves it Timeout later. Absent when the
	// configuration has no timeout.
	Deadline *time.Time `json:"deadline,omitempty"`
	// HeartbeatInterval is how often the executor should report RUNNING:
	// a third of the timeout.
	HeartbeatInterval string `json:"heartbeat_interval,omitempty"`
}

// Cancel is published on the launch topic when a run is canceled, so that
// the executor running it can stop. It is a prompt, not the guarantee: a
// canceled run is FAILED, and the executor's next report gets a 409.
type Cancel struct {
	MessageType       string    `json:"message_type"` // TypeCancel
	RunID             string    `json:"run_id"`
	Account           string    `json:"account"`
	Environment       string    `json:"environment"`
	ConfigurationType string    `json:"configuration_type"` // the kind
	ConfigurationID   string    `json:"configuration_id"`
	JobID             string    `json:"job_id"`
	ExecutorID        string    `json:"executor_id,omitempty"` // the execution that claimed the run, if one did
	Reason            string    `json:"reason"`
	By                string    `json:"by"`
	At                time.Time `json:"at"`
}

// RunEvent is published on the run events topic when a run's status
// changes; workflows, callbacks and alerts listen to it.
type RunEvent struct {
	EventID           string    `json:"event_id"` // unique per change: consumers deduplicate on it
	Account           string    `json:"account"`
	Environment       string    `json:"environment"`
	ConfigurationType string    `json:"configuration_type"` // the kind
	ConfigurationID   string    `json:"configuration_id"`
	JobID             string    `json:"job_id"`
	RunID             string    `json:"run_id"`
	Status            Status    `json:"status"`
	PreviousStatus    Status    `json:"previous_status"`
	At                time.Time `json:"at"` // when the change was made
	By                string    `json:"by"`
	// HasCallback says the run was launched with a callback_url: the
	// event carries it as an attribute, for subscriptions to filter on.
	HasCallback bool `json:"-"`
}

// RunError is why a run failed, as its executor (or the Reaper) said.
type RunError struct {
	Message  string `json:"message"`
	Code     string `json:"code,omitempty"`
	Location string `json:"location,omitempty"` // e.g. a file and line, a task id
}
