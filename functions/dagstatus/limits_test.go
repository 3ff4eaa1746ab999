package dagstatus_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/stacktest"
)

func member(t *testing.T, s *stacktest.Stack, email string, role auth.Role) string {
	t.Helper()
	if _, err := s.Env.Store.PutMember(context.Background(), "000099", email, role, "test"); err != nil {
		t.Fatal(err)
	}
	return s.Token(t, email)
}

func waitBody(runID string) string {
	return checkBody("table-to-table", ttt, runID, `, "wait_seconds": 60`)
}

// TestWaitsAreCapped: long waits are capped per caller and per instance,
// past which a 429 with Retry-After answers at once; executors' reports
// still get through while the instance's waits are all held, and end
// them.
func TestWaitsAreCapped(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, stacktest.WithConfig("RUNWAY_MAX_WAITS", "2"), stacktest.WithConfig("RUNWAY_MAX_WAITS_PER_CALLER", "1"))
	s.Seed(t)
	viewer, other := member(t, s, "viewer@example.com", auth.RoleViewer), member(t, s, "other@example.com", auth.RoleViewer)
	runID := launchRun(t, s)

	type answer struct {
		resp stacktest.Response
	}
	waiting := make(chan answer, 2)
	wait := func(token string) {
		go func() { waiting <- answer{s.Do(t, http.MethodPost, statusPath, token, waitBody(runID))} }()
	}
	held := func(n int) func() bool { return func() bool { return s.Env.Limits.Waits.Held() == n } }

	wait(viewer)
	stacktest.Eventually(t, "the first wait to be held", held(1))
	resp := s.Do(t, http.MethodPost, statusPath, viewer, waitBody(runID))
	resp.WantError(t, http.StatusTooManyRequests)
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// Without wait_seconds, the same caller is answered as usual.
	if r := results(t, s, checkBody("table-to-table", ttt, runID, "")); r[0].Status != "RUNNING" {
		t.Fatalf("check_run_status = %+v", r)
	}

	wait(s.Token(t, stacktest.Admin))
	stacktest.Eventually(t, "the second wait to be held", held(2))
	s.Do(t, http.MethodPost, statusPath, other, waitBody(runID)).WantError(t, http.StatusTooManyRequests)

	// The instance's waits are all held: the executor's reports get in,
	// and the final one ends the waits.
	executor := s.Token(t, stacktest.Executor)
	s.Do(t, http.MethodPost, statusPath, executor, reportBody(runID, "exec-1", "RUNNING", "")).Decode(t, &api.Results{})
	s.Do(t, http.MethodPost, statusPath, executor, reportBody(runID, "exec-1", "SUCCESS", "")).Decode(t, &api.Results{})
	for range 2 {
		var got api.Results
		(<-waiting).resp.Decode(t, &got)
		if got.Results[0].Status != "SUCCESS" {
			t.Errorf("a wait answered %+v", got)
		}
	}
	stacktest.Eventually(t, "the waits to be released", held(0))
}

// TestEveryActionIsRateLimited: past the shared rate, every action of a
// caller gets 429, the ETLWorks-style endpoint too; other callers and an
// executor's reports, which have a rate of their own, are not affected.
func TestEveryActionIsRateLimited(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, stacktest.WithConfig("RUNWAY_RATE_LIMIT", "2/h"), stacktest.WithConfig("RUNWAY_REPORT_RATE_LIMIT", "100/h"))
	s.Seed(t)
	runID := launchRun(t, s)
	executor := s.Token(t, stacktest.Executor)
	lastStatus := `{"action": "get_last_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "` + ttt + `"}`
	for range 2 {
		s.Do(t, http.MethodPost, statusPath, executor, lastStatus).Decode(t, &api.Results{})
	}
	for name, do := range map[string]func() stacktest.Response{
		"check_run_status": func() stacktest.Response {
			return s.Do(t, http.MethodPost, statusPath, executor, checkBody("table-to-table", ttt, runID, ""))
		},
		"get_run_events": func() stacktest.Response { return s.Do(t, http.MethodPost, statusPath, executor, eventsBody(runID)) },
		"list_configurations": func() stacktest.Response {
			return s.Do(t, http.MethodPost, "/v1/configuration", executor, `{"action": "list_configurations", "account": "000099"}`)
		},
		"get_flow_status": func() stacktest.Response {
			return s.Do(t, http.MethodGet, "/rest/v1/executions/"+ttt+"?account=000099", executor, "")
		},
	} {
		t.Run(name, func(t *testing.T) { do().WantError(t, http.StatusTooManyRequests) })
	}
	// Reports have a budget of their own, and other callers their own
	// buckets.
	s.Do(t, http.MethodPost, statusPath, executor, reportBody(runID, "exec-1", "SUCCESS", "")).Decode(t, &api.Results{})
	s.Post(t, statusPath, lastStatus).Decode(t, &api.Results{})
}
