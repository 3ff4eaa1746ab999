package workflows

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func mustSchedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLastFiring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec, since, now string
		want             string // "" for none
	}{
		{"59 23 * * *", "2020-12-30T10:00:00Z", "2020-12-30T23:58:59Z", ""},
		{"59 23 * * *", "2020-12-30T10:00:00Z", "2020-12-30T23:59:00Z", "2020-12-30T23:59:00Z"},
		{"59 23 * * *", "2020-12-30T10:00:00Z", "2021-01-02T08:00:00Z", "2021-01-01T23:59:00Z"},
		{"59 23 * * *", "2020-12-30T23:59:00Z", "2020-12-31T10:00:00Z", ""}, // the reset at 23:59 already happened
		{"*/5 * * * *", "2020-01-01T00:00:00Z", "2020-12-30T11:28:43Z", "2020-12-30T11:25:00Z"},
		{"0 0 1 1 *", "2019-06-01T00:00:00Z", "2020-12-30T11:28:43Z", "2020-01-01T00:00:00Z"}, // yearly: older than the week walked
	}
	for _, tt := range tests {
		got, ok := lastFiring(mustSchedule(t, tt.spec), at(tt.since), at(tt.now))
		if (tt.want == "") == ok || (ok && !got.Equal(at(tt.want))) {
			t.Errorf("lastFiring(%q, %s, %s) = %v, %v; want %q", tt.spec, tt.since, tt.now, got, ok, tt.want)
		}
	}
}

func TestCurrentAppliesTheResetSchedule(t *testing.T) {
	t.Parallel()
	st := State{Cycle: 3, CycleStartedAt: at("2020-12-30T08:00:00Z"), Met: map[string]Criterion{
		"JA": {RunID: "a", At: at("2020-12-30T09:00:00Z")},
		"JB": {RunID: "b", At: at("2020-12-31T00:10:00Z")}, // after the reset, counted before it was applied
	}}
	got := st.current(at("2020-12-31T01:00:00Z"), mustSchedule(t, "59 23 * * *"))
	if got.Cycle != 4 || !got.CycleStartedAt.Equal(at("2020-12-30T23:59:00Z")) || got.LastResetBy != ScheduleResetBy {
		t.Errorf("state after the schedule = %+v", got)
	}
	if _, ok := got.Met["JA"]; ok || got.Met["JB"].RunID != "b" {
		t.Errorf("met after the schedule = %v, want JB only", got.Met)
	}
	if len(st.Met) != 2 {
		t.Error("current changed the state it was called on")
	}
	if same := st.current(at("2020-12-30T20:00:00Z"), mustSchedule(t, "59 23 * * *")); same.Cycle != 3 || len(same.Met) != 2 {
		t.Errorf("state before the schedule fired = %+v", same)
	}
}

func TestCountAndFire(t *testing.T) {
	t.Parallel()
	jobs := []string{"JA", "JB", "JC"}
	st := State{Cycle: 1, CycleStartedAt: at("2020-12-30T08:00:00Z"), Met: map[string]Criterion{}}
	if st.count("JA", "old", at("2020-12-30T08:00:00Z")) {
		t.Error("a success at the very start of the cycle counted")
	}
	for i, job := range jobs {
		if !st.count(job, "run-"+job, at("2020-12-30T09:00:00Z").Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("%s did not count", job)
		}
	}
	if st.count("JA", "run-JA-again", at("2020-12-30T10:00:00Z")) {
		t.Error("a second success of a met job counted")
	}
	if !st.complete(jobs) || st.complete(append(jobs, "JD")) {
		t.Fatal("complete is wrong")
	}
	st.fire(jobs, "run-JT", "")
	if st.Cycle != 2 || len(st.Met) != 0 || !st.CycleStartedAt.Equal(at("2020-12-30T09:02:00Z")) {
		t.Errorf("after fire: %+v; want cycle 2 starting at the latest success", st)
	}
	if f := st.LastFired; f.Cycle != 1 || f.TargetRunID != "run-JT" || len(f.TriggerRunIDs) != 3 || f.TriggerRunIDs[2] != "run-JC" {
		t.Errorf("firing = %+v", f)
	}
	// Redelivered events of the fired cycle count for nothing now.
	for i, job := range jobs {
		if st.count(job, "run-"+job, at("2020-12-30T09:00:00Z").Add(time.Duration(i)*time.Minute)) {
			t.Errorf("a redelivered success of %s counted in the next cycle", job)
		}
	}
	st.reset(at("2020-12-31T08:00:00Z"), "alice@example.com")
	if st.Cycle != 3 || st.LastResetBy != "alice@example.com" || len(st.Met) != 0 {
		t.Errorf("after reset: %+v", st)
	}
}
