package runway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
)

// TestReferenceWorkflowScenario plays the reference's example of a
// workflow reset (reference/tailer-api-features.md, "Resetting a
// workflow") through the API, with run events going through Pub/Sub to the
// workflow trigger: JA, JB and JC must all succeed for JT to be launched.
func TestReferenceWorkflowScenario(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "WorkflowTrigger") // the test plays the executor

	run := func(name, status string) {
		t.Helper()
		id := "000099_iowa_liquor_" + name + "_DEV"
		var launched api.LaunchResponse
		s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
			"configuration_type": "table-to-table", "configuration_id": "`+id+`"}`).Decode(t, &launched)
		s.Post(t, "/v1/dag/status", `{"action": "set_run_status", "account": "000099", "configuration_type": "table-to-table",
			"configuration_id": "`+id+`", "run_id": "`+launched.RunID+`", "status": "`+status+`"}`).Decode(t, &api.Results{})
	}
	workflow := func() api.WorkflowStatus {
		t.Helper()
		var got api.WorkflowStatusResponse
		s.Post(t, "/v1/workflow/status", `{"action": "get_workflow_status", "account": "000099", "environment": "DEV",
			"configuration_type": "workflow", "configuration_id": "000099-iowa-liquor-load-pda"}`).Decode(t, &got)
		return got.Workflow
	}
	met := func(w api.WorkflowStatus) string {
		var names []string
		for _, c := range w.Criteria {
			if c.Met {
				names = append(names, strings.TrimSuffix(strings.TrimPrefix(c.JobID, "gbq-to-gbq|000099_iowa_liquor_"), "_DEV"))
			}
		}
		return strings.Join(names, ",")
	}
	// waitFor waits until the workflow's gate shows what the events sent so
	// far must make of it: events travel through Pub/Sub.
	waitFor := func(cycle int, wantMet string) api.WorkflowStatus {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			w := workflow()
			if w.Cycle == cycle && met(w) == wantMet {
				return w
			}
			if time.Now().After(deadline) {
				t.Fatalf("the workflow is in cycle %d with %q met; want cycle %d with %q met", w.Cycle, met(w), cycle, wantMet)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	launchesOfJT := func() int {
		t.Helper()
		var got api.Results
		s.Post(t, "/v1/dag/status", `{"action": "get_last_status", "account": "000099", "environment": "DEV",
			"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_JT_DEV", "limit": 100}`).Decode(t, &got)
		return len(got.Results)
	}
	start := workflow().Cycle

	// JA and JB succeed, JC fails: JT is not launched.
	run("JA", "SUCCESS")
	run("JB", "SUCCESS")
	run("JC", "FAILED")
	waitFor(start, "JA,JB")
	if n := launchesOfJT(); n != 0 {
		t.Fatalf("JT launched %d times with JC failed", n)
	}

	// JC is fixed and relaunched: it succeeds, and JT is launched, once.
	run("JC", "SUCCESS")
	w := waitFor(start+1, "")
	if n := launchesOfJT(); n != 1 {
		t.Fatalf("JT launched %d times, want 1", n)
	}
	if w.LastFired == nil || w.LastFired.TargetRunID == "" || len(w.LastFired.TriggerRunIDs) != 3 {
		t.Fatalf("last fired = %+v", w.LastFired)
	}

	// The next morning JC runs again: JC(1), JA(0), JB(0); JT is not launched.
	run("JC", "SUCCESS")
	waitFor(start+1, "JC")
	if n := launchesOfJT(); n != 1 {
		t.Fatalf("JT launched %d times after JC ran again, want 1", n)
	}

	// The unbalanced state is reset; JA, JB and JC succeed: JT is launched once.
	var reset map[string]any
	s.Post(t, "/v1/workflow/status", `{"action": "reset_workflow_status", "account": "000099", "environment": "DEV",
		"configuration_type": "workflow", "configuration_id": "000099-iowa-liquor-load-pda"}`).Decode(t, &reset)
	if b, _ := json.Marshal(reset); string(b) != `{"code":200,"data":{},"message":"ok"}` {
		t.Errorf("reset answered %s", b)
	}
	if w := waitFor(start+2, ""); w.LastResetBy != stacktest.Admin {
		t.Errorf("last reset by %q", w.LastResetBy)
	}
	run("JA", "SUCCESS")
	run("JB", "SUCCESS")
	run("JC", "SUCCESS")
	waitFor(start+3, "")
	if n := launchesOfJT(); n != 2 {
		t.Fatalf("JT launched %d times in all, want 2", n)
	}
	// JT's run records the workflow and the runs that met its criteria.
	last := workflow().LastFired
	key, _ := runs.RunKey(last.TargetRunID)
	jt, err := s.Env.Store.GetRun(context.Background(), "000099", key)
	if err != nil || jt.TriggerType != runs.TriggerWorkflow || strings.Join(jt.TriggerRunIDs, ",") != strings.Join(last.TriggerRunIDs, ",") {
		t.Errorf("JT's run = %+v, %v", jt, err)
	}
}
