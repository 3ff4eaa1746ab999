package configs

import (
	"testing"
)

// scheduled returns a configuration with schedule s, activated or not.
func scheduled(s Schedule, activated bool, ticks Ticks) Configuration {
	return Configuration{ConfigurationID: "c", Activated: activated, Schedule: s, Ticks: ticks}
}

// TestDeployedTicks: a redeploy that keeps the schedule keeps its place;
// a new or changed schedule starts anew, never before the last tick
// launched; a configuration that does not run on its own has no next tick.
func TestDeployedTicks(t *testing.T) {
	t.Parallel()
	now := at("2026-12-01 09:00")
	daily := Schedule{Interval: "@daily"}
	ticks := Ticks{Last: at("2026-11-30 00:00"), Next: at("2026-12-01 00:00")} // a pass is due
	prev := scheduled(daily, true, ticks)
	archived := prev
	archived.Archived = true
	tests := []struct {
		name string
		prev *Configuration
		next Configuration
		want Ticks
	}{
		{"a first deploy", nil, scheduled(daily, true, Ticks{}), Ticks{Next: at("2026-12-02 00:00")}},
		{"a first deploy, deactivated", nil, scheduled(daily, false, Ticks{}), Ticks{}},
		{"a first deploy without a schedule", nil, scheduled(Schedule{}, true, Ticks{}), Ticks{}},
		{"the same schedule keeps its due tick", &prev, scheduled(daily, true, Ticks{}), ticks},
		{"another interval starts anew", &prev, scheduled(Schedule{Interval: "0 7 * * *"}, true, Ticks{}),
			Ticks{Last: ticks.Last, Next: at("2026-12-02 07:00")}},
		{"another start date starts anew", &prev, scheduled(Schedule{Interval: "@daily", Start: at("2026-11-01 00:00")}, true, Ticks{}),
			Ticks{Last: ticks.Last, Next: at("2026-12-02 00:00")}},
		{"catchup turned on resumes after the last tick", &prev, scheduled(Schedule{Interval: "@daily", Catchup: true}, true, Ticks{}),
			Ticks{Last: ticks.Last, Next: at("2026-12-01 00:00")}},
		{"the schedule removed keeps the last tick", &prev, scheduled(Schedule{}, true, Ticks{}), Ticks{Last: ticks.Last}},
		{"deactivated by the deploy", &prev, scheduled(daily, false, Ticks{}), Ticks{Last: ticks.Last}},
		{"deployed over an archived one", &archived, scheduled(daily, true, Ticks{}),
			Ticks{Last: ticks.Last, Next: at("2026-12-02 00:00")}},
	}
	for _, tt := range tests {
		if got := deployedTicks(tt.prev, tt.next, now); !ticksEqual(got, tt.want) {
			t.Errorf("%s: ticks %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestStatusTicks: deactivated or archived, a schedule stops, keeping its
// last tick; activated again, it resumes from now, or with catchup from
// its last tick; a change that leaves it running keeps its place.
func TestStatusTicks(t *testing.T) {
	t.Parallel()
	now := at("2026-12-01 09:00")
	daily := Schedule{Interval: "@daily"}
	catchup := Schedule{Interval: "@daily", Catchup: true}
	running := Ticks{Last: at("2026-11-30 00:00"), Next: at("2026-12-01 00:00")}
	stopped := Ticks{Last: at("2026-11-20 00:00")}
	archived := scheduled(daily, true, running)
	archived.Archived = true
	tests := []struct {
		name string
		c    Configuration // with its new flags
		was  bool
		want Ticks
	}{
		{"deactivated", scheduled(daily, false, running), true, Ticks{Last: running.Last}},
		{"archived", archived, true, Ticks{Last: running.Last}},
		{"still activated", scheduled(daily, true, running), true, running},
		{"activated again", scheduled(daily, true, stopped), false, Ticks{Last: stopped.Last, Next: at("2026-12-02 00:00")}},
		{"activated again, with catchup", scheduled(catchup, true, stopped), false, Ticks{Last: stopped.Last, Next: at("2026-11-21 00:00")}},
		{"activated, without a schedule", scheduled(Schedule{}, true, stopped), false, Ticks{Last: stopped.Last}},
	}
	for _, tt := range tests {
		if got := statusTicks(tt.c, tt.was, now); !ticksEqual(got, tt.want) {
			t.Errorf("%s: ticks %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func ticksEqual(a, b Ticks) bool { return a.Next.Equal(b.Next) && a.Last.Equal(b.Last) }

// TestIsKey: a page token is a configuration's document key, or nothing.
func TestIsKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"":                              true,
		"DEV~table-to-table~c_DEV":      true,
		"PROD~workflow~w.1-a":           true,
		"DEV~gbq-to-gbq~c":              true, // an alias of table-to-table, as a key may carry
		"DEV~no-such-type~c":            false,
		"DEV~table-to-table":            false,
		"DEV":                           false,
		"DEV~table-to-table~":           false,
		"~table-to-table~c":             false,
		"DEV~table-to-table~c/../other": false,
		"D EV~table-to-table~c":         false,
	} {
		if got := isKey(key); got != want {
			t.Errorf("isKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestWorkflowSchedule: a workflow's reset schedule, when it has one that
// parses.
func TestWorkflowSchedule(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		spec *WorkflowSpec
		want bool
	}{
		"none":           {&WorkflowSpec{}, false},
		"not a workflow": {nil, false},
		"every day":      {&WorkflowSpec{ResetSchedule: "59 23 * * *"}, true},
		"in Paris time":  {&WorkflowSpec{ResetSchedule: "CRON_TZ=Europe/Paris 0 0 * * *"}, true},
		"minute 61":      {&WorkflowSpec{ResetSchedule: "61 * * * *"}, false},
		"six fields":     {&WorkflowSpec{ResetSchedule: "0 59 23 * * *"}, false},
	} {
		if s, ok := ResetSchedule(tc.spec); ok != tc.want || (s != nil) != tc.want {
			t.Errorf("%s: schedule %v, %v; want one: %v", name, s, ok, tc.want)
		}
	}
}
