package configs

import (
	"time"

	"github.com/runwaydata/runway/shared/failure"
)

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
	Workflow          *WorkflowSpec  // for workflows: what the definition asks
	Policy            Policy         // how its runs are watched and retried
	Schedule          Schedule       // when it runs on its own, and how many runs at once
	Ticks             Ticks          // where its schedule stands
	Version           int            // 1 for the first deploy, then one more per deploy
	// Revision is when the stored configuration was last written, as it
	// was read: a write conditional on it fails if it changed since.
	Revision  time.Time
	UpdatedBy string
	UpdatedAt time.Time
}

// Policy is a configuration's execution policy, from its definition's
// timeout, retries and retry_delay fields.
type Policy struct {
	Timeout    time.Duration // a run without a report for this long is failed; 0 for never
	Retries    int           // a failed run is retried this many times
	RetryDelay time.Duration // before the first retry; doubled for each next one
}

// Schedule is when a configuration runs on its own, from its definition's
// start_date, schedule_interval and catchup, and how many of its runs
// may execute at once (max_active_runs).
type Schedule struct {
	// Interval is the schedule_interval as written: a five-field cron or
	// a preset (@hourly, @daily…), in UTC; "" for none ("None").
	Interval string
	// Start is start_date at 00:00 UTC; zero when the definition has none.
	Start time.Time
	// Catchup launches every tick missed since Start (or since the last
	// tick launched), oldest first; without it only the latest due tick.
	Catchup bool
	// MaxActiveRuns bounds the runs in executors' hands at once.
	MaxActiveRuns int
}

// Ticks is where a configuration's schedule stands.
type Ticks struct {
	// Next is the next tick to launch; zero when no tick will run: no
	// schedule, deactivated or archived.
	Next time.Time
	// Last is the last tick launched; zero before the first.
	Last time.Time
}

// Scheduled reports whether c launches on its own: it has a schedule and
// is activated and not archived.
func (c Configuration) Scheduled() bool {
	return c.Schedule.Interval != "" && c.Activated && !c.Archived
}

// Ref returns the configuration's reference.
func (c Configuration) Ref() ConfigRef {
	return ConfigRef{Environment: c.Environment, Kind: c.Kind, ConfigurationID: c.ConfigurationID}
}

// Launchable explains why c cannot be launched, or returns nil.
func (c Configuration) Launchable() error {
	switch {
	case c.Archived:
		return failure.Conflict("configuration %s is archived and cannot be launched; unarchive it with set_configuration_status first", c.ConfigurationID)
	case !c.Activated:
		return failure.Conflict("configuration %s is deactivated and cannot be launched; activate it with set_configuration_status first", c.ConfigurationID)
	}
	return nil
}

// WorkflowSpec is what a workflow configuration asks: when every job of
// AuthorizedJobIDs has succeeded, launch Target.
type WorkflowSpec struct {
	AuthorizedJobIDs []string
	Target           ConfigRef // in the workflow's environment
	TargetType       string    // the target's configuration_type, as written
	TargetJobID      string    // the target's job id, resolved at deploy
	// ResetSchedule is a cron expression, evaluated in UTC, at which the
	// workflow forgets the jobs that succeeded; "" for never.
	ResetSchedule string
}

// ConfigRef names a configuration within an account.
type ConfigRef struct {
	Environment     string
	Kind            Kind
	ConfigurationID string
}
