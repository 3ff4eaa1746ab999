package runway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/stacktest"
)

// liveCase is one request sent to the in-process stack.
type liveCase struct {
	name        string
	method      string
	target      string
	token       string // "" for none
	contentType string // "application/json" when empty and there is a body
	body        string
	status      int
	// specRejects is true when the spec itself refuses the request (the
	// server must refuse it too, as status says).
	specRejects bool
}

// TestOpenAPISpecDescribesLiveResponses sends requests to the in-process
// stack, each action's example first, and validates each response against
// the spec: the documented status, headers and body, and, for a 200, the
// schema its action's x-runway-response names.
func TestOpenAPISpecDescribesLiveResponses(t *testing.T) {
	c := newSpecChecker(t)
	s := stacktest.New(t)
	s.Seed(t)
	if _, err := s.Env.Store.PutMember(context.Background(), "000099", "leaving@example.com", auth.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	admin := s.Token(t, stacktest.Admin)
	statuses := map[int]int{}

	send := func(tc liveCase) []byte {
		t.Helper()
		contentType := tc.contentType
		if contentType == "" {
			contentType = "application/json"
		}
		in, err := c.requestAs(tc.method, tc.target, contentType, tc.body)
		switch {
		case tc.specRejects && err == nil:
			t.Errorf("%s: the spec accepts %s %s %s, which the server refuses", tc.name, tc.method, tc.target, tc.body)
		case !tc.specRejects && err != nil:
			t.Errorf("%s: the spec refuses the request: %v", tc.name, err)
		}
		req, err := http.NewRequest(tc.method, s.Server.URL+tc.target, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.body != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp := s.Send(t, req)
		if resp.Status != tc.status {
			t.Errorf("%s: %s %s answered %s, want %d", tc.name, tc.method, tc.target, resp, tc.status)
		}
		statuses[resp.Status]++
		if err := c.response(in, resp.Status, resp.Header, resp.Body); err != nil {
			t.Errorf("%s: the spec refuses the %d response %s:\n%v", tc.name, resp.Status, resp.Body, err)
		}
		if resp.Status == http.StatusOK {
			c.checkActionAnswer(tc, in, resp.Body)
		} else if err := component(t, c.doc, schemaPrefix+"Error").VisitJSON(decodeJSON(t, resp.Body)); err != nil {
			t.Errorf("%s: the %d response is not an Error: %v", tc.name, resp.Status, err)
		}
		return resp.Body
	}

	// Each action's example, in an order in which each succeeds but
	// report_run_status's: its run is finished by then.
	order := []string{"list_members", "add_member", "remove_member", "list_configurations", "get_configuration",
		"deploy_configuration", "set_configuration_status", "check_run_status", "get_last_status", "get_by_status",
		"get_run_events", "set_run_status", "get_workflow_status", "reset_workflow_status", "launch_job", "get_flow_status"}
	// The examples' run is finished by then: report_run_status and
	// cancel_run are 409s.
	exampleStatus := map[string]int{"report_run_status": http.StatusConflict, "cancel_run": http.StatusConflict}
	for _, action := range stacktest.Actions() {
		if !slices.Contains(order, action) {
			order = append(order, action)
		}
	}
	for _, action := range order {
		ex, ok := stacktest.ExampleFor(action, "000099")
		if !ok {
			t.Fatalf("stacktest has no example of %s", action)
		}
		status := http.StatusOK
		if st, ok := exampleStatus[action]; ok {
			status = st
		}
		send(liveCase{name: action, method: ex.Method, target: ex.Path, token: admin, body: ex.Body, status: status})
	}

	// A run's life: launched with an idempotency key, claimed and failed by
	// an executor, then read as events and as an ETLWorks execution.
	const flow = "000099_iowa_liquor_prepare_pda_DEV"
	launch := `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "` + flow + `", "idempotency_key": "openapi-test-1"}`
	var launched api.LaunchResponse
	if err := json.Unmarshal(send(liveCase{name: "launch_job with a key", method: http.MethodPost, target: "/v1/dag/launch",
		token: admin, body: launch, status: http.StatusOK}), &launched); err != nil || launched.RunID == "" {
		t.Fatalf("launch_job answered no run_id: %v", err)
	}
	run := `"account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "` +
		flow + `", "run_id": "` + launched.RunID + `"`
	send(liveCase{name: "report_run_status RUNNING", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusOK,
		body: `{"action": "report_run_status", ` + run + `, "executor_id": "e-1", "status": "RUNNING"}`})
	send(liveCase{name: "report_run_status FAILED", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusOK,
		body: `{"action": "report_run_status", ` + run + `, "executor_id": "e-1", "status": "FAILED",
			"error": {"message": "table dlk.sales not found", "code": "NOT_FOUND", "location": "step prepare_sales"},
			"metrics": {"rows_written": 0, "tables": ["a", "b"]}}`})
	send(liveCase{name: "check_run_status of the failed run", method: http.MethodPost, target: "/v1/dag/status", token: admin,
		status: http.StatusOK, body: `{"action": "check_run_status", ` + run + `}`})
	var events api.RunEventsResponse
	if err := json.Unmarshal(send(liveCase{name: "get_run_events of the failed run", method: http.MethodPost, target: "/v1/dag/status",
		token: admin, status: http.StatusOK, body: `{"action": "get_run_events", ` + run + `}`}), &events); err != nil ||
		events.Error == nil || len(events.Metrics) == 0 || len(events.Events) < 3 {
		t.Errorf("get_run_events does not show the claim, the failure and its error and metrics: %+v (%v)", events, err)
	}
	var execution map[string]any
	for _, target := range []string{
		"/rest/v1/executions/" + flow + "?account=000099&messageId=openapi-test-1",
		"/plugins/dashboard/rest/v1/flows/" + flow + "?account=000099&environment=DEV&messageId=openapi-test-1",
	} {
		execution = decodeJSON(t, send(liveCase{name: "get_flow_status " + target, method: http.MethodGet, target: target,
			token: admin, status: http.StatusOK})).(map[string]any)
	}
	if execution["status"] != "error" || execution["exception"] == nil || execution["ended"] == nil || execution["messageId"] != "openapi-test-1" {
		t.Errorf("the failed run's execution = %v", execution)
	}

	// A run with parameters and a callback: a dry run first, the launch,
	// its dry-run replay, a wait, a compare-and-set that fails, a cancel
	// (twice), the callback its end sends, checked against the launch's
	// runFinished callback, and the events that record it.
	hook := newCallbackReceiver(t)
	send(liveCase{name: "set_callback_settings of the receiver", method: http.MethodPost, target: "/v1/access", token: admin,
		status: http.StatusOK, body: `{"action": "set_callback_settings", "account": "000099", "allowed_hosts": ["` + strings.TrimPrefix(hook.URL, "http://") + `", "hooks.example.com"]}`})
	var rotated api.RotateCallbackSecretResponse
	if err := json.Unmarshal(send(liveCase{name: "rotate_callback_secret, keeping the previous", method: http.MethodPost, target: "/v1/access",
		token: admin, status: http.StatusOK, body: `{"action": "rotate_callback_secret", "account": "000099"}`}), &rotated); err != nil ||
		rotated.Secret.Secret == "" || len(rotated.Settings.Secrets) != 2 {
		t.Fatalf("rotate_callback_secret answered %+v (%v)", rotated, err)
	}
	s.StartDelivery(t, "CallbackDispatcher")
	withCallback := `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "` + flow + `", "idempotency_key": "openapi-test-2", "parameters": {"since": "2026-11-22", "stores": [2190]},
		"callback_url": "` + hook.URL + `/runway?team=data"`
	var dry api.LaunchResponse
	if err := json.Unmarshal(send(liveCase{name: "launch_job dry run", method: http.MethodPost, target: "/v1/dag/launch", token: admin,
		status: http.StatusOK, body: withCallback + `, "dry_run": true}`}), &dry); err != nil || !dry.DryRun || dry.Launch == nil || dry.RunID != "" {
		t.Errorf("the dry run answered %+v (%v)", dry, err)
	}
	var second api.LaunchResponse
	if err := json.Unmarshal(send(liveCase{name: "launch_job with parameters and a callback_url", method: http.MethodPost,
		target: "/v1/dag/launch", token: admin, status: http.StatusOK, body: withCallback + `}`}), &second); err != nil || second.RunID == "" {
		t.Fatalf("launch_job answered no run_id: %v", err)
	}
	if err := json.Unmarshal(send(liveCase{name: "launch_job dry run of a used key", method: http.MethodPost, target: "/v1/dag/launch",
		token: admin, status: http.StatusOK, body: withCallback + `, "dry_run": true}`}), &dry); err != nil || !dry.DryRun || dry.RunID != second.RunID {
		t.Errorf("the dry run of a used key answered %+v (%v)", dry, err)
	}
	run = `"account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "` +
		flow + `", "run_id": "` + second.RunID + `"`
	send(liveCase{name: "check_run_status waiting for a running run", method: http.MethodPost, target: "/v1/dag/status", token: admin,
		status: http.StatusOK, body: `{"action": "check_run_status", ` + run + `, "wait_seconds": 1}`})
	var conflict api.Error
	if err := json.Unmarshal(send(liveCase{name: "set_run_status with another expected_status", method: http.MethodPost, target: "/v1/dag/status",
		token: admin, status: http.StatusConflict, body: `{"action": "set_run_status", ` + run + `, "status": "CHECKED", "expected_status": "FAILED"}`}),
		&conflict); err != nil || conflict.CurrentStatus != "RUNNING" {
		t.Errorf("the compare-and-set's 409 = %+v (%v), want current_status RUNNING", conflict, err)
	}
	for _, name := range []string{"cancel_run of a running run", "cancel_run of a canceled run"} {
		send(liveCase{name: name, method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusOK,
			body: `{"action": "cancel_run", ` + run + `, "reason": "launched for the wrong day"}`})
	}
	callback := hook.next(t)
	c.checkCallback(callback, rotated)
	var callbackEvents api.RunEventsResponse
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		body := s.Do(t, http.MethodPost, "/v1/dag/status", admin, `{"action": "get_run_events", `+run+`}`).Body
		if strings.Contains(string(body), `"callback_delivered"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run's events never showed the delivered callback: %s", body)
		}
	}
	if err := json.Unmarshal(send(liveCase{name: "get_run_events of a canceled run called back", method: http.MethodPost,
		target: "/v1/dag/status", token: admin, status: http.StatusOK, body: `{"action": "get_run_events", ` + run + `}`}),
		&callbackEvents); err != nil || callbackEvents.Error == nil || callbackEvents.Error.Code != "CANCELED" {
		t.Errorf("get_run_events of the canceled run = %+v (%v)", callbackEvents, err)
	}
	send(liveCase{name: "set_runs_status", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusOK,
		body: `{"action": "set_runs_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
			"configuration_id": "` + flow + `", "from_status": "FAILED", "status": "CHECKED", "before": "2020-12-31T00:00:00Z", "limit": 1}`})

	// Errors, each against the operation's documented error response.
	stranger := s.Token(t, "stranger@example.com")
	listMembers := `{"action": "list_members", "account": "000099"}`
	for _, tc := range []liveCase{
		{name: "unknown field", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusBadRequest, specRejects: true,
			body: `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table", "Limit": 5}`},
		{name: "limit out of range", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusBadRequest, specRejects: true,
			body: `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table", "limit": 1001}`},
		{name: "unknown action", method: http.MethodPost, target: "/v1/configuration", token: admin, status: http.StatusBadRequest, specRejects: true,
			body: `{"action": "launch_job", "account": "000099"}`},
		{name: "malformed JSON", method: http.MethodPost, target: "/v1/access", token: admin, status: http.StatusBadRequest, specRejects: true,
			body: `{"action": "list_members" "account": "000099"}`},
		{name: "no token", method: http.MethodPost, target: "/v1/access", status: http.StatusUnauthorized, body: listMembers},
		{name: "bad token", method: http.MethodPost, target: "/v1/access", token: "not-a-jwt", status: http.StatusUnauthorized, body: listMembers},
		{name: "not a member", method: http.MethodPost, target: "/v1/access", token: stranger, status: http.StatusForbidden, body: listMembers},
		{name: "unknown run", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusNotFound,
			body: `{"action": "check_run_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
				"configuration_id": "` + flow + `", "run_id": "20201230-112837-00000000-2557-4a60-ba16-788aa2bea179"}`},
		{name: "idempotency key reused", method: http.MethodPost, target: "/v1/dag/launch", token: admin, status: http.StatusConflict,
			body: strings.Replace(launch, `"DEV"`, `"DEV", "execution_date": "2020-12-09"`, 1)},
		{name: "last admin", method: http.MethodPost, target: "/v1/access", token: admin, status: http.StatusConflict,
			body: `{"action": "remove_member", "account": "000099", "email": "` + stacktest.Admin + `"}`},
		{name: "too large", method: http.MethodPost, target: "/v1/access", token: admin, status: http.StatusRequestEntityTooLarge, specRejects: true,
			body: `{"action": "list_members", "account": "000099", "padding": "` + strings.Repeat("x", api.MaxBodyBytes) + `"}`},
		{name: "not JSON", method: http.MethodPost, target: "/v1/access", token: admin, contentType: "text/plain", status: http.StatusUnsupportedMediaType,
			specRejects: true, body: listMembers},
		{name: "unknown query parameter", method: http.MethodGet, target: "/rest/v1/executions/" + flow + "?account=000099&flow=1",
			token: admin, status: http.StatusBadRequest},
		{name: "messageId and auditId", method: http.MethodGet, target: "/rest/v1/executions/" + flow + "?account=000099&messageId=a&auditId=1",
			token: admin, status: http.StatusBadRequest},
		{name: "no account", method: http.MethodGet, target: "/rest/v1/executions/" + flow, token: admin, status: http.StatusBadRequest, specRejects: true},
		{name: "unknown flow", method: http.MethodGet, target: "/rest/v1/executions/000099_nope?account=000099", token: admin, status: http.StatusNotFound},
		{name: "flow of a stranger", method: http.MethodGet, target: "/rest/v1/executions/" + flow + "?account=000099", token: stranger, status: http.StatusForbidden},
		{name: "callback_url of a host not allowed", method: http.MethodPost, target: "/v1/dag/launch", token: admin, status: http.StatusBadRequest,
			body: strings.Replace(launch, `"idempotency_key": "openapi-test-1"`, `"callback_url": "https://elsewhere.example.org/hook"`, 1)},
		{name: "wait_seconds out of range", method: http.MethodPost, target: "/v1/dag/status", token: admin, status: http.StatusBadRequest,
			specRejects: true, body: `{"action": "check_run_status", ` + run + `, "wait_seconds": 61}`},
		{name: "set_runs_status of a configuration_id without environment", method: http.MethodPost, target: "/v1/dag/status", token: admin,
			status: http.StatusBadRequest, specRejects: true, body: `{"action": "set_runs_status", "account": "000099",
				"configuration_type": "table-to-table", "configuration_id": "` + flow + `", "status": "CHECKED"}`},
	} {
		send(tc)
	}

	// A wrong method: the 405 each operation documents, with its Allow.
	for _, tc := range []struct{ path, method, allow string }{
		{"/v1/dag/status", http.MethodGet, http.MethodPost},
		{"/rest/v1/executions/" + flow + "?account=000099", http.MethodPost, http.MethodGet},
	} {
		in, _ := c.request(tc.allow, tc.path, "")
		resp := s.Do(t, tc.method, tc.path, admin, "")
		statuses[resp.Status]++
		if resp.Status != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s answered %s (Allow %q), want 405 with Allow: %s", tc.method, tc.path, resp, resp.Header.Get("Allow"), tc.allow)
		}
		if err := c.response(in, resp.Status, resp.Header, resp.Body); err != nil {
			t.Errorf("%s %s: the spec refuses the 405 response %s:\n%v", tc.method, tc.path, resp.Body, err)
		}
	}

	for _, status := range []int{200, 400, 401, 403, 404, 405, 409, 413, 415} {
		if statuses[status] == 0 {
			t.Errorf("no live response had status %d", status)
		}
	}
	if statuses[http.StatusOK] < len(stacktest.Actions()) {
		t.Errorf("only %d live 200 responses were validated", statuses[http.StatusOK])
	}
}

// callbackReceiver records the callbacks Runway sends it, answering 200.
type callbackReceiver struct {
	*httptest.Server
	got chan *http.Request // each with its body read into a bytes.Reader
}

func newCallbackReceiver(t *testing.T) *callbackReceiver {
	t.Helper()
	r := &callbackReceiver{got: make(chan *http.Request, 16)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		copied := req.Clone(context.Background())
		copied.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case r.got <- copied:
		default:
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// next returns the next callback received.
func (r *callbackReceiver) next(t *testing.T) *http.Request {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(30 * time.Second):
		t.Fatal("no callback came")
		return nil
	}
}

// checkCallback validates a callback Runway sent against the launch's
// runFinished callback, its 200 answer too, and checks its signature
// with the secrets rotated shows.
func (c *specChecker) checkCallback(got *http.Request, rotated api.RotateCallbackSecretResponse) {
	t := c.t
	t.Helper()
	const expression = "{$request.body#/callback_url}"
	launch := c.doc.Paths.Value("/v1/dag/launch").Post
	callback := launch.Callbacks["runFinished"]
	if callback == nil || callback.Value == nil || callback.Value.Value(expression) == nil || callback.Value.Value(expression).Post == nil {
		t.Fatalf("launch_job has no runFinished callback POSTed to %s", expression)
	}
	item := callback.Value.Value(expression)
	body, _ := io.ReadAll(got.Body)
	req := httptest.NewRequest(http.MethodPost, got.URL.String(), bytes.NewReader(body))
	req.Header = got.Header.Clone()
	in := &openapi3filter.RequestValidationInput{Request: req, Route: &routers.Route{Spec: c.doc, Path: expression, PathItem: item,
		Method: http.MethodPost, Operation: item.Post}, Options: &openapi3filter.Options{MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("the spec refuses the callback %v %s:\n%v", got.Header, body, err)
	}
	if err := c.response(in, http.StatusOK, http.Header{}, nil); err != nil {
		t.Errorf("the spec does not document the receiver's 200: %v", err)
	}
	if got.Header.Get("X-Runway-Key-Id") != rotated.Secret.KeyID {
		t.Errorf("X-Runway-Key-Id %q, want the current secret's %q", got.Header.Get("X-Runway-Key-Id"), rotated.Secret.KeyID)
	}
	if sig := got.Header.Get("X-Runway-Signature"); strings.Count(sig, "v1=") != len(rotated.Settings.Secrets) ||
		callbacks.Verify(rotated.Secret.Secret, sig, got.Header.Get("X-Runway-Event-Id"), body, time.Now(), 5*time.Minute) != nil {
		t.Errorf("X-Runway-Signature %q: not one v1 per secret, or not signed with the new one", sig)
	}
}

// checkActionAnswer validates a 200 answer against the schema its action's
// x-runway-response names: the precise one among the path's 200 oneOf.
func (c *specChecker) checkActionAnswer(tc liveCase, in *openapi3filter.RequestValidationInput, body []byte) {
	t := c.t
	t.Helper()
	op := in.Route.Operation
	ref := extension(op.Extensions, "x-runway-response")
	if op.RequestBody != nil {
		var req struct{ Action string }
		if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		mapping := requestSchema(t, op).Discriminator.Mapping
		ref = extension(component(t, c.doc, mapping[req.Action].Ref).Extensions, "x-runway-response")
	}
	if err := component(t, c.doc, ref).VisitJSON(decodeJSON(t, body)); err != nil {
		t.Errorf("%s: the answer is not a %s: %v\n%s", tc.name, ref, err, body)
	}
}

func decodeJSON(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s is not JSON: %v", body, err)
	}
	return v
}

// TestOpenAPISpecRefusesWhatTheServerRefuses spot-checks that the spec's
// schemas are as strict as the code on the formats it enforces.
func TestOpenAPISpecRefusesWhatTheServerRefuses(t *testing.T) {
	c := newSpecChecker(t)
	base := map[string]any{"action": "get_last_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV"}
	for _, tc := range []struct {
		field string
		value any
		ok    bool
	}{
		{"execution_date", "2020-12-09", true},
		{"execution_date", "09/12/2020", false},
		{"status", "CHECKED", true},
		{"status", "DONE", false},
		{"limit", 1000, true},
		{"limit", 0, false},
		{"limit", "10", false},
		{"account", "000 099", false},
		{"configuration_type", "gbq-to-gbq", true},
		{"configuration_type", "table", false},
		{"environment", nil, false},       // required
		{"job_id", "gbq-to-gbq|x", false}, // not a field of get_last_status
	} {
		body := map[string]any{}
		for k, v := range base {
			body[k] = v
		}
		if tc.value == nil {
			delete(body, tc.field)
		} else {
			body[tc.field] = tc.value
		}
		b, _ := json.Marshal(body)
		_, err := c.request(http.MethodPost, "/v1/dag/status", string(b))
		if (err == nil) != tc.ok {
			t.Errorf("%s = %v: spec validation error %v, want ok=%v", tc.field, tc.value, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		runID string
		ok    bool
	}{
		{"20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179", true},
		{"20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469", true},
		{"20201230-112837-0A795C70-2557-4A60-BA16-788AA2BEA179", false},
		{"run-1", false},
	} {
		body := fmt.Sprintf(`{"action": "check_run_status", "account": "000099", "environment": "DEV",
			"configuration_type": "table-to-table", "configuration_id": "x", "run_id": %q}`, tc.runID)
		if _, err := c.request(http.MethodPost, "/v1/dag/status", body); (err == nil) != tc.ok {
			t.Errorf("run_id %s: spec validation error %v, want ok=%v", tc.runID, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		role string
		ok   bool
	}{{"viewer", true}, {"executer", true}, {"editor", true}, {"admin", true}, {"none", false}, {"owner", false}} {
		body := fmt.Sprintf(`{"action": "add_member", "account": "000099", "email": "a@example.com", "role": %q}`, tc.role)
		if _, err := c.request(http.MethodPost, "/v1/access", body); (err == nil) != tc.ok {
			t.Errorf("role %s: spec validation error %v, want ok=%v", tc.role, err, tc.ok)
		}
	}
	// deploy_configuration's definition is free-form but names its account.
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"action": "deploy_configuration", "configuration": {"account": "000099", "anything": {"goes": [1, 2]}}}`, true},
		{`{"action": "deploy_configuration", "configuration": {"environment": "DEV"}}`, false},
		{`{"action": "deploy_configuration"}`, false},
	} {
		if _, err := c.request(http.MethodPost, "/v1/configuration", tc.body); (err == nil) != tc.ok {
			t.Errorf("%s: spec validation error %v, want ok=%v", tc.body, err, tc.ok)
		}
	}
}
