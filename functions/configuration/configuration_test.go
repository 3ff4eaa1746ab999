package configuration_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const path = "/v1/configuration"

// referenceDefinition returns the JSON example of a reference document.
func referenceDefinition(t *testing.T, file string) map[string]any {
	t.Helper()
	block := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(testenv.ReferenceFile(t, file))
	var def map[string]any
	if block == nil || json.Unmarshal(block[1], &def) != nil {
		t.Fatalf("no JSON example in %s", file)
	}
	return def
}

func deploy(t *testing.T, s *stacktest.Stack, def map[string]any) stacktest.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": def})
	return s.Post(t, path, string(body))
}

func TestDeployAndGetTheReferenceExamples(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	def := referenceDefinition(t, "tailer-table-to-table-configuration-example.md")

	var got api.ConfigurationResponse
	deploy(t, s, def).Decode(t, &got)
	c := got.Configuration
	if c.ConfigurationID != "000099_test_sql_dag_v1_PROD" || c.JobID != "gbq-to-gbq|000099_test_sql_dag_v1_PROD" ||
		c.Environment != "PROD" || !c.Activated || c.Archived || c.UpdatedBy != stacktest.Admin || c.UpdatedAt == "" {
		t.Errorf("deployed = %+v", c)
	}
	if diff := cmp.Diff(def, c.Definition); diff != "" {
		t.Errorf("the definition was not kept as given (-given +stored):\n%s", diff)
	}
	firstVersion := c.Version

	deploy(t, s, def).Decode(t, &got)
	if got.Configuration.Version != firstVersion+1 {
		t.Errorf("redeploy version = %d, want %d", got.Configuration.Version, firstVersion+1)
	}
	var read api.ConfigurationResponse
	s.Post(t, path, `{"action": "get_configuration", "account": "000099", "environment": "PROD",
		"configuration_type": "table-to-table", "configuration_id": "000099_test_sql_dag_v1_PROD"}`).Decode(t, &read)
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("get_configuration differs from what the deploy answered:\n%s", diff)
	}

	// Every deploy is kept in the configuration's history.
	deploys := 0
	for docPath, doc := range s.Snapshot(t, "000099") {
		if strings.Contains(docPath, "000099_test_sql_dag_v1_PROD/events/") && doc["type"] == "deployed" {
			deploys++
		}
	}
	if deploys != firstVersion+1 {
		t.Errorf("%d deploys in the history, want %d", deploys, firstVersion+1)
	}

	// The reference's workflow example: its target is a demo configuration.
	deploy(t, s, referenceDefinition(t, "tailer-workflow-configuration.md")).Decode(t, &got)
	if got.Configuration.ConfigurationType != "workflow" || got.Configuration.ConfigurationID != "workflow-Load_Configuration" {
		t.Errorf("workflow deployed as %+v", got.Configuration)
	}
	s.Post(t, path, `{"action": "get_configuration", "account": "000099", "environment": "PROD",
		"configuration_type": "table-to-table", "configuration_id": "missing_PROD"}`).WantError(t, http.StatusNotFound)
}

func TestListConfigurations(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	data := s.Seed(t)
	list := func(body string) api.ConfigurationsResponse {
		t.Helper()
		var got api.ConfigurationsResponse
		s.Post(t, path, body).Decode(t, &got)
		for _, c := range got.Configurations {
			if c.Definition != nil {
				t.Fatalf("list_configurations returned the definition of %s", c.ConfigurationID)
			}
		}
		return got
	}
	inAccount := 0
	for _, c := range data.Configurations {
		if c.Account == "000099" {
			inAccount++
		}
	}

	// Page through everything, two at a time.
	var all []string
	token := ""
	for page := 0; ; page++ {
		got := list(`{"action": "list_configurations", "account": "000099", "limit": 2, "page_token": "` + token + `"}`)
		if len(got.Configurations) > 2 || page > inAccount {
			t.Fatalf("page %d has %d configurations", page, len(got.Configurations))
		}
		for _, c := range got.Configurations {
			all = append(all, c.Environment+"~"+c.ConfigurationID)
		}
		if got.NextPageToken == "" {
			break
		}
		token = got.NextPageToken
	}
	if len(all) != inAccount {
		t.Errorf("paging listed %d configurations, want %d: %v", len(all), inAccount, all)
	}

	workflows := list(`{"action": "list_configurations", "account": "000099", "configuration_type": "workflow"}`)
	if len(workflows.Configurations) != 2 || workflows.NextPageToken != "" {
		t.Errorf("workflows = %+v", workflows)
	}
	prod := list(`{"action": "list_configurations", "account": "000099", "environment": "PROD", "activated": true}`)
	if len(prod.Configurations) != 1 || prod.Configurations[0].ConfigurationID != "000099_test_sql_dag_v1_PROD" {
		t.Errorf("activated PROD configurations = %+v", prod)
	}
	if none := list(`{"action": "list_configurations", "account": "000099", "activated": false}`); len(none.Configurations) != 0 {
		t.Errorf("deactivated configurations = %+v", none)
	}
	s.Post(t, path, `{"action": "list_configurations", "account": "000099", "page_token": "not base64!"}`).WantError(t, http.StatusBadRequest, "page_token")
}

