package referenceexecutor_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/functions/referenceexecutor"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/executor"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// deployJob deploys a table-to-table job whose definition drives the
// reference executor, and returns its stored configuration id.
func deployJob(t *testing.T, s *stacktest.Stack, id string, extra map[string]any) string {
	t.Helper()
	def := map[string]any{"configuration_type": "table-to-table", "configuration_id": id, "account": "000099", "environment": "DEV"}
	for k, v := range extra {
		def[k] = v
	}
	body, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": def})
	var got api.ConfigurationResponse
	s.Post(t, "/v1/configuration", string(body)).Decode(t, &got)
	return got.Configuration.ConfigurationID
}

func launch(t *testing.T, s *stacktest.Stack, configID string) string {
	t.Helper()
	var got api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`"}`).Decode(t, &got)
	return got.RunID
}

func runOf(t *testing.T, s *stacktest.Stack, runID string) runs.Run {
	t.Helper()
	key, _ := runs.RunKey(runID)
	run, err := s.Env.Store.GetRun(context.Background(), "000099", key)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// newHandler returns a reference executor reporting to s, whose work is
// work, for tests that hand it messages themselves.
func newHandler(t *testing.T, s *stacktest.Stack, work func(ctx context.Context, d time.Duration) error) *referenceexecutor.Handler {
	t.Helper()
	client, err := s.Env.ExecutorClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, err := referenceexecutor.New(referenceexecutor.Deps{Client: client, Work: work})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLaunchToSuccess: launch → Pub/Sub → reference executor → reports →
// check_run_status shows SUCCESS, with the duration of the work.
func TestLaunchToSuccess(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	configID := deployJob(t, s, "000099_reference_ok", map[string]any{"sleep_ms": 400, "timeout": "30s"})
	runID := launch(t, s, configID)

	check := `{"action": "check_run_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "` + configID + `", "run_id": "` + runID + `"}`
	var result api.Results
	stacktest.Eventually(t, "the run to succeed", func() bool {
		s.Post(t, "/v1/dag/status", check).Decode(t, &result)
		return result.Results[0].Status == "SUCCESS"
	})
	duration, err := api.ParseDuration(result.Results[0].Duration)
	if err != nil || duration < 400*time.Millisecond || duration > time.Minute {
		t.Errorf("duration %s for 400ms of work", result.Results[0].Duration)
	}

	var history api.RunEventsResponse
	s.Post(t, "/v1/dag/status", `{"action": "get_run_events", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "run_id": "`+runID+`"}`).Decode(t, &history)
	var trail []string
	for _, e := range history.Events {
		trail = append(trail, e.Type+":"+e.By)
	}
	want := []string{"launched:" + stacktest.Admin, "claimed:" + stacktest.Executor, "status:" + stacktest.Executor}
	if len(trail) != len(want) || history.ExecutorID == "" || history.Metrics["work_ms"] == nil || history.Heartbeats < 1 {
		t.Fatalf("history = %v %+v, want %v", trail, history, want)
	}
	for i := range want {
		if trail[i] != want[i] {
			t.Errorf("history[%d] = %s, want %s", i, trail[i], want[i])
		}
	}
}

// TestRetriesUntilSuccess: an executor that fails twice then succeeds,
// under retries 3, makes three runs linked by parent_run_id.
func TestRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	configID := deployJob(t, s, "000099_reference_flaky", map[string]any{"sleep_ms": 50, "fail_attempts": 2, "retries": 3, "retry_delay": "0s"})
	first := launch(t, s, configID)
	ctx := context.Background()

	var chain []runs.Run
	stacktest.Eventually(t, "three attempts, the last a success", func() bool {
		if _, err := s.Env.Runs.Reap(ctx, runs.ReaperConfig{PublishAfter: time.Minute, Lease: time.Minute, Batch: 100}); err != nil {
			t.Fatal(err)
		}
		chain = chain[:0]
		for id := first; id != ""; {
			run := runOf(t, s, id)
			chain = append(chain, run)
			id = run.RetryRunID
		}
		return len(chain) == 3 && chain[2].Status == runs.StatusSuccess
	})
	for i, run := range chain {
		wantStatus := runs.StatusFailed
		if i == 2 {
			wantStatus = runs.StatusSuccess
		}
		if run.Attempt != i+1 || run.Status != wantStatus || (i > 0 && run.ParentRunID != chain[i-1].RunID) {
			t.Errorf("attempt %d: %+v", i+1, run)
		}
		if i > 0 && (run.TriggerType != runs.TriggerRetry || run.ExecutionDate != chain[0].ExecutionDate) {
			t.Errorf("retry %d: trigger %s, execution date %s", i, run.TriggerType, run.ExecutionDate)
		}
	}
	if chain[0].Error == nil || chain[0].Error.Code != "REFERENCE_FAILURE" {
		t.Errorf("first attempt's error = %+v", chain[0].Error)
	}
	// No fourth attempt, however many passes.
	if _, err := s.Env.Runs.Reap(ctx, runs.DefaultReaperConfig); err != nil {
		t.Fatal(err)
	}
	var last api.Results
	s.Post(t, "/v1/dag/status", `{"action": "get_last_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`"}`).Decode(t, &last)
	if len(last.Results) != 3 {
		t.Errorf("%d runs, want 3", len(last.Results))
	}
}

// TestDuplicateDeliveriesExecuteOnce: the same launch message delivered 3
// times, at once: the work is done once and the run ends once.
func TestDuplicateDeliveriesExecuteOnce(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	configID := deployJob(t, s, "000099_reference_dup", map[string]any{"sleep_ms": 200})
	sub := s.Subscribe(t, "runway-launch")
	runID := launch(t, s, configID)
	msgs := stacktest.Receive(t, sub, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d launch messages", len(msgs))
	}

	var works atomic.Int64
	h := newHandler(t, s, func(ctx context.Context, d time.Duration) error {
		works.Add(1)
		time.Sleep(d)
		return nil
	})
	m := bus.Message{ID: msgs[0].ID, Data: msgs[0].Data, Attributes: msgs[0].Attributes}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.Handle(context.Background(), m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := works.Load(); n != 1 {
		t.Errorf("the work was done %d times, want 1", n)
	}
	// A fourth delivery, after the run finished, does nothing either.
	if err := h.Handle(context.Background(), m); err != nil || works.Load() != 1 {
		t.Errorf("a late delivery: %v, %d works", err, works.Load())
	}
	key, _ := runs.RunKey(runID)
	events, err := s.Env.Store.Events(context.Background(), "000099", key, runs.EventPage{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	claims, changes := 0, 0
	for _, e := range events {
		switch e.Type {
		case runs.EventClaimed:
			claims++
		case runs.EventStatus:
			changes++
		}
	}
	if run := runOf(t, s, runID); run.Status != runs.StatusSuccess || claims != 1 || changes != 1 {
		t.Errorf("run %s after 3 deliveries: %d claims, %d status changes", run.Status, claims, changes)
	}
}

// TestSilentExecutorIsTimedOut: an executor that claims a run and goes
// silent gets the run failed by the first Reaper pass after its timeout.
// The passes run on a clock of their own, just before and just after the
// deadline, so that a slow machine cannot make the first one late.
func TestSilentExecutorIsTimedOut(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	configID := deployJob(t, s, "000099_reference_silent", map[string]any{"silent": true, "timeout": "1h"})
	runID := launch(t, s, configID)
	stacktest.Eventually(t, "the executor to claim the run", func() bool { return runOf(t, s, runID).ClaimedBy != "" })
	claimed := runOf(t, s, runID)

	pass, err := reapAt(t, s, claimed.Deadline.Add(-time.Millisecond))
	if err != nil || pass.TimedOut != 0 {
		t.Fatalf("a pass before the timeout: %+v, %v", pass, err)
	}
	pass, err = reapAt(t, s, claimed.Deadline.Add(time.Millisecond))
	if err != nil || pass.TimedOut != 1 {
		t.Fatalf("the first pass after the timeout: %+v, %v", pass, err)
	}
	run := runOf(t, s, runID)
	if run.Status != runs.StatusFailed || run.Error == nil || run.Error.Code != "TIMEOUT" || run.EndDate.IsZero() {
		t.Fatalf("silent run = %s, %+v", run.Status, run.Error)
	}
	// The silent executor's late report cannot revive it.
	report := `{"action": "report_run_status", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "` + configID + `", "run_id": "` + runID + `", "executor_id": "` + run.ClaimedBy + `", "status": "SUCCESS"}`
	s.Do(t, http.MethodPost, "/v1/dag/status", s.Token(t, stacktest.Executor), report).WantError(t, http.StatusConflict)
}

// reapAt makes a Reaper pass on s as if the time were at.
func reapAt(t *testing.T, s *stacktest.Stack, at time.Time) (runs.Pass, error) {
	t.Helper()
	reaper, err := s.Env.RunsWithClock(func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	return reaper.Reap(context.Background(), runs.DefaultReaperConfig)
}

func cancelBody(configID, runID string) string {
	return `{"action": "cancel_run", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "` + configID + `", "run_id": "` + runID + `", "reason": "wrong input file"}`
}

// TestCancelStopsTheExecutor: cancel_run fails the run with error code
// CANCELED, without a retry, and its cancel message stops the reference
// executor's work at once.
func TestCancelStopsTheExecutor(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	configID := deployJob(t, s, "000099_reference_cancel", map[string]any{"sleep_ms": 60_000, "retries": 2})
	runID := launch(t, s, configID)
	stacktest.Eventually(t, "the executor to claim the run", func() bool { return runOf(t, s, runID).ClaimedBy != "" })

	var got api.Results
	s.Post(t, "/v1/dag/status", cancelBody(configID, runID)).Decode(t, &got)
	if got.Results[0].Status != "FAILED" {
		t.Fatalf("cancel_run answered %+v", got)
	}
	// Within Eventually's 30s, half the minute the work would take.
	stacktest.Eventually(t, "the executor to stop", func() bool { return strings.Contains(s.Logs(), `"message":"run stopped"`) })
	run := runOf(t, s, runID)
	if run.Status != runs.StatusFailed || run.Error == nil || run.Error.Code != "CANCELED" || run.Error.Message != "wrong input file" ||
		!run.RetryAt.IsZero() || run.RetryRunID != "" {
		t.Errorf("canceled run = %s, %+v, retry at %v", run.Status, run.Error, run.RetryAt)
	}
	// A canceled run stays canceled: the stopped executor reported nothing,
	// and canceling again changes nothing.
	s.Post(t, "/v1/dag/status", cancelBody(configID, runID)).Decode(t, &got)
	if after := runOf(t, s, runID); !cmp.Equal(after, run) {
		t.Errorf("the run changed after its cancel: %+v", after)
	}
	// A finished run cannot be canceled.
	done := launch(t, s, deployJob(t, s, "000099_reference_quick", map[string]any{"sleep_ms": 0}))
	stacktest.Eventually(t, "the quick run to succeed", func() bool { return runOf(t, s, done).Status == runs.StatusSuccess })
	e := s.Post(t, "/v1/dag/status", cancelBody("000099_reference_quick_DEV", done)).WantError(t, http.StatusConflict)
	if e.CurrentStatus != "SUCCESS" {
		t.Errorf("cancel of a finished run: %+v", e)
	}
}

// TestCancelWithoutTheMessage: an executor the cancel message does not
// reach (it went to another instance) stops at its next heartbeat, which
// Runway refuses.
func TestCancelWithoutTheMessage(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	configID := deployJob(t, s, "000099_reference_cancel_hb", map[string]any{"sleep_ms": 60_000, "timeout": "1500ms"})
	sub := s.Subscribe(t, "runway-launch")
	runID := launch(t, s, configID)
	msgs := stacktest.Receive(t, sub, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d launch messages", len(msgs))
	}
	stopped := make(chan error, 1)
	h := newHandler(t, s, func(ctx context.Context, d time.Duration) error {
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return ctx.Err()
	})
	handled := make(chan error, 1)
	go func() {
		handled <- h.Handle(context.Background(), bus.Message{ID: msgs[0].ID, Data: msgs[0].Data, Attributes: msgs[0].Attributes})
	}()
	stacktest.Eventually(t, "the executor to claim the run", func() bool { return runOf(t, s, runID).ClaimedBy != "" })

	s.Post(t, "/v1/dag/status", cancelBody(configID, runID)).Decode(t, &api.Results{})
	select {
	case cause := <-stopped:
		if !errors.Is(cause, executor.ErrNotYours) {
			t.Errorf("the work stopped because %v, want ErrNotYours", cause)
		}
	case <-time.After(30 * time.Second): // the heartbeat interval is 500ms; the work, a minute
		t.Fatal("the work did not stop")
	}
	if err := <-handled; err != nil {
		t.Errorf("Handle = %v", err)
	}
	if run := runOf(t, s, runID); !run.Canceled() {
		t.Errorf("run = %s, %+v: the stopped executor overwrote the cancel", run.Status, run.Error)
	}
}
