package daglaunch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	launchPath = "/v1/dag/launch"
	configID   = "000099_iowa_liquor_prepare_pda_DEV"
)

var runIDPattern = regexp.MustCompile(`^\d{8}-\d{6}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// launchBody is the reference's launch_job example, with extra fields.
func launchBody(extra string) string {
	return `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "` + configID + `"` + extra + `}`
}

func launch(t *testing.T, s *stacktest.Stack, token, body string) string {
	t.Helper()
	var got api.LaunchResponse
	s.Do(t, http.MethodPost, launchPath, token, body).Decode(t, &got)
	if !runIDPattern.MatchString(got.RunID) {
		t.Fatalf("run_id %q is not YYYYMMDD-HHMMSS-<uuid4>", got.RunID)
	}
	return got.RunID
}

func getRun(t *testing.T, s *stacktest.Stack, runID string) runs.Run {
	t.Helper()
	key, _ := runs.RunKey(runID)
	run, err := s.Env.Store.GetRun(context.Background(), "000099", key)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestLaunchCreatesARunAndPublishesIt(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	data := s.Seed(t)
	sub := s.Subscribe(t, "runway-launch")
	before := time.Now().UTC()

	runID := launch(t, s, s.Token(t, stacktest.Admin), launchBody(""))

	run := getRun(t, s, runID)
	if run.Status != runs.StatusRunning || run.JobID != "gbq-to-gbq|"+configID || run.StartedBy != stacktest.Admin ||
		run.TriggerType != runs.TriggerAPI || run.Attempt != 1 || run.ConfigurationType != "table-to-table" {
		t.Errorf("run = %+v", run)
	}
	if run.ExecutionDate != before.Format(time.DateOnly) && run.ExecutionDate != time.Now().UTC().Format(time.DateOnly) {
		t.Errorf("execution_date = %s, want the launch day", run.ExecutionDate)
	}
	// Published, and awaiting its executor's claim: nothing written after
	// the publish.
	if !run.PublishedAt.IsZero() || run.Deliveries != 1 || run.DeliveryDue().Sub(run.AdmittedAt) != runs.DefaultRedeliverAfter {
		t.Errorf("the run's delivery: published at %v, %d deliveries, due again at %v", run.PublishedAt, run.Deliveries, run.DeliveryDue())
	}

	msgs := stacktest.Receive(t, sub, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d launch messages, want 1", len(msgs))
	}
	var msg message.Launch
	if err := json.Unmarshal(msgs[0].Data, &msg); err != nil {
		t.Fatal(err)
	}
	var definition map[string]any
	for _, c := range data.Configurations {
		if c.ConfigurationID == configID {
			definition = c.Definition
		}
	}
	want := message.Launch{MessageType: "launch", RunID: runID, Account: "000099", Environment: "DEV", ConfigurationType: "table-to-table",
		ConfigurationID: configID, JobID: "gbq-to-gbq|" + configID, ExecutionDate: run.ExecutionDate, Attempt: 1, Definition: definition}
	if diff := cmp.Diff(want, msg); diff != "" {
		t.Errorf("launch message (-want +got):\n%s", diff)
	}
	wantAttrs := map[string]string{"account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "run_id": runID, "attempt": "1", "message_type": "launch"}
	if diff := cmp.Diff(wantAttrs, msgs[0].Attributes); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}

func TestLaunchV1Form(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	token := s.Token(t, stacktest.Admin)
	runID := launch(t, s, token, launchBody(`, "job_id": "gbq-to-gbq|`+configID+`", "execution_date": "2020-11-09"`))
	if run := getRun(t, s, runID); run.ExecutionDate != "2020-11-09" {
		t.Errorf("execution_date = %s, want 2020-11-09", run.ExecutionDate)
	}
	// gbq-to-gbq is the v1 name of table-to-table, and is kept on the run.
	runID = launch(t, s, token, strings.Replace(launchBody(""), `"table-to-table"`, `"gbq-to-gbq"`, 1))
	if run := getRun(t, s, runID); run.ConfigurationType != "gbq-to-gbq" || run.Kind != configs.KindTableToTable {
		t.Errorf("v1 launch stored as %q/%q", run.ConfigurationType, run.Kind)
	}
}

func TestRefusedLaunchesWriteAndPublishNothing(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	st := s.Env.Store
	for email, role := range map[string]auth.Role{"viewer@example.com": auth.RoleViewer, "executer@example.com": auth.RoleExecuter} {
		if _, err := st.PutMember(ctx, "000099", email, role, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for id, state := range map[string][2]bool{"inactive_DEV": {false, false}, "archived_DEV": {true, true}} {
		if err := st.PutConfiguration(ctx, configs.Configuration{Account: "000099", Environment: "DEV", ConfigurationType: "table-to-table",
			Kind: configs.KindTableToTable, ConfigurationID: id, JobID: "gbq-to-gbq|" + id, Activated: state[0], Archived: state[1]}); err != nil {
			t.Fatal(err)
		}
	}
	sub := s.Subscribe(t, "runway-launch")
	admin := s.Token(t, stacktest.Admin)
	for _, account := range []string{"000099", "000110"} {
		if _, err := st.PutMember(ctx, account, "mallory@example.com", auth.RoleNone, "test"); err != nil {
			t.Fatal(err)
		}
	}
	before := s.RunCount(t, "000099")

	withID := func(id string) string { return strings.Replace(launchBody(""), configID, id, 1) }
	tests := []struct {
		name        string
		method      string
		token       string
		contentType string
		body        string
		status      int
		fields      []string
	}{
		{name: "unknown configuration", body: withID("missing_DEV"), status: 404},
		{name: "other environment", body: strings.Replace(launchBody(""), `"DEV"`, `"PROD"`, 1), status: 404},
		{name: "other type", body: strings.Replace(launchBody(""), `"table-to-table"`, `"table-to-storage"`, 1), status: 404},
		{name: "deactivated", body: withID("inactive_DEV"), status: 409},
		{name: "archived", body: withID("archived_DEV"), status: 409},
		{name: "job_id of another job", body: launchBody(`, "job_id": "gbq-to-gbq|other_DEV"`), status: 400, fields: []string{"job_id"}},
		{name: "viewer", token: s.Token(t, "viewer@example.com"), body: launchBody(""), status: 403},
		{name: "not a member", token: s.Token(t, "stranger@example.com"), body: launchBody(""), status: 403},
		{name: "member without a role", token: s.Token(t, "mallory@example.com"), body: launchBody(""), status: 403},
		{name: "no token", token: "-", body: launchBody(""), status: 401},
		{name: "invalid token", token: "not-a-jwt", body: launchBody(""), status: 401},
		{name: "wrong method", method: http.MethodGet, status: 405},
		{name: "wrong content type", contentType: "text/plain", body: launchBody(""), status: 415},
		{name: "body too large", body: launchBody(`, "job_id": "` + strings.Repeat("x", api.MaxBodyBytes) + `"`), status: 413},
		{name: "malformed JSON", body: `{"action": "launch_job", "account": "000099",}`, status: 400},
		{name: "not an object", body: `[` + launchBody("") + `]`, status: 400},
		{name: "unknown action", body: strings.Replace(launchBody(""), "launch_job", "launch_jobs", 1), status: 400, fields: []string{"action"}},
		{name: "status action on the launch path", body: strings.Replace(launchBody(""), "launch_job", "check_run_status", 1), status: 400, fields: []string{"action"}},
		{name: "unknown field", body: launchBody(`, "priority": 1`), status: 400, fields: []string{"priority"}},
		{name: "wrong type", body: launchBody(`, "execution_date": 20201109`), status: 400, fields: []string{"execution_date"}},
		{name: "missing fields", body: `{"action": "launch_job", "account": "000099"}`, status: 400, fields: []string{"configuration_id", "configuration_type", "environment"}},
		{name: "bad date", body: launchBody(`, "execution_date": "2020-11-31"`), status: 400, fields: []string{"execution_date"}},
		{name: "unknown type", body: strings.Replace(launchBody(""), `"table-to-table"`, `"tables"`, 1), status: 400, fields: []string{"configuration_type"}},
		{name: "parameters not an object", body: launchBody(`, "parameters": ["a"]`), status: 400, fields: []string{"parameters"}},
		{name: "parameters a string", body: launchBody(`, "parameters": "a=1"`), status: 400, fields: []string{"parameters"}},
		{name: "parameters too large", body: launchBody(`, "parameters": {"x": "` + strings.Repeat("x", api.MaxParametersBytes) + `"}`), status: 400, fields: []string{"parameters"}},
		{name: "callback_url without callback settings", body: launchBody(`, "callback_url": "https://hooks.example.com/runway"`), status: 400, fields: []string{"callback_url"}},
		{name: "callback_url not absolute", body: launchBody(`, "callback_url": "/runway"`), status: 400, fields: []string{"callback_url"}},
		{name: "callback_url with credentials", body: launchBody(`, "callback_url": "https://u:p@hooks.example.com/"`), status: 400, fields: []string{"callback_url"}},
		{name: "dry_run not a boolean", body: launchBody(`, "dry_run": "yes"`), status: 400, fields: []string{"dry_run"}},
		{name: "dry run of a deactivated configuration", body: strings.Replace(withID("inactive_DEV"), `"DEV"`, `"DEV", "dry_run": true`, 1), status: 409},
		{name: "dry run by a viewer", token: s.Token(t, "viewer@example.com"), body: launchBody(`, "dry_run": true`), status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, s.Server.URL+launchPath, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			switch tt.token {
			case "":
				req.Header.Set("Authorization", "Bearer "+admin)
			case "-":
			default:
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			s.Send(t, req).WantError(t, tt.status, tt.fields...)
		})
	}
	if after := s.RunCount(t, "000099"); after != before {
		t.Errorf("refused launches created %d runs", after-before)
	}
	if msgs := stacktest.Receive(t, sub, 0); len(msgs) != 0 {
		t.Errorf("refused launches published %d messages", len(msgs))
	}
}

func TestLaunchParameters(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	sub := s.Subscribe(t, "runway-launch")
	token := s.Token(t, stacktest.Admin)
	// Kept as written, compacted: big integers stay exact, any key is fine.
	const params = `{"table": "sales_2020", "rows": 12345678901234567890, "": [1, {"__x__": null}]}`
	const compact = `{"table":"sales_2020","rows":12345678901234567890,"":[1,{"__x__":null}]}`
	runID := launch(t, s, token, launchBody(`, "idempotency_key": "with-params", "parameters": `+params))

	if got := string(getRun(t, s, runID).Parameters); got != compact {
		t.Errorf("stored parameters %s, want %s", got, compact)
	}
	msgs := stacktest.Receive(t, sub, 1)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), `"parameters":`+compact) {
		t.Fatalf("launch messages %v do not carry the parameters", msgs)
	}
	var status api.Results
	s.Post(t, "/v1/dag/status", `{"action": "check_run_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "run_id": "`+runID+`"}`).Decode(t, &status)
	if got := string(status.Results[0].Parameters); got != compact {
		t.Errorf("check_run_status shows parameters %s, want %s", got, compact)
	}

	// The parameters are part of what an idempotency key stands for.
	if again := launch(t, s, token, launchBody(`, "idempotency_key": "with-params", "parameters": `+compact)); again != runID {
		t.Errorf("a replay with the same parameters returned %s, want %s", again, runID)
	}
	s.Post(t, launchPath, launchBody(`, "idempotency_key": "with-params", "parameters": {"table": "sales_2021"}`)).
		WantError(t, http.StatusConflict, "idempotency_key")
	// null is no parameters.
	if got := getRun(t, s, launch(t, s, token, launchBody(`, "parameters": null`))).Parameters; got != nil {
		t.Errorf("parameters null stored as %s", got)
	}
}

