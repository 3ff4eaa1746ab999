package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the reset schedule in Paris time, wherever the tests run

	"github.com/robfig/cron/v3"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/runs"
)

// resetSchedule parses a reset schedule as a deploy does; "" is none.
func resetSchedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	if spec == "" {
		return nil
	}
	s, ok := configs.ResetSchedule(&configs.WorkflowSpec{ResetSchedule: spec})
	if !ok {
		t.Fatalf("reset schedule %q does not parse", spec)
	}
	return s
}

// metRuns returns the run that met each job of st.
func metRuns(st State) map[string]string {
	out := map[string]string{}
	for job, c := range st.Met {
		out[job] = c.RunID
	}
	return out
}

// TestArrive: which cycle a success belongs to, as of the time it is
// counted, and whether it meets its job.
func TestArrive(t *testing.T) {
	t.Parallel()
	day := State{Cycle: 1, CycleStartedAt: at("2020-12-30T08:00:00Z"), Met: map[string]Criterion{}}
	withJA := day.clone()
	withJA.Met["JA"] = Criterion{RunID: "a1", At: at("2020-12-30T09:00:00Z")}
	atTick := day.clone() // met, in a state stored before met jobs had documents, at the instant of a reset
	atTick.Met["JA"] = Criterion{RunID: "a1", At: at("2020-12-30T23:59:00Z")}
	fired := State{Cycle: 2, CycleStartedAt: at("2020-12-30T09:02:00Z"), LastFired: &Firing{Cycle: 1, At: at("2020-12-30T09:02:00Z")}}
	resetByHand := State{Cycle: 3, CycleStartedAt: at("2020-12-30T12:00:00Z"), LastResetBy: "alice@example.com"}
	paris := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name      string
		prev      State
		schedule  string
		now       string
		job, run  string
		at        time.Time
		current   bool
		marked    bool
		cycle     int
		started   string
		met       map[string]string
		resetBy   string
		criterion time.Time // the met job's time, when it matters
	}{
		{"the first success of a job", day, "", "2020-12-30T10:00:00Z", "JA", "a1", at("2020-12-30T09:00:00Z"),
			true, true, 1, "2020-12-30T08:00:00Z", map[string]string{"JA": "a1"}, "", time.Time{}},
		{"a job's second success in the cycle", withJA, "", "2020-12-30T10:00:00Z", "JA", "a2", at("2020-12-30T09:30:00Z"),
			true, false, 1, "2020-12-30T08:00:00Z", map[string]string{"JA": "a1"}, "", time.Time{}},
		{"another job", withJA, "", "2020-12-30T10:00:00Z", "JB", "b1", at("2020-12-30T09:30:00Z"),
			true, true, 1, "2020-12-30T08:00:00Z", map[string]string{"JA": "a1", "JB": "b1"}, "", time.Time{}},
		{"a success at the instant the cycle began", day, "", "2020-12-30T10:00:00Z", "JA", "a0", at("2020-12-30T08:00:00Z"),
			false, false, 1, "2020-12-30T08:00:00Z", map[string]string{}, "", time.Time{}},
		{"a redelivered success of the cycle that fired", fired, "", "2020-12-30T10:00:00Z", "JA", "a1", at("2020-12-30T09:00:00Z"),
			false, false, 2, "2020-12-30T09:02:00Z", map[string]string{}, "", time.Time{}},
		{"a success from before a reset by hand", resetByHand, "", "2020-12-30T12:10:00Z", "JA", "a1", at("2020-12-30T11:59:59Z"),
			false, false, 3, "2020-12-30T12:00:00Z", map[string]string{}, "alice@example.com", time.Time{}},
		{"no reset schedule: a success counts days later", withJA, "", "2021-01-05T10:00:00Z", "JB", "b1", at("2021-01-05T09:00:00Z"),
			true, true, 1, "2020-12-30T08:00:00Z", map[string]string{"JA": "a1", "JB": "b1"}, "", time.Time{}},
		{"the reset schedule fired since: a new cycle without the old successes", withJA, "59 23 * * *", "2020-12-31T00:30:00Z",
			"JB", "b1", at("2020-12-31T00:20:00Z"),
			true, true, 2, "2020-12-30T23:59:00Z", map[string]string{"JB": "b1"}, ScheduleResetBy, time.Time{}},
		{"a success before the reset, counted after it", withJA, "59 23 * * *", "2020-12-31T00:30:00Z", "JB", "b1", at("2020-12-30T23:58:59Z"),
			false, false, 2, "2020-12-30T23:59:00Z", map[string]string{}, ScheduleResetBy, time.Time{}},
		{"counted a second before the tick", withJA, "59 23 * * *", "2020-12-30T23:58:59Z", "JB", "b1", at("2020-12-30T23:58:30Z"),
			true, true, 1, "2020-12-30T08:00:00Z", map[string]string{"JA": "a1", "JB": "b1"}, "", time.Time{}},
		{"counted at the tick", withJA, "59 23 * * *", "2020-12-30T23:59:00Z", "JB", "b1", at("2020-12-30T23:58:30Z"),
			false, false, 2, "2020-12-30T23:59:00Z", map[string]string{}, ScheduleResetBy, time.Time{}},
		{"a success at the tick's instant", withJA, "59 23 * * *", "2020-12-30T23:59:30Z", "JB", "b1", at("2020-12-30T23:59:00Z"),
			false, false, 2, "2020-12-30T23:59:00Z", map[string]string{}, ScheduleResetBy, time.Time{}},
		{"several ticks since: the last one starts the cycle", withJA, "59 23 * * *", "2021-01-02T08:00:00Z", "JB", "b1", at("2021-01-02T07:00:00Z"),
			true, true, 2, "2021-01-01T23:59:00Z", map[string]string{"JB": "b1"}, ScheduleResetBy, time.Time{}},
		{"several ticks since, counted at the last one", withJA, "59 23 * * *", "2021-01-01T23:59:00Z", "JB", "b1", at("2021-01-01T23:58:00Z"),
			false, false, 2, "2021-01-01T23:59:00Z", map[string]string{}, ScheduleResetBy, time.Time{}},
		{"a job met at the tick's instant is forgotten", atTick, "59 23 * * *", "2020-12-31T00:30:00Z", "JB", "b1", at("2020-12-31T00:20:00Z"),
			true, true, 2, "2020-12-30T23:59:00Z", map[string]string{"JB": "b1"}, ScheduleResetBy, time.Time{}},
		{"a reset schedule in Paris time", withJA, "CRON_TZ=Europe/Paris 0 0 * * *", "2020-12-30T23:30:00Z", "JB", "b1", at("2020-12-30T23:10:00Z"),
			true, true, 2, "2020-12-30T23:00:00Z", map[string]string{"JB": "b1"}, ScheduleResetBy, time.Time{}},
		{"a success told in another zone, to the nanosecond", day, "", "2020-12-30T10:00:00Z", "JA", "a1",
			time.Date(2020, 12, 30, 11, 0, 0, 123456789, paris),
			true, true, 1, "2020-12-30T08:00:00Z", map[string]string{"JA": "a1"}, "", at("2020-12-30T09:00:00.123456Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := metRuns(tt.prev)
			next, marked, current := tt.prev.arrive(at(tt.now), resetSchedule(t, tt.schedule), tt.job, tt.run, tt.at)
			if current != tt.current || marked != tt.marked {
				t.Errorf("current %v, marked %v; want %v, %v", current, marked, tt.current, tt.marked)
			}
			if next.Cycle != tt.cycle || !next.CycleStartedAt.Equal(at(tt.started)) || next.LastResetBy != tt.resetBy {
				t.Errorf("cycle %d from %v reset by %q; want %d from %s by %q", next.Cycle, next.CycleStartedAt, next.LastResetBy,
					tt.cycle, tt.started, tt.resetBy)
			}
			if got := metRuns(next); !mapsEqual(got, tt.met) {
				t.Errorf("met %v, want %v", got, tt.met)
			}
			if c := next.Met[tt.job]; !tt.criterion.IsZero() && (!c.At.Equal(tt.criterion) || c.At.Location() != time.UTC) {
				t.Errorf("met at %v, want %v in UTC", c.At, tt.criterion)
			}
			if !mapsEqual(metRuns(tt.prev), before) {
				t.Errorf("arrive changed the state it was called on: %v", tt.prev.Met)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// testWorkflow waits on JA and JB to launch T.
func testWorkflow(id string) configs.Configuration {
	return configs.Configuration{Account: "000099", Environment: "DEV", Kind: configs.KindWorkflow, ConfigurationID: id,
		Activated: true, UpdatedAt: at("2020-12-30T08:00:00Z"),
		Workflow: &configs.WorkflowSpec{AuthorizedJobIDs: []string{"JA", "JB"},
			Target: configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: "T"}}}
}

// TestEndCycle: a complete cycle launches its target once, with a run
// whose key is the workflow's and the cycle's, or records why not; either
// way the next cycle begins at its latest success.
func TestEndCycle(t *testing.T) {
	t.Parallel()
	wf := testWorkflow("W")
	now := at("2020-12-30T10:00:00Z")
	target := configs.Configuration{Account: "000099", Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: "T",
		JobID: "JT", Activated: true, Schedule: configs.Schedule{MaxActiveRuns: 1}}
	archived, deactivated := target, target
	archived.Archived, deactivated.Activated = true, false
	complete := func(cycle int) State {
		return State{Cycle: cycle, CycleStartedAt: at("2020-12-30T08:00:00Z"), Met: map[string]Criterion{
			"JB": {RunID: "b1", At: at("2020-12-30T09:05:00Z")},
			"JA": {RunID: "a1", At: at("2020-12-30T09:00:00Z")},
		}}
	}
	tests := []struct {
		name    string
		target  configs.Configuration
		found   bool
		skipped string // "" for a launch
	}{
		{"launchable", target, true, ""},
		{"deleted", configs.Configuration{}, false, "target T no longer exists"},
		{"archived", archived, true, "configuration T is archived"},
		{"deactivated", deactivated, true, "configuration T is deactivated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := complete(4)
			run := endCycle(wf, tt.target, tt.found, &st, now)
			f := st.LastFired
			if st.Cycle != 5 || len(st.Met) != 0 || !st.CycleStartedAt.Equal(at("2020-12-30T09:05:00Z")) || f == nil ||
				f.Cycle != 4 || !f.At.Equal(at("2020-12-30T09:05:00Z")) || !slices.Equal(f.TriggerRunIDs, []string{"a1", "b1"}) {
				t.Fatalf("state after the cycle %+v, firing %+v; want cycle 5 from the latest success, 4 fired by a1 and b1", st, f)
			}
			if tt.skipped != "" {
				if run != nil || f.TargetRunID != "" || !strings.HasPrefix(f.Skipped, tt.skipped) {
					t.Errorf("run %v, firing %+v; want none, skipped for %q", run, f, tt.skipped)
				}
				return
			}
			if run == nil || f.Skipped != "" || f.TargetRunID != run.RunID || run.ConfigurationID != "T" || run.JobID != "JT" ||
				run.TriggerType != runs.TriggerWorkflow || run.StartedBy != "workflow:W" || !run.Queued ||
				!run.StartExecutionDate.Equal(now) || !slices.Equal(run.TriggerRunIDs, []string{"a1", "b1"}) {
				t.Fatalf("run %+v, firing %+v", run, f)
			}
			// The same cycle, fired again (a retry, a racing event), makes
			// the same run, which the store creates once; another cycle or
			// another workflow makes another.
			again := complete(4)
			if r := endCycle(wf, target, true, &again, now.Add(time.Minute)); r.Key != run.Key {
				t.Errorf("cycle 4 fired again: key %s, want %s", r.Key, run.Key)
			}
			next := complete(5)
			if r := endCycle(wf, target, true, &next, now); r.Key == run.Key {
				t.Error("cycles 4 and 5 launch the same run")
			}
			other := complete(4)
			if r := endCycle(testWorkflow("W2"), target, true, &other, now); r.Key == run.Key {
				t.Error("two workflows launch the same run")
			}
		})
	}
}

// TestCycleFiresOnce: a workflow's successes, resets by hand and by its
// schedule, from its deploy on: the target fires once per cycle, when the
// last of its jobs is met.
func TestCycleFiresOnce(t *testing.T) {
	t.Parallel()
	wf := testWorkflow("W")
	wf.Workflow.ResetSchedule = "59 23 * * *"
	schedule := resetSchedule(t, wf.Workflow.ResetSchedule)
	target := configs.Configuration{Account: "000099", Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: "T", Activated: true}
	steps := []struct {
		name    string
		now     string
		job     string // "" for a reset by hand
		run, at string
		current bool
		marked  bool
		fires   []string // the runs that fired the cycle, if it fired
		cycle   int      // after the step
	}{
		{"JA succeeds", "2020-12-30T09:00:01Z", "JA", "a1", "2020-12-30T09:00:00Z", true, true, nil, 1},
		{"JA succeeds again", "2020-12-30T09:10:01Z", "JA", "a2", "2020-12-30T09:10:00Z", true, false, nil, 1},
		{"reset by hand", "2020-12-30T09:20:00Z", "", "", "", false, false, nil, 2},
		{"JB's success from before the reset", "2020-12-30T09:25:00Z", "JB", "b1", "2020-12-30T09:15:00Z", false, false, nil, 2},
		{"JB succeeds", "2020-12-30T09:30:01Z", "JB", "b2", "2020-12-30T09:30:00Z", true, true, nil, 2},
		{"JA succeeds: the cycle fires", "2020-12-30T09:40:01Z", "JA", "a3", "2020-12-30T09:40:00Z", true, true, []string{"a3", "b2"}, 3},
		{"JA's success told again", "2020-12-30T09:41:00Z", "JA", "a3", "2020-12-30T09:40:00Z", false, false, nil, 3},
		{"JB succeeds in the evening", "2020-12-30T23:00:01Z", "JB", "b3", "2020-12-30T23:00:00Z", true, true, nil, 3},
		{"the schedule reset the cycle at 23:59", "2020-12-31T00:10:01Z", "JA", "a4", "2020-12-31T00:10:00Z", true, true, nil, 4},
		{"JB succeeds: the cycle fires", "2020-12-31T00:20:01Z", "JB", "b4", "2020-12-31T00:20:00Z", true, true, []string{"a4", "b4"}, 5},
	}
	st := initialState(wf)
	var firings []int
	for _, step := range steps {
		now := at(step.now)
		if step.job == "" {
			st = st.resetAt(now, schedule, "alice@example.com")
		} else {
			next, marked, current := st.arrive(now, schedule, step.job, step.run, at(step.at))
			if current != step.current || marked != step.marked {
				t.Errorf("%s: current %v, marked %v; want %v, %v", step.name, current, marked, step.current, step.marked)
			}
			var fired []string
			if current && next.complete(wf.Workflow.AuthorizedJobIDs) {
				if run := endCycle(wf, target, true, &next, now); run == nil {
					t.Fatalf("%s: the target was not launched: %s", step.name, next.LastFired.Skipped)
				}
				fired = next.LastFired.TriggerRunIDs
				firings = append(firings, next.LastFired.Cycle)
			}
			if !slices.Equal(fired, step.fires) {
				t.Errorf("%s: fired by %v, want %v", step.name, fired, step.fires)
			}
			if current {
				st = next
			}
		}
		if st.Cycle != step.cycle {
			t.Errorf("%s: cycle %d, want %d", step.name, st.Cycle, step.cycle)
		}
	}
	if !slices.Equal(firings, []int{2, 4}) {
		t.Errorf("fired cycles %v, want 2 and 4", firings)
	}
}

// TestCompleteNeedsEveryAuthorizedJob: a success of a job the workflow
// does not wait on completes nothing, and is not among the runs that
// fired it.
func TestCompleteNeedsEveryAuthorizedJob(t *testing.T) {
	t.Parallel()
	authorized := []string{"JA", "JB"}
	st := State{Cycle: 1, CycleStartedAt: at("2020-12-30T08:00:00Z"), Met: map[string]Criterion{}}
	st.count("JA", "a1", at("2020-12-30T09:00:00Z"))
	st.count("JX", "x1", at("2020-12-30T09:05:00Z"))
	if st.complete(authorized) {
		t.Fatal("complete with JB unmet")
	}
	st.count("JB", "b1", at("2020-12-30T09:10:00Z"))
	if !st.complete(authorized) {
		t.Fatal("incomplete with JA and JB met")
	}
	st.fire(authorized, "t1", "")
	if got := st.LastFired.TriggerRunIDs; !slices.Equal(got, []string{"a1", "b1"}) {
		t.Errorf("fired by %v, want a1 and b1", got)
	}
	if !(State{}).complete(nil) {
		t.Error("a workflow waiting on no job is not complete")
	}
}

// TestResetAt: a reset by hand starts a new cycle at its time, after
// the one the schedule started, if it fired since.
func TestResetAt(t *testing.T) {
	t.Parallel()
	prev := State{Cycle: 3, CycleStartedAt: at("2020-12-30T08:00:00Z"), Met: map[string]Criterion{"JA": {RunID: "a1", At: at("2020-12-30T09:00:00Z")}}}
	for _, tt := range []struct {
		name, schedule, now string
		cycle               int
	}{
		{"no schedule", "", "2020-12-31T10:00:00Z", 4},
		{"before the schedule fires", "59 23 * * *", "2020-12-30T23:58:00Z", 4},
		{"after the schedule fired", "59 23 * * *", "2020-12-31T10:00:00Z", 5},
	} {
		got := prev.resetAt(at(tt.now), resetSchedule(t, tt.schedule), "alice@example.com")
		if got.Cycle != tt.cycle || !got.CycleStartedAt.Equal(at(tt.now)) || len(got.Met) != 0 || got.LastResetBy != "alice@example.com" {
			t.Errorf("%s: %+v; want cycle %d from %s, reset by alice", tt.name, got, tt.cycle, tt.now)
		}
	}
	if prev.Cycle != 3 || len(prev.Met) != 1 {
		t.Errorf("resetAt changed the state it was called on: %+v", prev)
	}
}

// TestListens: only an activated, unarchived workflow counts successes.
func TestListens(t *testing.T) {
	t.Parallel()
	wf := testWorkflow("W")
	deactivated, archived, notWorkflow := wf, wf, wf
	deactivated.Activated, archived.Archived, notWorkflow.Workflow = false, true, nil
	for name, tc := range map[string]struct {
		wf   configs.Configuration
		want bool
	}{"activated": {wf, true}, "deactivated": {deactivated, false}, "archived": {archived, false}, "not a workflow": {notWorkflow, false}} {
		if got := listens(tc.wf); got != tc.want {
			t.Errorf("%s: listens %v, want %v", name, got, tc.want)
		}
	}
	if st := initialState(wf); st.Cycle != 1 || !st.CycleStartedAt.Equal(wf.UpdatedAt) || len(st.Met) != 0 {
		t.Errorf("a new workflow's state %+v, want cycle 1 from its deploy", st)
	}
}

// TestRetryStale: a change made on a stale state is made again; any other
// outcome ends it; a caller gone ends it as unavailable.
func TestRetryStale(t *testing.T) {
	t.Parallel()
	s := &Service{}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		outcomes  []error // of the attempts in turn; the last repeats
		canceled  bool
		wantCalls int // 0 for any: a pause over at once races the caller's end
		want      error
	}{
		{"at once", []error{nil}, false, 1, nil},
		{"after two stale attempts", []error{ErrStale, ErrStale, nil}, false, 3, nil},
		{"another error", []error{ErrStale, boom}, false, 2, boom},
		{"the caller gave up", []error{ErrStale}, true, 0, context.Canceled},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		if tc.canceled {
			cancel()
		}
		calls := 0
		err := s.retryStale(ctx, "W", func() error {
			calls++
			return tc.outcomes[min(calls, len(tc.outcomes))-1]
		})
		cancel()
		if (tc.wantCalls > 0 && calls != tc.wantCalls) || !errors.Is(err, tc.want) || (tc.want == nil && err != nil) ||
			(tc.canceled && !errors.Is(err, failure.ErrUnavailable)) {
			t.Errorf("%s: %d calls, err %v; want %d, %v", tc.name, calls, err, tc.wantCalls, tc.want)
		}
	}
}
