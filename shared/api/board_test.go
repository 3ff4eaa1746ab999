package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

func TestRunsPageRequest(t *testing.T) {
	t.Parallel()
	cursor := runs.RunCursor{Start: time.Date(2020, 12, 30, 11, 28, 43, 861340000, time.UTC), Key: "0a795c70-2557-4a60-ba16-788aa2bea179"}
	token := RunsPageToken(&cursor)
	tests := []struct {
		name     string
		req      RunsPageRequest
		problems []string
		query    runs.Query
	}{
		{name: "every run", req: RunsPageRequest{Account: "000099"}, query: runs.Query{Limit: DefaultRunsPageLimit}},
		{name: "every filter", req: RunsPageRequest{Account: "000099", Environment: "DEV", ConfigurationType: "gbq-to-gbq",
			ConfigurationID: "x_DEV", Status: "FAILED", TriggerType: "workflow", From: "2020-12-01", To: "2020-12-31", PageToken: token, Limit: 10},
			query: runs.Query{Kind: configs.KindTableToTable, Environment: "DEV", ConfigurationID: "x_DEV", Status: runs.StatusFailed, TriggerType: "workflow",
				Since: time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC), Before: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), After: &cursor, Limit: 10}},
		{name: "one day", req: RunsPageRequest{Account: "000099", From: "2020-12-30", To: "2020-12-30"},
			query: runs.Query{Since: time.Date(2020, 12, 30, 0, 0, 0, 0, time.UTC), Before: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC), Limit: DefaultRunsPageLimit}},
		{name: "bad values", req: RunsPageRequest{Account: "", Environment: "a b", Status: "failed", TriggerType: "cron", From: "2020-13-01", To: "x", PageToken: "x", Limit: 1000},
			problems: []string{"account", "environment", "from", "limit", "page_token", "status", "to", "trigger_type"}},
		{name: "a configuration needs its type and environment", req: RunsPageRequest{Account: "000099", ConfigurationID: "x"},
			problems: []string{"configuration_type", "environment"}},
		{name: "to before from", req: RunsPageRequest{Account: "000099", From: "2020-12-30", To: "2020-12-01"}, problems: []string{"to"}},
		{name: "a forged cursor", req: RunsPageRequest{Account: "000099", PageToken: RunsPageToken(&runs.RunCursor{Start: cursor.Start, Key: "../x"})},
			problems: []string{"page_token"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fields []string
			for _, p := range Invalid(tc.req.Validate()).Errors {
				fields = append(fields, p.Field)
			}
			if diff := cmp.Diff(tc.problems, fields); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if tc.problems == nil {
				if diff := cmp.Diff(tc.query, tc.req.Query()); diff != "" {
					t.Errorf("query (-want +got):\n%s", diff)
				}
			}
		})
	}
}