// TestDryRunLaunchWritesNothing: a dry run checks what a launch checks and
// answers with the launch message, and no document or message is written.
func TestDryRunLaunchWritesNothing(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	sub := s.Subscribe(t, "runway-launch")
	token := s.Token(t, stacktest.Admin)
	used := launch(t, s, token, launchBody(`, "idempotency_key": "used"`))
	stacktest.Receive(t, sub, 1)
	before := s.Snapshot(t, "000099")

	var got api.LaunchResponse
	s.Post(t, launchPath, launchBody(`, "dry_run": true, "execution_date": "2020-11-09", "parameters": {"day": "2020-11-09"}`)).Decode(t, &got)
	msg := got.Launch
	if !got.DryRun || got.RunID != "" || msg == nil {
		t.Fatalf("dry run answered %+v", got)
	}
	if msg.RunID != "" || msg.JobID != "gbq-to-gbq|"+configID || msg.ExecutionDate != "2020-11-09" || msg.Attempt != 1 ||
		string(msg.Parameters) != `{"day":"2020-11-09"}` || msg.Definition["default_bq_dataset"] != "iowa_liquor_pda" {
		t.Errorf("dry run would launch %+v", msg)
	}
	// A dry run with a used key would be a replay of its run.
	got = api.LaunchResponse{}
	s.Post(t, launchPath, launchBody(`, "dry_run": true, "idempotency_key": "used"`)).Decode(t, &got)
	if !got.DryRun || got.RunID != used || got.Launch != nil {
		t.Errorf("dry run with a used key answered %+v, want run %s", got, used)
	}
	s.Post(t, launchPath, launchBody(`, "dry_run": true, "idempotency_key": "used", "execution_date": "2020-01-01"`)).
		WantError(t, http.StatusConflict, "idempotency_key")

	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Errorf("dry runs changed documents (-before +after):\n%s", diff)
	}
	if msgs := stacktest.Receive(t, sub, 0); len(msgs) != 0 {
		t.Errorf("dry runs published %d messages", len(msgs))
	}
}

