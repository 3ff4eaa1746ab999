package api

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		wantCode    int
	}{
		{"json", "application/json", `{}`, 0},
		{"json with utf-8 charset", "application/json; charset=UTF-8", `{}`, 0},
		{"no content type", "", `{}`, http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `{}`, http.StatusUnsupportedMediaType},
		{"other charset", "application/json; charset=latin1", `{}`, http.StatusUnsupportedMediaType},
		{"empty", "application/json", "  \n", http.StatusBadRequest},
		{"at the limit", "application/json", `"` + strings.Repeat("a", MaxBodyBytes-2) + `"`, 0},
		{"over the limit", "application/json", strings.Repeat(" ", MaxBodyBytes+1), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			_, err := readBody(httptest.NewRecorder(), r, MaxBodyBytes)
			got := 0
			if err != nil {
				got = err.Code
				if err.Message == "" {
					t.Error("error without a message")
				}
			}
			if got != tt.wantCode {
				t.Errorf("code = %d, want %d (%v)", got, tt.wantCode, err)
			}
		})
	}
}

func TestDecodeObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantMessage string // a part of the message, "" if the body is accepted
	}{
		{"object", `{"action":"x"}`, ""},
		{"object with spaces around", " \n {\"action\":\"x\"} \n", ""},
		{"array", `[{"action":"x"}]`, "must be a JSON object, not an array"},
		{"string", `"launch_job"`, "must be a JSON object, not a string"},
		{"number", `42`, "must be a JSON object, not a number"},
		{"null", `null`, "must be a JSON object, not null"},
		{"two objects", `{"a":1}{"b":2}`, "malformed JSON at line 1, column 8"},
		{"truncated", `{"action":`, "malformed JSON"},
		// The reference's set_run_status example misses a comma after run_id.
		{"missing comma", "{\"run_id\": \"r\"\n         \"status\": \"CHECKED\"}", "malformed JSON at line 2, column 10: invalid character '\"' after object key:value pair (is a comma missing between two fields?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeObject([]byte(tt.body))
			switch {
			case tt.wantMessage == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantMessage != "" && err == nil:
				t.Fatalf("accepted, want an error containing %q", tt.wantMessage)
			case err != nil && (err.Code != http.StatusBadRequest || !strings.Contains(err.Message, tt.wantMessage)):
				t.Fatalf("error = %d %q, want 400 containing %q", err.Code, err.Message, tt.wantMessage)
			}
		})
	}
}

func TestCheckFieldsIsExactAndListsEveryUnknownField(t *testing.T) {
	t.Parallel()
	allowed := jsonFields(reflect.TypeFor[GetByStatusRequest]())
	fields, _ := decodeObject([]byte(`{"action":"get_by_status","Account":"000099","limt":2,"account":"000099"}`))
	err := checkFields(fields, allowed)
	if err == nil {
		t.Fatal("accepted unknown fields")
	}
	var got []string
	for _, e := range err.Errors {
		got = append(got, e.Field)
	}
	if diff := cmp.Diff([]string{"Account", "limt"}, got); diff != "" {
		t.Errorf("unknown fields (-want +got):\n%s", diff)
	}
}

func TestDecodeIntoNamesTheFieldOfAWrongType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, field, problem string
	}{
		{`{"limit":"10"}`, "limit", "must be an integer, not string"},
		{`{"limit":2.5}`, "limit", "must be an integer, not number 2.5"},
		{`{"account":99}`, "account", "must be a string, not number"},
		{`{"status":["SUCCESS"]}`, "status", "must be a string, not array"},
	}
	for _, tt := range tests {
		var req GetByStatusRequest
		err := decodeInto([]byte(tt.body), &req)
		if err == nil {
			t.Errorf("%s: accepted", tt.body)
			continue
		}
		want := []FieldError{{Field: tt.field, Problem: tt.problem}}
		if diff := cmp.Diff(want, err.Errors); diff != "" {
			t.Errorf("%s: errors (-want +got):\n%s", tt.body, diff)
		}
	}
	// Members of an embedded struct (RunIdentity) and of a nested object
	// are named as the caller wrote them.
	for body, field := range map[string]string{`{"run_id":5}`: "run_id", `{"error":{"message":1}}`: "error.message"} {
		var req ReportRunStatusRequest
		if err := decodeInto([]byte(body), &req); err == nil || len(err.Errors) != 1 || err.Errors[0].Field != field {
			t.Errorf("%s: error %v, want one naming %s", body, err, field)
		}
	}
}
