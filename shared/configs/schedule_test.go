package configs

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/failure"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func times(ss ...string) []time.Time {
	var out []time.Time
	for _, s := range ss {
		out = append(out, at(s))
	}
	return out
}

// TestParseSchedule: the schedule fields of a definition, their defaults,
// and a 400 naming each bad one.
func TestParseSchedule(t *testing.T) {
	t.Parallel()
	base := func(extra map[string]any) map[string]any {
		def := map[string]any{"configuration_type": "table-to-table", "configuration_id": "c", "account": "000099", "environment": "DEV"}
		for k, v := range extra {
			def[k] = v
		}
		return def
	}
	good := []struct {
		name string
		def  map[string]any
		want Schedule
	}{
		{"none at all", base(nil), Schedule{MaxActiveRuns: 1}},
		{"None", base(map[string]any{"schedule_interval": "None", "start_date": "2023, 1, 23"}),
			Schedule{Start: at("2023-01-23 00:00"), MaxActiveRuns: 1}},
		{"a cron", base(map[string]any{"schedule_interval": "0 7 * * *", "catchup": true, "max_active_runs": 3.0}),
			Schedule{Interval: "0 7 * * *", Catchup: true, MaxActiveRuns: 3}},
		{"a preset", base(map[string]any{"schedule_interval": "@daily", "start_date": "2026,11,28"}),
			Schedule{Interval: "@daily", Start: at("2026-11-28 00:00"), MaxActiveRuns: 1}},
		{"every five minutes", base(map[string]any{"schedule_interval": "*/5 * * * *"}), Schedule{Interval: "*/5 * * * *", MaxActiveRuns: 1}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(tt.def)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.Schedule); diff != "" {
				t.Errorf("schedule (-want +got):\n%s", diff)
			}
		})
	}
	bad := []struct {
		name, field string
		value       any
	}{
		{"start_date as a date", "start_date", "2023-01-23"},
		{"start_date before 1970", "start_date", "1969, 12, 31"},
		{"start_date that does not exist", "start_date", "2023, 2, 30"},
		{"start_date month 13", "start_date", "2023, 13, 1"},
		{"start_date as a number", "start_date", 20230123.0},
		{"schedule_interval of six fields", "schedule_interval", "0 0 7 * * *"},
		{"schedule_interval out of range", "schedule_interval", "0 25 * * *"},
		{"schedule_interval @every", "schedule_interval", "@every 5m"},
		{"schedule_interval @midnight", "schedule_interval", "@midnight"},
		{"schedule_interval not a string", "schedule_interval", 5.0},
		{"schedule_interval lower-case none", "schedule_interval", "none"},
		{"catchup as a string", "catchup", "true"},
		{"max_active_runs zero", "max_active_runs", 0.0},
		{"max_active_runs fractional", "max_active_runs", 1.5},
		{"max_active_runs too many", "max_active_runs", float64(MaxMaxActiveRuns + 1)},
		{"max_active_runs as a string", "max_active_runs", "1"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(base(map[string]any{tt.field: tt.value}))
			invalid, ok := err.(failure.Invalid)
			if !ok || len(invalid) != 1 || invalid[0].Field != "configuration."+tt.field {
				t.Fatalf("Parse = %v, want one problem with configuration.%s", err, tt.field)
			}
		})
	}
	// A workflow's schedule is its schedule_interval_reset: it has none of
	// its own, and its max_active_runs means nothing.
	wf, err := Parse(map[string]any{"configuration_type": "workflow", "configuration_id": "w", "account": "000099", "environment": "DEV",
		"version": "2", "gcp_project_id": "p", "authorized_job_ids": []any{"a"},
		"target_dag": map[string]any{"configuration_type": "table-to-table", "configuration_id": "t"}, "schedule_interval": "not read"})
	if err != nil || wf.Schedule != (Schedule{}) {
		t.Errorf("a workflow's schedule: %+v, %v", wf.Schedule, err)
	}
}

