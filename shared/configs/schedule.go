package configs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// A configuration's own schedule: its definition's start_date,
// schedule_interval, catchup and max_active_runs, as
// docs/configurations.md describes them.
//
// A tick is a time the schedule fires, in UTC, strictly after start_date
// (00:00 UTC of that day): with "@daily" and a start_date three days ago,
// the ticks so far are the last three midnights. The run a tick launches
// has the tick's date as its execution_date.

// DefaultMaxActiveRuns is max_active_runs when the definition has none, as
// in Tailer.
const DefaultMaxActiveRuns = 1

// MaxMaxActiveRuns bounds max_active_runs: each run in executors' hands
// holds one of the configuration's slots.
const MaxMaxActiveRuns = 100_000

// presets are the schedule_interval shorthands accepted, as cron.
var presets = map[string]string{
	"@hourly":  "0 * * * *",
	"@daily":   "0 0 * * *",
	"@weekly":  "0 0 * * 0",
	"@monthly": "0 0 1 * *",
	"@yearly":  "0 0 1 1 *",
}

var startDatePattern = regexp.MustCompile(`^\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*$`)

// ParseInterval reads a schedule_interval that is not "None": a preset or
// the five standard cron fields, evaluated in UTC.
func ParseInterval(interval string) (cron.Schedule, error) {
	spec := interval
	if strings.HasPrefix(spec, "@") {
		var ok bool
		if spec, ok = presets[interval]; !ok {
			return nil, fmt.Errorf("%q is not one of @hourly, @daily, @weekly, @monthly, @yearly", interval)
		}
	}
	return cronParser.Parse(spec)
}

// parseStartDate reads a start_date written "YYYY, MM, DD".
func parseStartDate(s string) (time.Time, bool) {
	m := startDatePattern.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	year, _ := strconv.Atoi(m[1])
	month, _ := strconv.Atoi(m[2])
	day, _ := strconv.Atoi(m[3])
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	// time.Date normalizes February 30 into March: refuse what moved.
	if year < 1970 || t.Year() != year || int(t.Month()) != month || t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

// schedule reads the schedule fields of a definition.
func (p *fields) schedule() Schedule {
	s := Schedule{Catchup: p.boolean("catchup", false), MaxActiveRuns: DefaultMaxActiveRuns}
	if _, present := p.def["max_active_runs"]; present {
		s.MaxActiveRuns = p.integer("max_active_runs", 1, MaxMaxActiveRuns)
	}
	if v, present := p.def["start_date"]; present {
		text, _ := v.(string)
		var ok bool
		if s.Start, ok = parseStartDate(text); !ok {
			p.problems.Add("configuration.start_date", `must be a date written "YYYY, MM, DD", such as "2023, 1, 23", from 1970`)
		}
	}
	interval, present := p.def["schedule_interval"]
	text, ok := interval.(string)
	switch {
	case !present || text == "None":
	case !ok:
		p.problems.Add("configuration.schedule_interval", `must be "None" or a cron expression such as "0 7 * * *"`)
	default:
		if _, err := ParseInterval(text); err != nil {
			p.problems.Add("configuration.schedule_interval",
				`must be "None", a cron expression of five fields such as "0 7 * * *" (UTC), or @hourly, @daily, @weekly, @monthly, @yearly: %v`, err)
		}
		s.Interval = text
	}
	return s
}

// ScheduleOf parses a stored configuration's schedule_interval; ok is
// false when it has none.
func ScheduleOf(s Schedule) (cron.Schedule, bool) {
	if s.Interval == "" {
		return nil, false
	}
	sched, err := ParseInterval(s.Interval)
	return sched, err == nil
}

// FirstTick returns the next tick of a schedule that starts now: when it
// is deployed, activated again, or changed. No tick at or before
// ticks.Last is ever launched again; with catchup, the ticks missed since
// the schedule's start (or since the last one launched) are due at once,
// oldest first; without, the first tick is the next one after now.
func FirstTick(s Schedule, ticks Ticks, now time.Time) time.Time {
	sched, ok := ScheduleOf(s)
	if !ok {
		return time.Time{}
	}
	from := later(s.Start, ticks.Last)
	if !s.Catchup {
		from = later(from, now)
	}
	if from.IsZero() {
		from = now
	}
	return sched.Next(from)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// DueTicks returns the ticks to launch at now, oldest first, at most
// batch of them, and the next tick after them. With catchup every due tick
// is launched, batch by batch; without, only the latest due tick, the
// others being skipped. It returns no tick when ticks.Next is not due.
func DueTicks(s Schedule, ticks Ticks, now time.Time, batch int) ([]time.Time, time.Time) {
	sched, ok := ScheduleOf(s)
	if !ok || ticks.Next.IsZero() || ticks.Next.After(now) {
		return nil, ticks.Next
	}
	if !s.Catchup {
		latest := latestFiring(sched, ticks.Next, now)
		return []time.Time{latest}, sched.Next(latest)
	}
	var due []time.Time
	next := ticks.Next
	for !next.After(now) && len(due) < batch {
		due = append(due, next)
		next = sched.Next(next)
	}
	return due, next
}

// latestFiring returns the last tick in [first, now], first being one;
// after a long silence it walks from a week back at most, so that an
// every-minute schedule costs a bounded walk.
func latestFiring(sched cron.Schedule, first, now time.Time) time.Time {
	last := first
	if window := now.Add(-8 * 24 * time.Hour); window.After(first) {
		if t := sched.Next(window); !t.After(now) {
			last = t
		}
	}
	for t := sched.Next(last); !t.After(now); t = sched.Next(t) {
		last = t
	}
	return last
}

// UpcomingTicks returns the next n ticks from ticks.Next, for people to
// see; none when no tick will run.
func UpcomingTicks(s Schedule, ticks Ticks, n int) []time.Time {
	sched, ok := ScheduleOf(s)
	if !ok || ticks.Next.IsZero() {
		return nil
	}
	out := []time.Time{ticks.Next}
	for len(out) < n {
		out = append(out, sched.Next(out[len(out)-1]))
	}
	return out
}