func TestIdempotentLaunch(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	sub := s.Subscribe(t, "runway-launch")
	token := s.Token(t, stacktest.Admin)
	before := s.RunCount(t, "000099")

	first := launch(t, s, token, launchBody(`, "idempotency_key": "nightly-2020-12-30"`))
	replay := launch(t, s, token, launchBody(`, "idempotency_key": "nightly-2020-12-30"`))
	if replay != first {
		t.Errorf("replay returned %s, first launch %s", replay, first)
	}
	other := launch(t, s, token, launchBody(`, "idempotency_key": "nightly-2020-12-31"`))
	if other == first {
		t.Error("another key returned the same run")
	}
	resp := s.Do(t, http.MethodPost, launchPath, token, launchBody(`, "idempotency_key": "nightly-2020-12-30", "execution_date": "2020-12-29"`))
	e := resp.WantError(t, http.StatusConflict, "idempotency_key")
	if !strings.Contains(e.Message, first) {
		t.Errorf("conflict message %q does not name the first run", e.Message)
	}
	if n := s.RunCount(t, "000099") - before; n != 2 {
		t.Errorf("%d runs created, want 2", n)
	}
	// The demo job runs one at a time (max_active_runs 1): the other run
	// waits, unpublished, for the first to finish.
	if msgs := stacktest.Receive(t, sub, 1); len(msgs) != 1 || msgs[0].Attributes["run_id"] != first {
		t.Errorf("%d launch messages, want 1, of the first run", len(msgs))
	}
	var waiting api.Results
	s.Post(t, "/v1/dag/status", `{"action": "check_run_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV", "run_id": "`+other+`"}`).Decode(t, &waiting)
	if r := waiting.Results[0]; r.Status != "RUNNING" || r.QueuedAt == "" {
		t.Errorf("the second run: %+v, want RUNNING and queued", r)
	}
}

