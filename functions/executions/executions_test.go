package executions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	flow   = "000099_iowa_liquor_prepare_pda_DEV"
	latest = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
)

// referenceFields are the response fields of ETLWorks' document.
func referenceFields(t *testing.T) []string {
	t.Helper()
	doc := testenv.ReferenceFile(t, "etlworks-get-flow-status.txt")
	var fields []string
	for _, m := range regexp.MustCompile(`(?m)^"(\w+)":`).FindAllSubmatch(doc, -1) {
		fields = append(fields, string(m[1]))
	}
	sort.Strings(fields)
	if len(fields) < 20 {
		t.Fatalf("found only %d fields in the reference", len(fields))
	}
	return fields
}

func get(t *testing.T, s *stacktest.Stack, path string) stacktest.Response {
	t.Helper()
	return s.Do(t, http.MethodGet, path, s.Token(t, stacktest.Admin), "")
}

func decode(t *testing.T, resp stacktest.Response) map[string]any {
	t.Helper()
	var got map[string]any
	resp.Decode(t, &got)
	return got
}

func TestExecutionsByFlowMessageAndAudit(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)

	// The latest run of the flow, with every field of the reference.
	got := decode(t, get(t, s, "/rest/v1/executions/"+flow+"?account=000099"))
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff(referenceFields(t), keys); diff != "" {
		t.Errorf("fields (-reference +got):\n%s", diff)
	}
	key, _ := runs.RunKey(latest)
	want := map[string]any{
		"auditId": float64(runs.AuditIDOf(key)), "flowId": flow, "flowName": "Prepare the Iowa liquor PDA tables",
		"status": "success", "triggerType": "flow.execution.on.demand", "startedBy": "demo-loader",
		"started": float64(1609327723861), "ended": float64(1609327807863), "duration": "1m24.003s",
		"parentAuditId": nil, "retries": nil, "messageId": nil, "eventId": nil, "tenantId": nil, "exception": nil,
	}
	for k, v := range want {
		if !cmp.Equal(got[k], v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// By audit id, through the legacy path: a run of the history.
	older := "20201210-140612-19e547a1-de6a-47f0-b563-b8a3d5754118"
	olderKey, _ := runs.RunKey(older)
	audit := strconv.FormatInt(runs.AuditIDOf(olderKey), 10)
	got = decode(t, get(t, s, "/plugins/dashboard/rest/v1/flows/"+flow+"?account=000099&environment=DEV&auditId="+audit))
	if got["started"] != float64(1607609177415) {
		t.Errorf("by audit id: %v", got)
	}

	// By message id: the run launched with that idempotency key; running,
	// so without an end.
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "`+flow+`", "idempotency_key": "15a20488-0224-4ae1-a52c-9ee65a69f2c5"}`).Decode(t, &launched)
	got = decode(t, get(t, s, "/rest/v1/executions/"+flow+"?account=000099&messageId=15a20488-0224-4ae1-a52c-9ee65a69f2c5"))
	launchedKey, _ := runs.RunKey(launched.RunID)
	if got["status"] != "running" || got["messageId"] != "15a20488-0224-4ae1-a52c-9ee65a69f2c5" ||
		got["auditId"] != float64(runs.AuditIDOf(launchedKey)) || got["startedBy"] != stacktest.Admin {
		t.Errorf("by message id: %v", got)
	}
	if _, ok := got["ended"]; ok {
		t.Error("a running execution has an end")
	}
	if latest := decode(t, get(t, s, "/rest/v1/executions/"+flow+"?account=000099")); latest["auditId"] != got["auditId"] {
		t.Error("the latest execution is not the one just launched")
	}
}

func TestExecutionOfAFailedRetry(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	cfg, err := s.Env.Configs.Get(ctx, "000099", configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: flow})
	if err != nil {
		t.Fatal(err)
	}
	parent := runs.NewRun(cfg, runs.RandomKey(), cfg.UpdatedAt)
	retry := runs.NewRun(cfg, runs.RandomKey(), cfg.UpdatedAt.Add(1))
	retry.Attempt, retry.ParentRunID, retry.TriggerType, retry.StartedBy = 2, parent.RunID, runs.TriggerRetry, "alice@example.com"
	retry.Status, retry.EndDate = runs.StatusFailed, retry.StartExecutionDate.Add(1500*1e6)
	retry.Error = &runs.RunError{Message: "table not found", Code: "NOT_FOUND", Location: "step 2"}
	retry.Metrics = map[string]any{"rows": int64(3), "bytes": int64(42)}
	for _, r := range []runs.Run{parent, retry} {
		if err := s.Env.Store.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got := decode(t, get(t, s, "/rest/v1/executions/"+flow+"?account=000099&auditId="+strconv.FormatInt(retry.AuditID, 10)))
	parentKey, _ := runs.RunKey(parent.RunID)
	want := map[string]any{
		"status": "error", "retries": float64(1), "parentAuditId": float64(runs.AuditIDOf(parentKey)),
		"exception": "table not found (at step 2)", "code": "NOT_FOUND", "duration": "1.5s",
		"metrics": []any{map[string]any{"name": "bytes", "value": float64(42)}, map[string]any{"name": "rows", "value": float64(3)}},
	}
	for k, v := range want {
		if !cmp.Equal(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestExecutionsRefusals(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	if _, err := s.Env.Store.PutMember(ctx, "000099", "viewer@example.com", auth.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	// The same configuration id in two environments.
	for _, env := range []string{"DEV", "PROD"} {
		body, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": map[string]any{
			"configuration_type": "storage-to-storage", "configuration_id": "twin", "account": "000099", "environment": env}})
		s.Post(t, "/v1/configuration", string(body)).Decode(t, &api.ConfigurationResponse{})
	}
	otherKey, _ := runs.RunKey("20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469") // a run of another flow
	tests := []struct {
		name, method, path, token string
		status                    int
		fields                    []string
	}{
		{"unknown flow", "GET", "/rest/v1/executions/nope?account=000099", "", 404, nil},
		{"no account", "GET", "/rest/v1/executions/" + flow, "", 400, []string{"account"}},
		{"unknown parameter", "GET", "/rest/v1/executions/" + flow + "?account=000099&flowName=x", "", 400, []string{"flowName"}},
		{"bad audit id", "GET", "/rest/v1/executions/" + flow + "?account=000099&auditId=-3", "", 400, []string{"auditId"}},
		{"both ids", "GET", "/rest/v1/executions/" + flow + "?account=000099&auditId=3&messageId=m", "", 400, []string{"messageId"}},
		{"ambiguous flow", "GET", "/rest/v1/executions/twin?account=000099", "", 400, []string{"environment"}},
		{"audit id of another flow", "GET", "/rest/v1/executions/" + flow + "?account=000099&auditId=" + strconv.FormatInt(runs.AuditIDOf(otherKey), 10), "", 404, nil},
		{"unknown message id", "GET", "/rest/v1/executions/" + flow + "?account=000099&messageId=never-used", "", 404, nil},
		{"no runs yet", "GET", "/rest/v1/executions/twin?account=000099&environment=PROD", "", 404, nil},
		{"a viewer", "GET", "/rest/v1/executions/" + flow + "?account=000099", s.Token(t, "viewer@example.com"), 403, nil},
		{"POST", "POST", "/rest/v1/executions/" + flow + "?account=000099", "", 405, nil},
		{"no flow id", "GET", "/rest/v1/executions/?account=000099", "", 400, []string{"flowId"}},
		{"an escaped flow id is read once", "GET", "/rest/v1/executions/" + "000099_iowa_liquor_prepare_pda%2544EV?account=000099", "", 400, []string{"flowId"}},
		{"a path of no function (the load balancer's default)", "POST", "/v2/nothing", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			if token == "" {
				token = s.Token(t, stacktest.Admin)
			}
			s.Do(t, tt.method, tt.path, token, "").WantError(t, tt.status, tt.fields...)
		})
	}
}
