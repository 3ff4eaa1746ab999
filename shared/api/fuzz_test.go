package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/testenv"
)

// noop is an act that does nothing.
func noop[Req Request](context.Context, auth.Caller, Req) (OK, error) { return OK{Message: "ok"}, nil }

// everyAction is an endpoint that serves an action for every request type
// of the API, each acting by doing nothing: what is fuzzed is the way to it.
func everyAction(t testing.TB) *Endpoint {
	t.Helper()
	e, err := NewEndpoint("fuzz", tokenAuth{}, allow{}, nil,
		NewAction("launch_job", noop[LaunchRequest]),
		NewAction("check_run_status", noop[CheckRunStatusRequest]),
		NewAction("get_last_status", noop[GetLastStatusRequest]),
		NewAction("get_by_status", noop[GetByStatusRequest]),
		NewAction("set_run_status", noop[SetRunStatusRequest]),
		NewAction("report_run_status", noop[ReportRunStatusRequest]),
		NewAction("get_run_events", noop[GetRunEventsRequest]),
		NewAction("reset_workflow_status", noop[WorkflowRequest]),
		NewAction("set_configuration_status", noop[SetConfigurationStatusRequest]),
		NewAction("deploy_configuration", noop[DeployConfigurationRequest]),
		NewAction("list_configurations", noop[ListConfigurationsRequest]),
		NewAction("add_member", noop[AddMemberRequest]),
	)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// allow grants every role.
type allow struct{}

func (allow) Authorize(context.Context, auth.Caller, string, auth.Role) error { return nil }

// seedBodies are the reference's curl bodies, verbatim.
func seedBodies(f *testing.F) {
	doc := testenv.ReferenceFile(f, "tailer-api-features.md")
	for _, m := range regexp.MustCompile(`(?s)--data '(.*?)'`).FindAllSubmatch(doc, -1) {
		f.Add(m[1])
	}
	for _, b := range []string{`{}`, `[]`, `{"action":"launch_job"}`, `{"action":"report_run_status","error":{"message":"m"},"metrics":{"a":[1,{"b":null}]}}`,
		`{"action":"deploy_configuration","configuration":{"account":"000099","environment":"DEV","configuration_type":"workflow"}}`} {
		f.Add([]byte(b))
	}
}

// FuzzEndpoint sends arbitrary bodies through decoding and validation of
// every action: nothing panics, nothing is a 500, and every refusal is a
// well-formed JSON error whose code is the HTTP status.
func FuzzEndpoint(f *testing.F) {
	seedBodies(f)
	e := everyAction(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer good")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			return
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%q: status %d %s", body, w.Code, w.Body)
		}
		var got Error
		dec := json.NewDecoder(w.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil || got.Code != w.Code || got.Message == "" {
			t.Fatalf("%q: the refusal is not a JSON error: %v %+v", body, err, got)
		}
		if len(got.Errors) > maxFieldErrors {
			t.Fatalf("%q: %d field errors", body, len(got.Errors))
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0:01:24.002519", "0:00:04", "26:05:00.000000", "1:2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		// What parses writes back as something that parses to the same.
		again, err := ParseDuration(FormatDuration(d))
		if err != nil || again != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, FormatDuration(d), again, err)
		}
	})
}
