// Package runs is Runway's domain: runs and their lifecycle, run ids,
// idempotent launches, and the interfaces through which it reaches storage
// (shared/store) and messaging (shared/bus).
package runs

import "time"

// Run is one execution of a configuration.
type Run struct {
	Key                string // the store's document key: the UUID part of RunID
	RunID              string
	Account            string
	Environment        string
	ConfigurationType  string // as the launcher named it: gbq-to-gbq and table-to-table are both kept
	Kind               Kind   // the canonical type, which queries use
	ConfigurationID    string
	JobID              string
	Status             Status
	ExecutionDate      string    // YYYY-MM-DD
	StartExecutionDate time.Time // when the run was launched
	LastUpdateDate     time.Time // zero for imported history that never had one
	EndDate            time.Time // zero while the run is RUNNING
	TriggerType        string    // TriggerAPI, ...
	StartedBy          string    // the caller's email
	Attempt            int       // 1 for the first attempt
	IdempotencyKey     string
	RequestHash        string    // hash of the launch request, to tell a replay from a misuse of a key
	PublishedAt        time.Time // zero until the launch message is published
	MessageID          string    // the Pub/Sub message id of the launch message
}

// How a run was started.
const (
	TriggerAPI = "api"
)

// Duration is the run's duration: from its start to its end, or to now while
// it is running.
func (r Run) Duration(now time.Time) time.Duration {
	end := r.EndDate
	if end.IsZero() {
		end = now
	}
	if d := end.Sub(r.StartExecutionDate); d > 0 {
		return d
	}
	return 0
}

// Configuration is a deployed job configuration.
type Configuration struct {
	Account           string
	Environment       string
	ConfigurationType string
	Kind              Kind
	ConfigurationID   string
	JobID             string
	Activated         bool
	Archived          bool
	Definition        map[string]any // the deployed JSON, as the user wrote it
	Version           int
	UpdatedBy         string
	UpdatedAt         time.Time
}

// ConfigRef names a configuration within an account.
type ConfigRef struct {
	Environment     string
	Kind            Kind
	ConfigurationID string
}

// Event is one entry of a run's audit trail.
type Event struct {
	At   time.Time
	By   string // email of the caller, or "runway" for the system
	Type string // EventStatus
	From Status
	To   Status
}

// EventStatus is the type of a status change event.
const EventStatus = "status"

// Query selects runs of one account, newest first.
type Query struct {
	Kind            Kind
	Environment     string // "" for every environment
	ConfigurationID string // "" for every configuration of Kind
	Status          Status // "" for every status
	ExecutionDate   string // "" for every date
	Limit           int
}

// LaunchMessage is what executors receive on the launch topic. Its JSON
// form is the executor contract (docs/executors.md).
type LaunchMessage struct {
	RunID             string         `json:"run_id"`
	Account           string         `json:"account"`
	Environment       string         `json:"environment"`
	ConfigurationType string         `json:"configuration_type"`
	ConfigurationID   string         `json:"configuration_id"`
	JobID             string         `json:"job_id"`
	ExecutionDate     string         `json:"execution_date"`
	Attempt           int            `json:"attempt"`
	Definition        map[string]any `json:"definition"`
}