// TestReplayAfterTheConfigurationChanged: a replay answers with the first
// launch's run even once the configuration can no longer be launched; a
// new key is refused.
func TestReplayAfterTheConfigurationChanged(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	token := s.Token(t, stacktest.Admin)
	first := launch(t, s, token, launchBody(`, "idempotency_key": "k-1"`))

	var ok api.OK
	s.Post(t, "/v1/configuration/status", `{"action": "set_configuration_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV", "activated": false, "archived": false}`).Decode(t, &ok)
	if replay := launch(t, s, token, launchBody(`, "idempotency_key": "k-1"`)); replay != first {
		t.Errorf("replay after deactivation returned %s, first launch %s", replay, first)
	}
	var dry api.LaunchResponse
	s.Do(t, http.MethodPost, launchPath, token, launchBody(`, "idempotency_key": "k-1", "dry_run": true`)).Decode(t, &dry)
	if !dry.DryRun || dry.RunID != first {
		t.Errorf("dry-run replay after deactivation = %+v, want the first run", dry)
	}
	s.Do(t, http.MethodPost, launchPath, token, launchBody(`, "idempotency_key": "k-2"`)).WantError(t, http.StatusConflict)
	s.Do(t, http.MethodPost, launchPath, token, launchBody(`, "idempotency_key": "k-1", "execution_date": "2020-12-29"`)).WantError(t, http.StatusConflict)
}

