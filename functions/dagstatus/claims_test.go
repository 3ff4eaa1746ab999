package dagstatus_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/stacktest"
)

// TestClaimsAreBoundToTheCaller: once an executor has claimed a run, the
// executor_id it shows in get_run_events does not let another executer
// report in its name: reports and heartbeats from anyone else are
// refused with 403 and change nothing. A person still sets the status
// with set_run_status, which records who did.
func TestClaimsAreBoundToTheCaller(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	const other = "other-executer@example.com"
	if _, err := s.Env.Store.PutMember(context.Background(), "000099", other, auth.RoleExecuter, "test"); err != nil {
		t.Fatal(err)
	}
	executor, intruder := s.Token(t, stacktest.Executor), s.Token(t, other)
	runID := launchRun(t, s)
	s.Do(t, http.MethodPost, statusPath, executor, reportBody(runID, "exec-1", "RUNNING", "")).Decode(t, &api.Results{})

	var history api.RunEventsResponse
	s.Post(t, statusPath, eventsBody(runID)).Decode(t, &history)
	stolen := history.ExecutorID
	if stolen != "exec-1" {
		t.Fatalf("get_run_events shows executor %q", stolen)
	}
	for name, body := range map[string]string{
		"a heartbeat":             reportBody(runID, stolen, "RUNNING", ""),
		"a final report":          reportBody(runID, stolen, "SUCCESS", `, "metrics": {"rows": 1000000}`),
		"a claim with another id": reportBody(runID, "exec-2", "FAILED", `, "error": {"message": "made up"}`),
	} {
		t.Run(name, func(t *testing.T) {
			e := s.Do(t, http.MethodPost, statusPath, intruder, body).WantError(t, http.StatusForbidden)
			if !strings.Contains(e.Message, stacktest.Executor) || !strings.Contains(e.Message, "set_run_status") {
				t.Errorf("403 message %q does not say who claimed the run and what a person does instead", e.Message)
			}
		})
	}
	var after api.RunEventsResponse
	s.Post(t, statusPath, eventsBody(runID)).Decode(t, &after)
	if after.Status != "RUNNING" || after.Heartbeats != 1 || after.Metrics != nil || len(after.Events) != len(history.Events) {
		t.Errorf("the refused reports changed the run: %+v", after)
	}

	// The claimer reports on; a person acts with set_run_status, recorded
	// under their name.
	s.Do(t, http.MethodPost, statusPath, executor, reportBody(runID, "exec-1", "FAILED", `, "error": {"message": "table not found"}`)).Decode(t, &api.Results{})
	s.Do(t, http.MethodPost, statusPath, intruder, setBody(runID, "CHECKED", "")).Decode(t, &api.Results{})
	s.Post(t, statusPath, eventsBody(runID)).Decode(t, &after)
	if last := after.Events[len(after.Events)-1]; last.By != other || last.To != "CHECKED" {
		t.Errorf("the person's change was recorded as %+v", last)
	}
}

func eventsBody(runID string) string {
	return `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "` + ttt + `", "run_id": "` + runID + `"}`
}

// TestMetricsFirestoreCannotHoldAsMaps: an executor's metrics nested deeper
// than Firestore maps go, with arrays in arrays or reserved keys, are
// recorded and read back exactly (they were a 500).
func TestMetricsFirestoreCannotHoldAsMaps(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	var deep any = 1.0
	for range 25 {
		deep = map[string]any{"level": deep}
	}
	metrics := map[string]any{"deep": deep, "matrix": []any{[]any{1.0}, []any{}}, "": "empty key", "__name__": "reserved"}
	text, err := json.Marshal(metrics)
	if err != nil {
		t.Fatal(err)
	}
	runID := launchRun(t, s)
	s.Do(t, http.MethodPost, statusPath, s.Token(t, stacktest.Executor),
		reportBody(runID, "exec-1", "SUCCESS", `, "metrics": `+string(text))).Decode(t, &api.Results{})
	var history api.RunEventsResponse
	s.Post(t, statusPath, eventsBody(runID)).Decode(t, &history)
	if diff := cmp.Diff(metrics, history.Metrics); diff != "" {
		t.Errorf("metrics read back (-reported +read):\n%s", diff)
	}
}
