package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// tokenAuth accepts the token "good" as alice@example.com.
type tokenAuth struct{}

func (tokenAuth) Authenticate(r *http.Request) (auth.Caller, error) {
	if r.Header.Get("Authorization") == "Bearer good" {
		return auth.Caller{Email: "alice@example.com", Via: "test"}, nil
	}
	return auth.Caller{}, &failure.Error{Kind: failure.ErrUnauthenticated, Message: "bad token", Missing: r.Header.Get("Authorization") == ""}
}

// roleTable grants alice the viewer role on account 000099 only.
type roleTable struct{}

func (roleTable) Authorize(_ context.Context, who auth.Caller, account string, need auth.Role) error {
	if account == "000099" && need <= auth.RoleViewer {
		return nil
	}
	return &failure.Error{Kind: failure.ErrForbidden, Message: "no"}
}

func newTestEndpoint(t *testing.T, act func(context.Context, auth.Caller, GetByStatusRequest) (Results, error)) *Endpoint {
	t.Helper()
	e, err := NewEndpoint("test", tokenAuth{}, roleTable{}, nil,
		NewAction("get_by_status", act),
		NewAction("set_run_status", func(context.Context, auth.Caller, SetRunStatusRequest) (Results, error) {
			t.Error("set_run_status acted although the caller lacks the role")
			return Results{}, nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEndpointAnswersEveryRefusalWithAJSONError(t *testing.T) {
	t.Parallel()
	okAct := func(_ context.Context, who auth.Caller, req GetByStatusRequest) (Results, error) {
		return Results{Results: []RunResult{{Account: req.Account, Status: "SUCCESS"}}}, nil
	}
	tests := []struct {
		name        string
		method      string
		token       string
		contentType string
		body        string
		act         func(context.Context, auth.Caller, GetByStatusRequest) (Results, error)
		wantCode    int
		wantFields  []string
		wantHeader  map[string]string
	}{
		{name: "ok", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table"}`, wantCode: 200},
		{name: "wrong method", method: http.MethodGet, wantCode: 405, wantHeader: map[string]string{"Allow": "POST"}},
		{name: "no token", token: "-", body: `{}`, wantCode: 401, wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="runway"`}},
		{name: "bad token", token: "bad", body: `{}`, wantCode: 401, wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="runway", error="invalid_token", error_description="bad token"`}},
		{name: "wrong content type", contentType: "text/plain", body: `{}`, wantCode: 415},
		{name: "too large", body: `{"action":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, wantCode: 413},
		{name: "malformed", body: `{"action":`, wantCode: 400},
		{name: "not an object", body: `["get_by_status"]`, wantCode: 400},
		{name: "no action", body: `{"account":"000099"}`, wantCode: 400, wantFields: []string{"action"}},
		{name: "action not a string", body: `{"action":1}`, wantCode: 400, wantFields: []string{"action"}},
		{name: "unknown action", body: `{"action":"drop_everything"}`, wantCode: 400, wantFields: []string{"action"}},
		{name: "unknown field", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table","limits":2}`, wantCode: 400, wantFields: []string{"limits"}},
		{name: "wrong type", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table","limit":"2"}`, wantCode: 400, wantFields: []string{"limit"}},
		{name: "missing field", body: `{"action":"get_by_status","account":"000099"}`, wantCode: 400, wantFields: []string{"configuration_type"}},
		{name: "no access to the account", body: `{"action":"get_by_status","account":"000110","configuration_type":"table-to-table"}`, wantCode: 403},
		{name: "role too weak", body: `{"action":"set_run_status","account":"000099","configuration_type":"table-to-table","configuration_id":"c","run_id":"20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179","status":"CHECKED"}`, wantCode: 403},
		{name: "domain not found", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table"}`, act: func(context.Context, auth.Caller, GetByStatusRequest) (Results, error) {
			return Results{}, failure.NotFound("nothing here")
		}, wantCode: 404},
		{name: "dependency down", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table"}`, act: func(context.Context, auth.Caller, GetByStatusRequest) (Results, error) {
			return Results{}, failure.Unavailable("the run store", errors.New("connection refused"))
		}, wantCode: 503},
		{name: "internal error", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table"}`, act: func(context.Context, auth.Caller, GetByStatusRequest) (Results, error) {
			return Results{}, errors.New("secret detail")
		}, wantCode: 500},
		{name: "panic", body: `{"action":"get_by_status","account":"000099","configuration_type":"table-to-table"}`, act: func(context.Context, auth.Caller, GetByStatusRequest) (Results, error) {
			panic("boom")
		}, wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			act := tt.act
			if act == nil {
				act = okAct
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, "/v1/test", strings.NewReader(tt.body))
			if tt.contentType == "" {
				r.Header.Set("Content-Type", "application/json")
			} else {
				r.Header.Set("Content-Type", tt.contentType)
			}
			switch tt.token {
			case "":
				r.Header.Set("Authorization", "Bearer good")
			case "-":
			default:
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			newTestEndpoint(t, act).ServeHTTP(w, r)

			if w.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantCode, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			for k, v := range tt.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.wantCode == 200 {
				return
			}
			var body Error
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				t.Fatalf("error body is not the error shape: %v", err)
			}
			if body.Code != tt.wantCode || body.Message == "" {
				t.Errorf("error body = %+v, want code %d and a message", body, tt.wantCode)
			}
			if strings.Contains(body.Message, "secret detail") || strings.Contains(body.Message, "connection refused") {
				t.Errorf("error message leaks internals: %q", body.Message)
			}
			if diff := cmp.Diff(tt.wantFields, fieldsOf(body.Errors)); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewEndpointRejectsBadTables(t *testing.T) {
	t.Parallel()
	act := func(context.Context, auth.Caller, GetByStatusRequest) (Results, error) { return Results{}, nil }
	if _, err := NewEndpoint("x", nil, roleTable{}, nil, NewAction("get_by_status", act)); err == nil {
		t.Error("accepted a missing authenticator")
	}
	if _, err := NewEndpoint("x", tokenAuth{}, roleTable{}, nil); err == nil {
		t.Error("accepted an endpoint without actions")
	}
	if _, err := NewEndpoint("x", tokenAuth{}, roleTable{}, nil, NewAction("get_by_status", act), NewAction("get_by_status", act)); err == nil {
		t.Error("accepted an action declared twice")
	}
	if _, err := NewEndpoint("x", tokenAuth{}, roleTable{}, nil, NewAction("drop_tables", act)); err == nil {
		t.Error("accepted an action that auth.Policy does not know")
	}
}

// TestGetActionGoesThroughThePipeline: an action served on GET is read
// from the URL, then validated, rate limited and authorized like a body,
// and the endpoint answers its other methods with a 405 naming GET.
func TestGetActionGoesThroughThePipeline(t *testing.T) {
	t.Parallel()
	acted := 0
	e, err := NewEndpoint("test", tokenAuth{}, executerOn000099{}, nil,
		NewGetAction("get_flow_status",
			func(r *http.Request) (FlowStatusRequest, *Error) { return ReadFlowStatusRequest(r, "/flows/") },
			func(_ context.Context, _ auth.Caller, req FlowStatusRequest) (OK, error) {
				acted++
				return OK{Message: req.FlowID + " " + req.MessageID}, nil
			}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, target, token string
		wantCode                    int
		wantFields                  []string
		wantAllow                   string
	}{
		{name: "ok", method: http.MethodGet, target: "/flows/f1?account=000099&messageId=m", token: "good", wantCode: 200},
		{name: "no token", method: http.MethodGet, target: "/flows/f1?account=000099", wantCode: 401},
		{name: "bad flow, unknown parameter, bad audit id", method: http.MethodGet, target: "/flows/?account=000099&auditId=x&color=red", token: "good", wantCode: 400, wantFields: []string{"auditId", "color", "flowId"}},
		{name: "bad environment", method: http.MethodGet, target: "/flows/f1?account=000099&environment=a%20b", token: "good", wantCode: 400, wantFields: []string{"environment"}},
		{name: "both ways of naming a run", method: http.MethodGet, target: "/flows/f1?account=000099&messageId=m&auditId=3", token: "good", wantCode: 400, wantFields: []string{"messageId"}},
		{name: "no access to the account", method: http.MethodGet, target: "/flows/f1?account=000110", token: "good", wantCode: 403},
		{name: "POST", method: http.MethodPost, target: "/flows/f1?account=000099", token: "good", wantCode: 405, wantAllow: "GET"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.target, nil)
		if tt.token != "" {
			r.Header.Set("Authorization", "Bearer "+tt.token)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != tt.wantCode {
			t.Errorf("%s: answered %d %s, want %d", tt.name, w.Code, w.Body, tt.wantCode)
			continue
		}
		if allow := w.Header().Get("Allow"); allow != tt.wantAllow {
			t.Errorf("%s: Allow %q, want %q", tt.name, allow, tt.wantAllow)
		}
		var got Error
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: not JSON: %s", tt.name, w.Body)
		}
		var fields []string
		for _, f := range got.Errors {
			fields = append(fields, f.Field)
		}
		if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
			t.Errorf("%s: fields at fault (-want +got):\n%s", tt.name, diff)
		}
	}
	if acted != 1 {
		t.Errorf("the action ran %d times, want once (for the one valid, authorized request)", acted)
	}
}

// executerOn000099 grants alice the executer role on account 000099 only.
type executerOn000099 struct{}

func (executerOn000099) Authorize(_ context.Context, _ auth.Caller, account string, need auth.Role) error {
	if account == "000099" && need <= auth.RoleExecuter {
		return nil
	}
	return &failure.Error{Kind: failure.ErrForbidden, Message: "no"}
}
