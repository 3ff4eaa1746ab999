package workflowtrigger_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runwaydata/runway/functions/workflowtrigger"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	workflow = configs.ConfigRef{Environment: "DEV", Kind: configs.KindWorkflow, ConfigurationID: "000099-iowa-liquor-load-pda"}
	target   = configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: "000099_iowa_liquor_JT_DEV"}
)

func job(name string) string { return "gbq-to-gbq|000099_iowa_liquor_" + name + "_DEV" }

// success is the run event of a success of job name.
func success(name string, at time.Time) bus.Message {
	ev := message.RunEvent{EventID: runs.RandomKey(), Account: "000099", Environment: "DEV", ConfigurationType: "table-to-table",
		ConfigurationID: "000099_iowa_liquor_" + name + "_DEV", JobID: job(name), RunID: runs.NewRunID(at, runs.RandomKey()),
		Status: runs.StatusSuccess, PreviousStatus: runs.StatusRunning, At: at, By: "executor@example.com"}
	data, _ := json.Marshal(ev)
	return bus.Message{ID: ev.EventID, Data: data, Attributes: map[string]string{message.AttrStatus: "SUCCESS"}}
}

func newTrigger(t *testing.T) (*stacktest.Stack, *workflowtrigger.Handler) {
	t.Helper()
	s := stacktest.New(t)
	s.Seed(t)
	h, err := workflowtrigger.New(s.Env.Workflows)
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

func targetRuns(t *testing.T, s *stacktest.Stack) []runs.Run {
	t.Helper()
	found, err := s.Env.Store.QueryRuns(context.Background(), "000099", runs.Query{Kind: target.Kind, Environment: "DEV", ConfigurationID: target.ConfigurationID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestConcurrentCompletionsLaunchExactlyOnce is acceptance check 2 of the
// workflows issue: in 100 trials, the last two criteria complete at the
// same moment and each event is delivered twice; every trial launches the
// target exactly once.
func TestConcurrentCompletionsLaunchExactlyOnce(t *testing.T) {
	s, h := newTrigger(t)
	ctx := context.Background()
	const trials = 100
	base := time.Now().UTC()
	for trial := range trials {
		at := base.Add(time.Duration(trial) * time.Second)
		if err := h.Handle(ctx, success("JA", at.Add(100*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
		jb, jc := success("JB", at.Add(200*time.Millisecond)), success("JC", at.Add(300*time.Millisecond))
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for _, m := range []bus.Message{jb, jc, jb, jc} {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- h.Handle(ctx, m) }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
		}
		if n := len(targetRuns(t, s)); n != trial+1 {
			t.Fatalf("trial %d: %d target runs in all, want %d", trial, n, trial+1)
		}
	}
	_, st, err := s.Env.Workflows.Status(ctx, "000099", workflow)
	if err != nil {
		t.Fatal(err)
	}
	if st.Cycle != trials+1 || len(st.Met) != 0 {
		t.Errorf("after %d trials the workflow is in cycle %d with %v met; want cycle %d, nothing met", trials, st.Cycle, st.Met, trials+1)
	}
	for _, r := range targetRuns(t, s) {
		if r.TriggerType != runs.TriggerWorkflow || r.StartedBy != "workflow:"+workflow.ConfigurationID || len(r.TriggerRunIDs) != 3 {
			t.Fatalf("target run %+v", r)
		}
	}
}

func TestOldDuplicateAndMalformedEvents(t *testing.T) {
	t.Parallel()
	s, h := newTrigger(t)
	ctx := context.Background()
	now := time.Now().UTC()
	ja, jb, jc := success("JA", now.Add(time.Second)), success("JB", now.Add(2*time.Second)), success("JC", now.Add(3*time.Second))
	for _, m := range []bus.Message{ja, ja, jb, jc} {
		if err := h.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(targetRuns(t, s)); n != 1 {
		t.Fatalf("%d target runs, want 1", n)
	}
	// The events of the fired cycle, delivered again: nothing counts.
	for _, m := range []bus.Message{ja, jb, jc, jc} {
		if err := h.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	_, st, _ := s.Env.Workflows.Status(ctx, "000099", workflow)
	if n := len(targetRuns(t, s)); n != 1 || len(st.Met) != 0 {
		t.Fatalf("after redeliveries: %d target runs, met %v", n, st.Met)
	}
	// A success from before the workflow's current cycle does not count.
	if err := h.Handle(ctx, success("JA", now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	// Failures and undecodable messages are dropped without error.
	failed := success("JB", now.Add(time.Hour))
	failed.Attributes[message.AttrStatus] = "FAILED"
	for _, m := range []bus.Message{failed, {ID: "x", Data: []byte("not json")}, {ID: "y", Data: []byte(`{"account":"000099"}`)}} {
		if err := h.Handle(ctx, m); err != nil {
			t.Errorf("message %s: %v", m.ID, err)
		}
	}
	if _, st, _ := s.Env.Workflows.Status(ctx, "000099", workflow); len(st.Met) != 0 {
		t.Errorf("met after old, failed and malformed events: %v", st.Met)
	}
}

func TestDeactivatedWorkflowsAndTargets(t *testing.T) {
	t.Parallel()
	s, h := newTrigger(t)
	ctx := context.Background()
	admin := auth.Caller{Email: stacktest.Admin}
	now := time.Now().UTC()
	complete := func(offset time.Duration) {
		for i, name := range []string{"JA", "JB", "JC"} {
			if err := h.Handle(ctx, success(name, now.Add(offset+time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A deactivated workflow counts nothing and launches nothing.
	if err := s.Env.Configs.SetStatus(ctx, admin, "000099", workflow, false, false); err != nil {
		t.Fatal(err)
	}
	complete(time.Second)
	if _, st, _ := s.Env.Workflows.Status(ctx, "000099", workflow); len(st.Met) != 0 || len(targetRuns(t, s)) != 0 {
		t.Fatalf("a deactivated workflow counted %v", st.Met)
	}

	// An active workflow whose target is deactivated ends its cycle
	// without launching, and says why.
	if err := s.Env.Configs.SetStatus(ctx, admin, "000099", workflow, true, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Env.Configs.SetStatus(ctx, admin, "000099", target, false, false); err != nil {
		t.Fatal(err)
	}
	complete(2 * time.Second)
	_, st, _ := s.Env.Workflows.Status(ctx, "000099", workflow)
	if len(targetRuns(t, s)) != 0 || st.LastFired == nil || st.LastFired.TargetRunID != "" ||
		!strings.Contains(st.LastFired.Skipped, "000099_iowa_liquor_JT_DEV is deactivated") {
		t.Fatalf("with the target deactivated: last fired %+v", st.LastFired)
	}
}