// Deploying an invalid definition answers 400 naming the problem, and
// stores nothing.
func TestInvalidDefinitionsStoreNothing(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	before := s.Snapshot(t, "000099")
	workflowTo := func(jobs, targetType, targetID string) string {
		return `{"action": "deploy_configuration", "configuration": {"configuration_type": "workflow", "configuration_id": "w-new",
			"version": "2", "environment": "DEV", "account": "000099", "gcp_project_id": "p", "authorized_job_ids": [` + jobs + `],
			"target_dag": {"configuration_type": "` + targetType + `", "configuration_id": "` + targetID + `"}}}`
	}
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"no configuration", `{"action": "deploy_configuration"}`, []string{"configuration"}},
		{"missing fields", `{"action": "deploy_configuration", "configuration": {"account": "000099", "environment": "DEV"}}`,
			[]string{"configuration.configuration_id", "configuration.configuration_type"}},
		{"unknown type", `{"action": "deploy_configuration", "configuration": {"account": "000099", "environment": "DEV",
			"configuration_type": "spreadsheet-to-table", "configuration_id": "x"}}`, []string{"configuration.configuration_type"}},
		{"no authorized job", workflowTo(``, "table-to-table", "000099_iowa_liquor_JT_DEV"), []string{"configuration.authorized_job_ids"}},
		{"unknown target", workflowTo(`"gbq-to-gbq|000099_iowa_liquor_JA_DEV"`, "table-to-table", "missing_DEV"), []string{"configuration.target_dag"}},
		{"target of another type", workflowTo(`"gbq-to-gbq|000099_iowa_liquor_JA_DEV"`, "table-to-storage", "000099_iowa_liquor_JT_DEV"), []string{"configuration.target_dag"}},
		// 000099-iowa-liquor-load-pda launches JT when JA, JB and JC succeed:
		// launching JA when JT succeeds closes the loop.
		{"cycle", workflowTo(`"gbq-to-gbq|000099_iowa_liquor_JT_DEV"`, "table-to-table", "000099_iowa_liquor_JA_DEV"), []string{"configuration.target_dag"}},
		{"bad cron", strings.Replace(workflowTo(`"gbq-to-gbq|000099_iowa_liquor_JA_DEV"`, "table-to-table", "000099_iowa_liquor_JT_DEV"),
			`"gcp_project_id"`, `"schedule_interval_reset": "61 * * * *", "gcp_project_id"`, 1), []string{"configuration.schedule_interval_reset"}},
		{"definition not an object", `{"action": "deploy_configuration", "configuration": ["x"]}`, []string{"configuration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.Post(t, path, tt.body).WantError(t, http.StatusBadRequest, tt.fields...)
			if tt.name == "cycle" && !strings.Contains(e.Message, "gbq-to-gbq|000099_iowa_liquor_JA_DEV → gbq-to-gbq|000099_iowa_liquor_JT_DEV → gbq-to-gbq|000099_iowa_liquor_JA_DEV") {
				t.Errorf("the cycle is not named: %q", e.Message)
			}
		})
	}
	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Errorf("refused deploys stored something (-before +after):\n%s", diff)
	}
}