// TestConcurrentIdempotentLaunchesCreateOneRun is acceptance check 3 of
// the walking-skeleton issue.
func TestConcurrentIdempotentLaunchesCreateOneRun(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	sub := s.Subscribe(t, "runway-launch")
	token := s.Token(t, stacktest.Admin)
	before := s.RunCount(t, "000099")

	const callers = 20
	ids := make([]string, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp := s.Do(t, http.MethodPost, launchPath, token, launchBody(`, "idempotency_key": "concurrent-1"`))
			var got api.LaunchResponse
			if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != http.StatusOK {
				t.Errorf("caller %d: %s", i, resp)
			}
			ids[i] = got.RunID
		}()
	}
	close(start)
	wg.Wait()

	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("caller %d got run %s, caller 0 got %s", i, id, ids[0])
		}
	}
	if n := s.RunCount(t, "000099") - before; n != 1 {
		t.Errorf("%d runs created by %d concurrent launches with one key, want 1", n, callers)
	}
	msgs := stacktest.Receive(t, sub, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d launch messages, want 1", len(msgs))
	}
	if got := msgs[0].Attributes["run_id"]; got != ids[0] {
		t.Errorf("message for run %s, want %s", got, ids[0])
	}
}

func TestLaunchesWithoutKeysAreDistinct(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	token := s.Token(t, stacktest.Admin)
	seen := map[string]bool{}
	for i := range 5 {
		id := launch(t, s, token, launchBody(""))
		if seen[id] {
			t.Fatalf("launch %d reused run %s", i, id)
		}
		seen[id] = true
	}
}

// TestLaunchRateLimit: past their rate, a caller's launches get 429 with
// Retry-After, and other callers are not affected. The rate is per hour,
// so that no token comes back however slow the launches are; refilling
// is shown with a clock of the test's in shared/api.
func TestLaunchRateLimit(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, stacktest.WithConfig("RUNWAY_LAUNCH_RATE_LIMIT", "3/h"))
	s.Seed(t)
	admin := s.Token(t, stacktest.Admin)
	for i := range 3 {
		launch(t, s, admin, launchBody(fmt.Sprintf(`, "idempotency_key": "burst-%d"`, i)))
	}
	before := s.RunCount(t, "000099")
	resp := s.Do(t, http.MethodPost, launchPath, admin, launchBody(""))
	e := resp.WantError(t, http.StatusTooManyRequests)
	retryAfter, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || retryAfter < 1000 || retryAfter > 1200 || !strings.Contains(e.Message, stacktest.Admin) {
		t.Errorf("429 with Retry-After %q (a token comes back every 1200 s), message %q", resp.Header.Get("Retry-After"), e.Message)
	}
	if after := s.RunCount(t, "000099"); after != before {
		t.Errorf("a refused launch created %d runs", after-before)
	}
	// Another caller has a bucket of its own.
	launch(t, s, s.Token(t, stacktest.Executor), launchBody(""))
}

// TestHostileBodies: bodies built to cost are refused quickly, with a
// JSON error of reasonable size, and write nothing.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	before := s.RunCount(t, "000099")
	fields := strings.Builder{}
	var names []string
	for i := 0; fields.Len() < api.MaxBodyBytes-200; i++ {
		fmt.Fprintf(&fields, `, "f%d": %d`, i, i)
		names = append(names, fmt.Sprintf("f%d", i))
	}
	sort.Strings(names)
	for name, tc := range map[string]struct {
		body   string
		status int
		fields []string // the fields the error names
	}{
		"deeply nested arrays": {`{"action": "launch_job", "x": ` + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + `}`, http.StatusBadRequest, nil},
		"unclosed nesting":     {strings.Repeat(`{"a":`, 10_000), http.StatusBadRequest, nil},
		// The error names the first 20, not thousands.
		"thousands of unknown fields": {`{"action": "launch_job"` + fields.String() + `}`, http.StatusBadRequest, names[:20]},
		"a string of 64 KiB":          {`{"action": "` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, nil},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resp := s.Post(t, launchPath, tc.body)
			elapsed := time.Since(start)
			resp.WantError(t, tc.status, tc.fields...)
			if len(resp.Body) > 8<<10 {
				t.Errorf("a %d-byte error for a %d-byte body", len(resp.Body), len(tc.body))
			}
			t.Logf("%d bytes refused with %d in %v", len(tc.body), resp.Status, elapsed.Round(time.Microsecond))
		})
	}
	if after := s.RunCount(t, "000099"); after != before {
		t.Errorf("hostile bodies created %d runs", after-before)
	}
}