// TestFirstTick: where a schedule starts when it is deployed, activated
// again or changed.
func TestFirstTick(t *testing.T) {
	t.Parallel()
	now := at("2026-12-01 09:00")
	tests := []struct {
		name  string
		s     Schedule
		ticks Ticks
		want  time.Time
	}{
		{"no schedule", Schedule{}, Ticks{}, time.Time{}},
		{"deployed at 09:00 for 07:00", Schedule{Interval: "0 7 * * *"}, Ticks{}, at("2026-12-02 07:00")},
		{"a start_date in the past, no catchup", Schedule{Interval: "@daily", Start: at("2026-11-28 00:00")}, Ticks{}, at("2026-12-02 00:00")},
		{"a start_date in the past, catchup", Schedule{Interval: "@daily", Start: at("2026-11-28 00:00"), Catchup: true}, Ticks{}, at("2026-11-29 00:00")},
		{"a start_date in the future", Schedule{Interval: "@daily", Start: at("2027-01-01 00:00"), Catchup: true}, Ticks{}, at("2027-01-02 00:00")},
		{"catchup resumes after the last tick", Schedule{Interval: "@daily", Start: at("2026-11-01 00:00"), Catchup: true},
			Ticks{Last: at("2026-11-29 00:00")}, at("2026-11-30 00:00")},
		{"without catchup, from now", Schedule{Interval: "@hourly"}, Ticks{Last: at("2026-11-29 00:00")}, at("2026-12-01 10:00")},
		{"never a tick launched already", Schedule{Interval: "@hourly"}, Ticks{Last: at("2026-12-01 12:00")}, at("2026-12-01 13:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstTick(tt.s, tt.ticks, now); !got.Equal(tt.want) {
				t.Errorf("FirstTick = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDueTicks: what a Scheduler pass launches, and where the schedule
// goes on from.
func TestDueTicks(t *testing.T) {
	t.Parallel()
	daily := Schedule{Interval: "@daily"}
	catchup := Schedule{Interval: "@daily", Catchup: true}
	minutely := Schedule{Interval: "* * * * *"}
	tests := []struct {
		name     string
		s        Schedule
		next     time.Time
		now      time.Time
		batch    int
		want     []time.Time
		wantNext time.Time
	}{
		{"not due", daily, at("2026-12-02 00:00"), at("2026-12-01 23:59"), 10, nil, at("2026-12-02 00:00")},
		{"due to the minute", daily, at("2026-12-02 00:00"), at("2026-12-02 00:00"), 10, times("2026-12-02 00:00"), at("2026-12-03 00:00")},
		{"a late pass launches the tick once", daily, at("2026-12-02 00:00"), at("2026-12-02 00:03"), 10, times("2026-12-02 00:00"), at("2026-12-03 00:00")},
		{"without catchup, the latest only", daily, at("2026-11-28 00:00"), at("2026-12-01 09:00"), 10, times("2026-12-01 00:00"), at("2026-12-02 00:00")},
		{"with catchup, oldest first", catchup, at("2026-11-29 00:00"), at("2026-12-01 09:00"), 10,
			times("2026-11-29 00:00", "2026-11-30 00:00", "2026-12-01 00:00"), at("2026-12-02 00:00")},
		{"with catchup, in batches", catchup, at("2026-11-20 00:00"), at("2026-12-01 09:00"), 4,
			times("2026-11-20 00:00", "2026-11-21 00:00", "2026-11-22 00:00", "2026-11-23 00:00"), at("2026-11-24 00:00")},
		{"a minute schedule a year late", minutely, at("2025-12-01 09:00"), at("2026-12-01 09:00"), 10, times("2026-12-01 09:00"), at("2026-12-01 09:01")},
		{"no next tick", daily, time.Time{}, at("2026-12-01 09:00"), 10, nil, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := DueTicks(tt.s, Ticks{Next: tt.next}, tt.now, tt.batch)
			if diff := cmp.Diff(tt.want, got); diff != "" || !next.Equal(tt.wantNext) {
				t.Errorf("DueTicks: next %v (want %v), ticks (-want +got):\n%s", next, tt.wantNext, diff)
			}
		})
	}
}

func TestUpcomingTicks(t *testing.T) {
	t.Parallel()
	got := UpcomingTicks(Schedule{Interval: "30 6 * * 1-5"}, Ticks{Next: at("2026-12-04 06:30")}, 3)
	want := times("2026-12-04 06:30", "2026-12-07 06:30", "2026-12-08 06:30") // Friday, then Monday and Tuesday
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := UpcomingTicks(Schedule{Interval: "@daily"}, Ticks{}, 3); got != nil {
		t.Errorf("no next tick, yet %v", got)
	}
	if _, err := ParseInterval("@yearly"); err != nil || !strings.HasPrefix(presets["@yearly"], "0 0 1 1") {
		t.Errorf("@yearly: %v", err)
	}
}
