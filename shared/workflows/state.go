// Package workflows runs workflow configurations: when every job a workflow
// authorizes has succeeded within its current cycle, it launches the
// workflow's target once and starts a new cycle.
//
// A cycle begins when the workflow is deployed, when its target is
// launched, when someone resets it, and at each firing of its reset
// schedule. A success counts toward a cycle only if it happened after the
// cycle began: a success from before a reset is forgotten, and a
// redelivered event of the success that completed a cycle counts for
// nothing in the next one.
package workflows

import (
	"maps"
	"time"

	"github.com/robfig/cron/v3"
)

// State is a workflow's progress in its current cycle.
type State struct {
	Cycle          int
	CycleStartedAt time.Time
	// Met holds the jobs met in the cycle, by authorized job id: read from
	// their own documents (Store.MetJobs), and, from states stored before
	// those, from the state itself.
	Met         map[string]Criterion
	LastFired   *Firing // the end of the previous cycle, if it launched (or would have)
	LastResetBy string  // who started the cycle by a reset: an email, or "schedule"
	// Revision identifies the stored state this one was read from; saving
	// fails if the stored state has changed since.
	Revision time.Time
}

// Criterion records the success that met an authorized job.
type Criterion struct {
	RunID string
	At    time.Time
}

// Firing records the end of a cycle with all its criteria met.
type Firing struct {
	Cycle         int
	At            time.Time
	TargetRunID   string   // "" when the target could not be launched
	TriggerRunIDs []string // the runs that met the criteria
	Skipped       string   // why the target was not launched, if it was not
}

// ScheduleResetBy is recorded as who reset a workflow on its schedule.
const ScheduleResetBy = "schedule"

// clone returns a copy of st that can be changed without changing st.
func (st State) clone() State {
	st.Met = maps.Clone(st.Met)
	if st.Met == nil {
		st.Met = map[string]Criterion{}
	}
	return st
}

// current returns st as of now: if the reset schedule fired since the
// cycle began, a new cycle began at its last firing, keeping only the
// successes that came after it. Evaluating the schedule when the state is
// read, rather than on a timer, makes the reset exact to the minute and
// needs no scheduler.
func (st State) current(now time.Time, schedule cron.Schedule) State {
	st = st.clone()
	if schedule == nil {
		return st
	}
	at, fired := lastFiring(schedule, st.CycleStartedAt, now)
	if !fired {
		return st
	}
	st.Cycle++
	st.CycleStartedAt = at
	st.LastResetBy = ScheduleResetBy
	for job, c := range st.Met {
		if !c.At.After(at) {
			delete(st.Met, job)
		}
	}
	return st
}

// lastFiring returns the last time in (since, now] the schedule fired.
func lastFiring(schedule cron.Schedule, since, now time.Time) (time.Time, bool) {
	first := schedule.Next(since)
	if first.After(now) {
		return time.Time{}, false
	}
	// Walk the firings up to now, from a week ago at most when the
	// schedule fired in that week, so that an every-minute schedule after a
	// long silence costs a bounded walk.
	from := first
	if window := now.Add(-8 * 24 * time.Hour); window.After(from) {
		if t := schedule.Next(window); !t.After(now) {
			from = t
		}
	}
	last := from
	for t := schedule.Next(last); !t.After(now); t = schedule.Next(t) {
		last = t
	}
	return last, true
}

// arrive returns st as of now (current) with the success of job's run at
// at counted: whether it met job (marked), to record with Store.MarkMet,
// and whether it belongs to the current cycle at all; a success at or
// before the cycle began, before a reset or in a cycle that fired
// already, counts for nothing.
func (st State) arrive(now time.Time, schedule cron.Schedule, job, runID string, at time.Time) (next State, marked, current bool) {
	next = st.current(now, schedule)
	at = at.UTC().Truncate(time.Microsecond)
	if !at.After(next.CycleStartedAt) {
		return next, false, false
	}
	return next, next.count(job, runID, at), true
}

// count marks job met by the success of run at at. It changes nothing, and
// returns false, when the success predates the cycle or the job is met
// already.
func (st *State) count(job, runID string, at time.Time) bool {
	if !at.After(st.CycleStartedAt) {
		return false
	}
	if _, met := st.Met[job]; met {
		return false
	}
	st.Met[job] = Criterion{RunID: runID, At: at}
	return true
}

// complete reports whether every authorized job is met.
func (st State) complete(authorized []string) bool {
	for _, job := range authorized {
		if _, met := st.Met[job]; !met {
			return false
		}
	}
	return true
}

// fire ends the cycle, which launched targetRunID (or skipped it, saying
// why), and starts the next one at the time of the latest success it
// counted: a redelivered event of any success of this cycle then counts
// for nothing in the next.
func (st *State) fire(authorized []string, targetRunID, skipped string) {
	f := &Firing{Cycle: st.Cycle, TargetRunID: targetRunID, Skipped: skipped}
	for _, job := range authorized {
		f.TriggerRunIDs = append(f.TriggerRunIDs, st.Met[job].RunID)
	}
	for _, c := range st.Met {
		if c.At.After(f.At) {
			f.At = c.At
		}
	}
	st.LastFired = f
	st.Cycle++
	st.CycleStartedAt = f.At
	st.Met = map[string]Criterion{}
}

// resetAt returns st reset by by at now: st as of now (current), then a
// new cycle from now.
func (st State) resetAt(now time.Time, schedule cron.Schedule, by string) State {
	next := st.current(now, schedule)
	next.reset(now, by)
	return next
}

// reset starts a new cycle at at, forgetting every success so far.
func (st *State) reset(at time.Time, by string) {
	st.Cycle++
	st.CycleStartedAt = at
	st.Met = map[string]Criterion{}
	st.LastResetBy = by
}
