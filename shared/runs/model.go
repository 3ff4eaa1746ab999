// Package runs is Runway's domain: runs and their lifecycle, run ids,
// idempotent launches, and the interfaces through which it reaches storage
// (shared/store) and messaging (shared/bus).
package runs

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/runwaydata/runway/shared/configs"
)

// Run is one execution of a configuration.
type Run struct {
	Key                string // the store's document key: the UUID part of RunID
	RunID              string
	Account            string
	Environment        string
	ConfigurationType  string       // as the launcher named it: gbq-to-gbq and table-to-table are both kept
	Kind               configs.Kind // the canonical type, which queries use
	ConfigurationID    string
	JobID              string
	Status             Status
	ExecutionDate      string    // YYYY-MM-DD
	StartExecutionDate time.Time // when the run was launched
	LastUpdateDate     time.Time // zero for imported history that never had one
	EndDate            time.Time // zero while the run is RUNNING
	TriggerType        string    // TriggerAPI, TriggerWorkflow, TriggerRetry, TriggerSchedule
	StartedBy          string    // the caller's email, or "workflow:<id>", "retry:<run id>"
	TriggerRunIDs      []string  // for a workflow's run: the runs that met its criteria
	Attempt            int       // 1 for the first attempt
	ParentRunID        string    // for a retry: the run it retries
	AuditID            int64     // a number for the run, for the ETLWorks-style executions endpoint
	IdempotencyKey     string
	RequestHash        string          // with an idempotency key: hash of the launch request, to tell a replay from a misuse of the key
	Parameters         json.RawMessage // the launch's parameters: a compact JSON object, or nil
	CallbackURL        string          // called back when the run finishes; "" for none
	// PublishedAt and MessageID record a publish of the launch message
	// where Runway records one: on runs from before deliveries were
	// confirmed by claims (see Deliveries).
	PublishedAt time.Time
	MessageID   string

	// Delivery: a launch answers once its message is published, and
	// records nothing more; the executor's claim (its first report) is the
	// proof of delivery. Until then the run carries DeliverBy, when the
	// Reaper publishes the message again if nobody has claimed the run,
	// and Deliveries, the publishes made so far (DeliveryDue).
	DeliverBy  time.Time
	Deliveries int

	// Admission: a run is in executors' hands only while it holds one of
	// its configuration's max_active_runs slots. A run launched when they
	// are all held waits (Queued), unpublished, until a run finishes.
	Queued     bool      // waiting for a slot
	QueuedAt   time.Time // when it began waiting, if it ever did
	Slot       int       // the slot it holds, 1 to max_active_runs, while admitted and not finished; 0 for none
	AdmittedAt time.Time // when it got its slot; zero for runs from before slots
	// MaxActiveRuns is its configuration's max_active_runs at its launch:
	// a slot past it, when the setting was lowered since, is not handed on.
	MaxActiveRuns int

	// What the executor reported.
	ClaimedBy     string         // the executor_id of the executor that took the run
	ClaimCaller   string         // who sent the claiming report: only they may report on the run
	Heartbeats    int            // RUNNING reports received
	LastHeartbeat time.Time      // zero until the executor's first report
	Error         *RunError      // why the run failed, if it did
	Metrics       map[string]any // what the executor measured

	// The configuration's execution policy, copied at launch so that the
	// Reaper needs only the run.
	Timeout    time.Duration // silence after which the run is failed; 0 for never
	Deadline   time.Time     // last heartbeat (or launch) + Timeout; zero when no Timeout
	Retries    int           // how many times a failed run is retried
	RetryDelay time.Duration // delay before the first retry, doubled for each next one
	RetryAt    time.Time     // when a failed run is to be retried; zero when it is not
	RetryRunID string        // the run that retried this one
}

// How a run was started.
const (
	TriggerAPI      = "api"
	TriggerWorkflow = "workflow"
	TriggerRetry    = "retry"
	TriggerSchedule = "schedule"
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

// Event is one entry of a run's audit trail.
type Event struct {
	ID     string // set by the store
	At     time.Time
	By     string // email of the caller, or Reaper for the Reaper
	Type   string // EventStatus, EventClaimed, EventRepublished, EventUndelivered
	From   Status
	To     Status
	Detail string // the executor_id of a claim, the reason of a change made by Runway
	// Published is false until the event is on the run events topic; the
	// Reaper publishes events a failed publish left behind.
	Published bool
}

// The types of run event.
const (
	EventStatus      = "status"      // the status changed
	EventClaimed     = "claimed"     // an executor took the run
	EventRepublished = "republished" // no executor claimed the run in time: its launch message went out again
	EventUndelivered = "undelivered" // no executor claimed the run after the last publish: Runway stopped publishing it
)

// ConfigRef names r's configuration.
func (r Run) ConfigRef() configs.ConfigRef {
	return configs.ConfigRef{Environment: r.Environment, Kind: r.Kind, ConfigurationID: r.ConfigurationID}
}

// DeliveryDue returns when the Reaper is to publish r's launch message
// again, or zero when nothing is awaited: r waits for a slot (it has no
// message yet), an executor claimed it, or it is finished.
func (r Run) DeliveryDue() time.Time {
	if r.Queued || r.ClaimedBy != "" || r.Status.Final() {
		return time.Time{}
	}
	return r.DeliverBy
}

// Update is what a change of a run decided: whether to save the run, and
// the event to record with it, if any.
type Update struct {
	Save  bool
	Event *Event
	// Release is the slot the run gives back with the change, which the
	// store frees with it; 0 for none.
	Release int
}

// Query selects runs of one account, newest first.
type Query struct {
	// Kind is "" for every kind, which the board's runs view asks (with
	// no ConfigurationID, and no ExecutionDate).
	Kind            configs.Kind
	Environment     string // "" for every environment
	ConfigurationID string // "" for every configuration of configs.Kind
	Status          Status // "" for every status
	// Statuses selects runs in any of these statuses, when Status is "".
	Statuses      []Status
	ExecutionDate string    // "" for every date
	Before        time.Time // runs launched before; zero for any time
	Since         time.Time // runs launched at or after; zero for any time
	// TriggerType selects the runs started one way (TriggerAPI…); "" for
	// every way. The board's filter: not with Kind, nor ExecutionDate.
	TriggerType string
	// After, for a page after the first, is where the page before ended:
	// the runs after it, in the query's order.
	After *RunCursor
	Limit int // at least 1
}

// RunCursor is where a page of runs ended: the launch time and key of its
// last run, which order runs (newest first; by key among runs launched
// at the same microsecond).
type RunCursor struct {
	Start time.Time
	Key   string
}

// selects reports whether r is in a status q selects. The other filters
// are on what never changes after a launch.
func (q Query) selects(r Run) bool {
	switch {
	case q.Status != "":
		return r.Status == q.Status
	case len(q.Statuses) > 0:
		return slices.Contains(q.Statuses, r.Status)
	}
	return true
}
