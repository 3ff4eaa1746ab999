package schedules_test

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"sort"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/schedules"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is the time of a test's Scheduler, which the test moves: no test
// waits for the next minute.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// world is a stack with a Scheduler and a configuration service on the
// test's clock.
type world struct {
	*stacktest.Stack
	clock     *clock
	configs   *configs.Service
	scheduler *schedules.Service
}

func newWorld(t *testing.T, now time.Time, opts ...stacktest.Option) *world {
	t.Helper()
	s := stacktest.New(t, opts...)
	// No demo data: its configuration with a schedule would tick too.
	if _, err := s.Env.Store.PutMember(context.Background(), "000099", stacktest.Admin, auth.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: now}
	cfgs, err := configs.NewService(s.Env.Store, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := schedules.NewService(s.Env.Store, s.Env.Runs, runway.DefaultScheduleConfig, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &world{Stack: s, clock: c, configs: cfgs, scheduler: sched}
}

func (w *world) deploy(t *testing.T, id string, fields map[string]any) configs.Configuration {
	t.Helper()
	def := map[string]any{"configuration_type": "table-to-table", "configuration_id": id, "account": "000099", "environment": "DEV"}
	for k, v := range fields {
		def[k] = v
	}
	cfg, err := w.configs.Deploy(context.Background(), auth.Caller{Email: stacktest.Admin}, def)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pass makes a Scheduler pass at time now.
func (w *world) pass(t *testing.T, now time.Time) schedules.Pass {
	t.Helper()
	w.clock.Set(now)
	p, err := w.scheduler.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// scheduled returns the execution dates of cfg's scheduled runs, oldest
// first, and fails on any other run or on a run with the wrong fields.
func (w *world) scheduled(t *testing.T, cfg configs.Configuration) []string {
	t.Helper()
	found, err := w.Env.Store.QueryRuns(context.Background(), "000099", runs.Query{Kind: cfg.Kind, Environment: cfg.Environment,
		ConfigurationID: cfg.ConfigurationID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, r := range found {
		if r.TriggerType != runs.TriggerSchedule || r.StartedBy != schedules.Scheduled || r.Status != runs.StatusRunning {
			t.Errorf("run %s: trigger %q by %q, %s", r.RunID, r.TriggerType, r.StartedBy, r.Status)
		}
		dates = append(dates, r.ExecutionDate)
	}
	sort.Strings(dates)
	return dates
}

// TestDailyScheduleDeployedAfterItsTime: "0 7 * * *" deployed at 09:00
// does not run until the next day's 07:00 tick, which launches exactly one
// run dated that day.
func TestDailyScheduleDeployedAfterItsTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, day("2026-12-01 09:00"))
	cfg := w.deploy(t, "000099_daily", map[string]any{"schedule_interval": "0 7 * * *", "start_date": "2026, 1, 1"})
	if want := day("2026-12-02 07:00"); !cfg.Ticks.Next.Equal(want) {
		t.Fatalf("next tick %v, want %v", cfg.Ticks.Next, want)
	}
	for _, now := range []string{"2026-12-01 09:00", "2026-12-01 23:59", "2026-12-02 06:59"} {
		if p := w.pass(t, day(now)); p.Launched != 0 {
			t.Fatalf("a pass at %s launched %d runs", now, p.Launched)
		}
	}
	if p := w.pass(t, day("2026-12-02 07:00")); p.Launched != 1 {
		t.Fatalf("the 07:00 pass launched %d runs", p.Launched)
	}
	// The next pass, still in that minute or a bit late, launches nothing.
	w.pass(t, day("2026-12-02 07:00").Add(40*time.Second))
	w.pass(t, day("2026-12-02 07:03"))
	if got := w.scheduled(t, cfg); !cmp.Equal(got, []string{"2026-12-02"}) {
		t.Errorf("scheduled runs dated %v, want one on 2026-12-02", got)
	}
	got, err := w.configs.Get(context.Background(), "000099", cfg.Ref())
	if err != nil || !got.Ticks.Next.Equal(day("2026-12-03 07:00")) || !got.Ticks.Last.Equal(day("2026-12-02 07:00")) {
		t.Errorf("ticks after the launch %+v (%v)", got.Ticks, err)
	}
	// The ETLWorks-style endpoint shows it as the scheduler's.
	var flow struct {
		TriggerType string `json:"triggerType"`
	}
	w.Do(t, http.MethodGet, "/rest/v1/executions/"+cfg.ConfigurationID+"?account=000099", w.Token(t, stacktest.Admin), "").Decode(t, &flow)
	if flow.TriggerType != "flow.execution.scheduler" {
		t.Errorf("the executions endpoint shows a scheduled run as %q", flow.TriggerType)
	}
}

// TestCatchup: with catchup, every tick since start_date is launched,
// oldest first, in batches of at most TicksPerConfiguration a pass;
// without, only the latest.
func TestCatchup(t *testing.T) {
	t.Parallel()
	w := newWorld(t, day("2026-12-01 09:00"))
	catchup := w.deploy(t, "000099_catchup", map[string]any{"schedule_interval": "@daily", "start_date": "2026, 11, 28", "catchup": true})
	latest := w.deploy(t, "000099_latest", map[string]any{"schedule_interval": "@daily", "start_date": "2026, 11, 28"})
	long := w.deploy(t, "000099_long", map[string]any{"schedule_interval": "@daily", "start_date": "2026, 10, 1", "catchup": true})
	w.pass(t, day("2026-12-01 09:00"))
	if got, want := w.scheduled(t, catchup), []string{"2026-11-29", "2026-11-30", "2026-12-01"}; !cmp.Equal(got, want) {
		t.Errorf("catchup: runs dated %v, want %v", got, want)
	}
	if got := w.scheduled(t, latest); len(got) != 0 {
		t.Errorf("no catchup, deployed after the start: runs dated %v, want none until the next tick", got)
	}
	// 61 ticks since October 1st: the first pass launched 10, and each
	// pass 10 more, so that the other configurations get theirs.
	if got := w.scheduled(t, long); len(got) != runway.DefaultScheduleConfig.TicksPerConfiguration || got[0] != "2026-10-02" {
		t.Fatalf("a long catchup's first pass: %d runs from %v", len(got), got)
	}
	for i := 0; i < 10; i++ {
		w.pass(t, day("2026-12-01 09:00"))
	}
	if got := w.scheduled(t, long); len(got) != 61 || got[60] != "2026-12-01" {
		t.Errorf("a long catchup: %d runs, the last %v", len(got), got[len(got)-1])
	}
}

// TestDeactivationStopsTicks: no tick runs while a configuration is
// deactivated or archived; activated again, it resumes from then on, or,
// with catchup, from its last tick. A redeploy never launches a tick
// again.
func TestDeactivationStopsTicks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, day("2026-12-01 00:30"))
	admin := auth.Caller{Email: stacktest.Admin}
	plain := w.deploy(t, "000099_plain", map[string]any{"schedule_interval": "@hourly"})
	catchup := w.deploy(t, "000099_caught", map[string]any{"schedule_interval": "@hourly", "catchup": true, "start_date": "2026, 12, 1"})
	w.pass(t, day("2026-12-01 01:00")) // one run each
	for _, cfg := range []configs.Configuration{plain, catchup} {
		if err := w.configs.SetStatus(ctx, admin, "000099", cfg.Ref(), false, false); err != nil {
			t.Fatal(err)
		}
	}
	w.pass(t, day("2026-12-01 05:00"))
	if n := len(w.scheduled(t, plain)) + len(w.scheduled(t, catchup)); n != 2 {
		t.Fatalf("%d runs after passes while deactivated, want the 2 from before", n)
	}
	w.clock.Set(day("2026-12-01 05:30"))
	for _, cfg := range []configs.Configuration{plain, catchup} {
		if err := w.configs.SetStatus(ctx, admin, "000099", cfg.Ref(), true, false); err != nil {
			t.Fatal(err)
		}
	}
	w.pass(t, day("2026-12-01 05:30"))
	if got := w.scheduled(t, plain); len(got) != 1 {
		t.Errorf("activated again without catchup: %d runs, want none before 06:00", len(got))
	}
	if got := w.scheduled(t, catchup); len(got) != 5 { // 01:00, then 02:00 to 05:00 caught up
		t.Errorf("activated again with catchup: %d runs, want 5", len(got))
	}
	// Redeploying the same schedule keeps its ticks; a changed one starts
	// after the last tick launched, never before it.
	w.deploy(t, "000099_caught", map[string]any{"schedule_interval": "@hourly", "catchup": true, "start_date": "2026, 12, 1", "retries": 1.0})
	w.deploy(t, "000099_caught", map[string]any{"schedule_interval": "30 * * * *", "catchup": true, "start_date": "2026, 11, 1"})
	w.pass(t, day("2026-12-01 05:40"))
	if got := w.scheduled(t, catchup); len(got) != 6 {
		t.Errorf("after redeploys: %d runs, want 6 (05:30 under the new schedule)", len(got))
	}
	// Archived: nothing.
	if err := w.configs.SetStatus(ctx, admin, "000099", plain.Ref(), true, true); err != nil {
		t.Fatal(err)
	}
	w.pass(t, day("2026-12-01 09:00"))
	if got := w.scheduled(t, plain); len(got) != 1 {
		t.Errorf("archived: %d runs, want still 1", len(got))
	}
}

// TestEachTickRunsOnce: 100 trials of two Scheduler passes at the same
// moment over 20 due configurations, with a redeploy of some of them in
// the middle of the tick and a pass that dies halfway, launch exactly one
// run per configuration and tick.
func TestEachTickRunsOnce(t *testing.T) {
	t.Parallel()
	const configurations, trials = 20, 100
	start := day("2026-12-01 00:00")
	w := newWorld(t, start)
	var cfgs []configs.Configuration
	for i := range configurations {
		cfgs = append(cfgs, w.deploy(t, fmt.Sprintf("000099_minutely_%02d", i), map[string]any{"schedule_interval": "* * * * *"}))
	}
	for trial := 1; trial <= trials; trial++ {
		now := start.Add(time.Duration(trial) * time.Minute)
		w.clock.Set(now)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := w.scheduler.Pass(context.Background()); err != nil {
					t.Errorf("trial %d: %v", trial, err)
				}
			})
		}
		if trial%10 == 0 {
			// A redeploy of the same schedule in the middle of the tick.
			wg.Go(func() { w.deploy(t, "000099_minutely_00", map[string]any{"schedule_interval": "* * * * *"}) })
		}
		if trial%25 == 0 {
			// A pass that dies as it starts.
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, _ = w.scheduler.Pass(ctx)
			})
		}
		wg.Wait()
	}
	for _, cfg := range cfgs {
		found, err := w.Env.Store.QueryRuns(context.Background(), "000099", runs.Query{Kind: cfg.Kind, Environment: cfg.Environment,
			ConfigurationID: cfg.ConfigurationID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		ticks := map[string]int{}
		for _, r := range found {
			ticks[r.Key]++
		}
		if len(found) != trials || len(ticks) != trials {
			t.Errorf("%s: %d runs, %d distinct, want %d: one per tick", cfg.ConfigurationID, len(found), len(ticks), trials)
		}
	}
}

// TestCatchupRunsOneAtATime: a catchup's ticks with max_active_runs 1
// start one at a time, oldest first: each waits, unpublished, until the
// one before it finishes.
func TestCatchupRunsOneAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, day("2026-12-01 09:00"))
	cfg := w.deploy(t, "000099_one_at_a_time", map[string]any{"schedule_interval": "@daily", "start_date": "2026, 11, 28",
		"catchup": true, "max_active_runs": 1.0})
	launches := w.Subscribe(t, "runway-launch")
	w.pass(t, day("2026-12-01 09:00"))
	executor := auth.Caller{Email: stacktest.Executor}
	for _, date := range []string{"2026-11-29", "2026-11-30", "2026-12-01"} {
		msgs := stacktest.Receive(t, launches, 1)
		if len(msgs) != 1 {
			t.Fatalf("%d launch messages while %s should be the one run in executors' hands", len(msgs), date)
		}
		found, err := w.Env.Store.QueryRuns(ctx, "000099", runs.Query{Kind: cfg.Kind, Environment: cfg.Environment,
			ConfigurationID: cfg.ConfigurationID, Status: runs.StatusRunning, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var admitted []runs.Run
		for _, r := range found {
			if !r.Queued {
				admitted = append(admitted, r)
			}
		}
		if len(admitted) != 1 || admitted[0].ExecutionDate != date || admitted[0].RunID != msgs[0].Attributes["run_id"] {
			t.Fatalf("admitted %+v, want the run of %s alone, the one published", admitted, date)
		}
		ref := runs.RunRef{Account: "000099", Kind: cfg.Kind, ConfigurationID: cfg.ConfigurationID, RunID: admitted[0].RunID}
		if _, err := w.Env.Runs.ReportStatus(ctx, executor, ref, runs.Report{ExecutorID: "e-" + date, Status: runs.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if msgs := stacktest.Receive(t, launches, 0); len(msgs) != 0 {
		t.Errorf("%d more launch messages after the three ticks", len(msgs))
	}
}

// TestTickTakesItsSlotAsItIsCreated: the run of a daily tick takes its
// slot of max_active_runs in the write that creates it, and is published
// with nothing written after; the next day's run, while the first still
// runs, is created waiting, and is admitted and published when the first
// finishes.
func TestTickTakesItsSlotAsItIsCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	commits := &stacktest.CommitRecorder{}
	w := newWorld(t, day("2026-12-01 09:00"), stacktest.WithFirestoreDialOptions(grpc.WithChainUnaryInterceptor(commits.Intercept)))
	cfg := w.deploy(t, "000099_daily_slot", map[string]any{"schedule_interval": "0 7 * * *", "start_date": "2026, 1, 1"})
	launches := w.Subscribe(t, "runway-launch")
	commits.Take()

	tick := day("2026-12-02 07:00")
	if p := w.pass(t, tick); p.Launched != 1 {
		t.Fatalf("the 07:00 pass launched %d runs", p.Launched)
	}
	if got, want := writtenKinds(commits.Take()), []string{"configuration", "run", "slot"}; !cmp.Equal(got, want) {
		t.Errorf("the pass wrote %v, want %v: one write, with nothing admitted after", got, want)
	}
	first := w.onlyRun(t, cfg, "2026-12-02")
	if first.Queued || first.Slot != 1 || !first.QueuedAt.IsZero() || !first.AdmittedAt.Equal(tick) || first.DeliverBy.IsZero() {
		t.Errorf("the tick's run: queued %v, slot %d, queued_at %v, admitted_at %v, deliver_by %v; want it admitted at its tick, never queued",
			first.Queued, first.Slot, first.QueuedAt, first.AdmittedAt, first.DeliverBy)
	}
	if msgs := stacktest.Receive(t, launches, 1); len(msgs) != 1 || msgs[0].Attributes["run_id"] != first.RunID {
		t.Fatalf("launch messages %v, want one of %s", msgs, first.RunID)
	}

	next := day("2026-12-03 07:00")
	w.pass(t, next)
	if got, want := writtenKinds(commits.Take()), []string{"configuration", "run"}; !cmp.Equal(got, want) {
		t.Errorf("the pass with the slot held wrote %v, want %v", got, want)
	}
	second := w.onlyRun(t, cfg, "2026-12-03")
	if !second.Queued || second.Slot != 0 || !second.QueuedAt.Equal(next) {
		t.Errorf("the next tick's run: queued %v, slot %d, queued_at %v; want it waiting since its tick", second.Queued, second.Slot, second.QueuedAt)
	}
	if msgs := stacktest.Receive(t, launches, 0); len(msgs) != 0 {
		t.Fatalf("%d launch messages while the first run holds the slot", len(msgs))
	}
	ref := runs.RunRef{Account: "000099", Kind: cfg.Kind, ConfigurationID: cfg.ConfigurationID, RunID: first.RunID}
	if _, err := w.Env.Runs.ReportStatus(ctx, auth.Caller{Email: stacktest.Executor}, ref, runs.Report{ExecutorID: "e1", Status: runs.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	if msgs := stacktest.Receive(t, launches, 1); len(msgs) != 1 || msgs[0].Attributes["run_id"] != second.RunID {
		t.Fatalf("launch messages %v after the first run finished, want one of %s", msgs, second.RunID)
	}
}

// onlyRun returns cfg's one run dated date.
func (w *world) onlyRun(t *testing.T, cfg configs.Configuration, date string) runs.Run {
	t.Helper()
	found, err := w.Env.Store.QueryRuns(context.Background(), "000099", runs.Query{Kind: cfg.Kind, Environment: cfg.Environment,
		ConfigurationID: cfg.ConfigurationID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var dated []runs.Run
	for _, r := range found {
		if r.ExecutionDate == date {
			dated = append(dated, r)
		}
	}
	if len(dated) != 1 {
		t.Fatalf("%d runs dated %s, want 1", len(dated), date)
	}
	return dated[0]
}

// writtenKinds names what writes wrote, sorted: a configuration, a run, a
// slot, or the document's path.
func writtenKinds(writes []*firestorepb.Write) []string {
	kinds := map[string]string{"configurations": "configuration", "runs": "run", "slots": "slot"}
	var got []string
	for _, write := range writes {
		name := write.GetUpdate().GetName()
		if name == "" {
			name = write.GetDelete()
		}
		kind, ok := kinds[path.Base(path.Dir(name))]
		if !ok {
			kind = name
		}
		got = append(got, kind)
	}
	sort.Strings(got)
	return got
}
