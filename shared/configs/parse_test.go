package configs

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/failure"
)

func definition(t *testing.T, s string) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

const workflowDef = `{"configuration_type": "workflow", "configuration_id": "workflow-Load_Configuration", "version": "2",
	"environment": "DEV", "account": "000099", "activated": true, "archived": false, "gcp_project_id": "fd-io-tailer-demo-dlk",
	"schedule_interval_reset": "59 23 * * *", "authorized_job_ids": ["gbq-to-gbq|000099_assert_of_configuration_DEV"],
	"target_dag": {"configuration_type": "table-to-table", "configuration_id": "Load_Configuration_DEV"}}`

func TestParse(t *testing.T) {
	t.Parallel()
	cfg, err := Parse(definition(t, `{"configuration_type": "table-to-table", "configuration_id": "000099_test_sql_dag_v1",
		"account": "000099", "environment": "PROD", "schedule_interval": "None", "workflow": []}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConfigurationID != "000099_test_sql_dag_v1_PROD" || cfg.JobID != "gbq-to-gbq|000099_test_sql_dag_v1_PROD" ||
		!cfg.Activated || cfg.Archived || cfg.Definition["schedule_interval"] != "None" || cfg.Workflow != nil {
		t.Errorf("table-to-table = %+v", cfg)
	}

	withPolicy, err := Parse(definition(t, `{"configuration_type": "table-to-table", "configuration_id": "x", "account": "000099",
		"environment": "DEV", "timeout": "15m", "retries": 3, "retry_delay": 30}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Policy{Timeout: 15 * time.Minute, Retries: 3, RetryDelay: 30 * time.Second}); withPolicy.Policy != want {
		t.Errorf("policy = %+v, want %+v", withPolicy.Policy, want)
	}

	wf, err := Parse(definition(t, workflowDef))
	if err != nil {
		t.Fatal(err)
	}
	want := &WorkflowSpec{
		AuthorizedJobIDs: []string{"gbq-to-gbq|000099_assert_of_configuration_DEV"},
		Target:           ConfigRef{Environment: "DEV", Kind: KindTableToTable, ConfigurationID: "Load_Configuration_DEV"},
		TargetType:       "table-to-table", ResetSchedule: "59 23 * * *",
	}
	if wf.ConfigurationID != "workflow-Load_Configuration" || wf.JobID != "workflow|workflow-Load_Configuration" {
		t.Errorf("workflow = %+v", wf)
	}
	if diff := cmp.Diff(want, wf.Workflow); diff != "" {
		t.Errorf("workflow spec (-want +got):\n%s", diff)
	}
	if s, ok := ResetSchedule(wf.Workflow); !ok || s == nil {
		t.Error("Schedule found no schedule")
	}
}

func TestParseNamesEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"empty", `{}`, []string{"configuration.account", "configuration.configuration_id", "configuration.configuration_type", "configuration.environment"}},
		{"unknown type", `{"configuration_type": "table-2-table", "configuration_id": "x", "account": "000099", "environment": "DEV"}`, []string{"configuration.configuration_type"}},
		{"wrong types", `{"configuration_type": "table-to-table", "configuration_id": 7, "account": "000099", "environment": "DEV", "activated": "yes"}`,
			[]string{"configuration.activated", "configuration.configuration_id"}},
		{"bad id", `{"configuration_type": "table-to-table", "configuration_id": "a/b", "account": "000099", "environment": "DEV"}`, []string{"configuration.configuration_id"}},
		{"no room for the suffix", `{"configuration_type": "table-to-table", "configuration_id": "` + strings.Repeat("x", 253) + `", "account": "000099", "environment": "DEV"}`, []string{"configuration.configuration_id"}},
		{"workflow without its fields", `{"configuration_type": "workflow", "configuration_id": "w", "account": "000099", "environment": "DEV"}`,
			[]string{"configuration.authorized_job_ids", "configuration.gcp_project_id", "configuration.target_dag", "configuration.version"}},
		{"workflow with bad fields", `{"configuration_type": "workflow", "configuration_id": "w", "account": "000099", "environment": "DEV",
			"version": "1", "gcp_project_id": "p", "authorized_job_ids": ["a", "", "a"], "schedule_interval_reset": "every day",
			"target_dag": {"configuration_type": "workflow", "configuration_id": "x", "priority": 1}}`,
			[]string{"configuration.authorized_job_ids[1]", "configuration.authorized_job_ids[2]", "configuration.schedule_interval_reset",
				"configuration.target_dag.configuration_type", "configuration.target_dag.priority", "configuration.version"}},
		{"bad policy", `{"configuration_type": "table-to-table", "configuration_id": "x", "account": "000099", "environment": "DEV",
			"timeout": "soon", "retries": 2.5, "retry_delay": -3}`, []string{"configuration.retries", "configuration.retry_delay", "configuration.timeout"}},
		{"policy out of range", `{"configuration_type": "table-to-table", "configuration_id": "x", "account": "000099", "environment": "DEV",
			"timeout": "0s", "retries": 11}`, []string{"configuration.retries", "configuration.timeout"}},
		{"no authorized job", `{"configuration_type": "workflow", "configuration_id": "w", "account": "000099", "environment": "DEV",
			"version": "2", "gcp_project_id": "p", "authorized_job_ids": [], "target_dag": {"configuration_type": "table-to-table", "configuration_id": "t"}}`,
			[]string{"configuration.authorized_job_ids"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(definition(t, tt.def))
			var invalid failure.Invalid
			if !errors.As(err, &invalid) {
				t.Fatalf("Parse = %v, want failure.Invalid", err)
			}
			var got []string
			for _, p := range invalid {
				got = append(got, p.Field)
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s\n%v", diff, invalid)
			}
		})
	}
}

func workflow(id string, jobs []string, targetJob string) Configuration {
	return Configuration{ConfigurationID: id, Workflow: &WorkflowSpec{AuthorizedJobIDs: jobs, TargetJobID: targetJob}}
}

func TestFindCycle(t *testing.T) {
	t.Parallel()
	deployed := []Configuration{
		workflow("w1", []string{"A"}, "B"),
		workflow("w2", []string{"B", "X"}, "C"),
	}
	tests := []struct {
		name string
		w    Configuration
		want []string
	}{
		{"a chain", workflow("w3", []string{"C"}, "D"), nil},
		{"closes a cycle", workflow("w3", []string{"C"}, "A"), []string{"A", "B", "C", "A"}},
		{"launches its own job", workflow("w3", []string{"E"}, "E"), []string{"E", "E"}},
		{"redeploying w2 into a cycle", workflow("w2", []string{"B"}, "A"), []string{"A", "B", "A"}},
		{"redeploying w2 out of it replaces its edges", workflow("w2", []string{"B"}, "D"), nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, findCycle(deployed, tt.w)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
