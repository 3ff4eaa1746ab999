package stacktest

import (
	"context"
	"sort"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// Example is a valid request of one action against the demo data.
type Example struct {
	Method string
	Path   string
	Body   string
}

// examples holds one request per action, with ACCOUNT in place of the
// account. Every action of the route table must have one: the access
// control tests send each of them with every role and from other accounts.
var examples = map[string]Example{
	"launch_job": {"POST", "/v1/dag/launch", `{"action": "launch_job", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV"}`},
	"check_run_status": {"POST", "/v1/dag/status", `{"action": "check_run_status", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV",
		"run_id": "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"}`},
	"get_last_status": {"POST", "/v1/dag/status", `{"action": "get_last_status", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV"}`},
	"get_by_status": {"POST", "/v1/dag/status", `{"action": "get_by_status", "account": "ACCOUNT", "configuration_type": "table-to-table"}`},
	"set_run_status": {"POST", "/v1/dag/status", `{"action": "set_run_status", "account": "ACCOUNT", "configuration_type": "table-to-table",
		"configuration_id": "000099_iowa_liquor_prepare_pda_DEV", "run_id": "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179",
		"status": "CHECKED"}`},
	"reset_workflow_status": {"POST", "/v1/workflow/status", `{"action": "reset_workflow_status", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "workflow", "configuration_id": "000099-iowa-liquor-load-pda"}`},
	"get_workflow_status": {"POST", "/v1/workflow/status", `{"action": "get_workflow_status", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "workflow", "configuration_id": "000099-iowa-liquor-load-pda"}`},
	"set_configuration_status": {"POST", "/v1/configuration/status", `{"action": "set_configuration_status", "activated": true, "archived": false,
		"account": "ACCOUNT", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000099_Load_PDA_f_traffic_ma_DEV"}`},
	"deploy_configuration": {"POST", "/v1/configuration", `{"action": "deploy_configuration", "configuration": {"account": "ACCOUNT",
		"environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000099_new_job",
		"default_gcp_project_id": "my-project", "workflow": []}}`},
	"get_configuration": {"POST", "/v1/configuration", `{"action": "get_configuration", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV"}`},
	"list_configurations": {"POST", "/v1/configuration", `{"action": "list_configurations", "account": "ACCOUNT"}`},
	"get_schedule": {"POST", "/v1/configuration", `{"action": "get_schedule", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000001_append_some_data_DEV"}`},
	"report_run_status": {"POST", "/v1/dag/status", `{"action": "report_run_status", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV",
		"run_id": "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179", "executor_id": "e-1", "status": "SUCCESS"}`},
	"get_run_events": {"POST", "/v1/dag/status", `{"action": "get_run_events", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV",
		"run_id": "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"}`},
	"cancel_run": {"POST", "/v1/dag/status", `{"action": "cancel_run", "account": "ACCOUNT", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV",
		"run_id": "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179", "reason": "wrong day"}`},
	"set_runs_status": {"POST", "/v1/dag/status", `{"action": "set_runs_status", "account": "ACCOUNT", "configuration_type": "table-to-table",
		"from_status": "FAILED", "status": "CHECKED", "before": "2020-12-31", "dry_run": true}`},
	"get_flow_status":       {"GET", "/rest/v1/executions/000099_iowa_liquor_prepare_pda_DEV?account=ACCOUNT", ""},
	"list_members":          {"POST", "/v1/access", `{"action": "list_members", "account": "ACCOUNT"}`},
	"add_member":            {"POST", "/v1/access", `{"action": "add_member", "account": "ACCOUNT", "email": "newcomer@example.com", "role": "viewer"}`},
	"remove_member":         {"POST", "/v1/access", `{"action": "remove_member", "account": "ACCOUNT", "email": "leaving@example.com"}`},
	"get_callback_settings": {"POST", "/v1/access", `{"action": "get_callback_settings", "account": "ACCOUNT"}`},
	"set_callback_settings": {"POST", "/v1/access", `{"action": "set_callback_settings", "account": "ACCOUNT",
		"allowed_hosts": ["hooks.example.com", "*.ci.example.com"]}`},
	"rotate_callback_secret": {"POST", "/v1/access", `{"action": "rotate_callback_secret", "account": "ACCOUNT"}`},
}

// ExampleFor returns the example request of action on account.
func ExampleFor(action, account string) (Example, bool) {
	ex, ok := examples[action]
	ex.Path = strings.ReplaceAll(ex.Path, "ACCOUNT", account)
	ex.Body = strings.ReplaceAll(ex.Body, "ACCOUNT", account)
	return ex, ok
}

// Snapshot returns every document under accounts/{account}, subcollections
// included, by path: what a test compares to prove a request changed
// nothing.
func (s *Stack) Snapshot(t testing.TB, account string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	var walk func(doc *firestore.DocumentRef)
	walk = func(doc *firestore.DocumentRef) {
		ctx := context.Background()
		snap, err := doc.Get(ctx)
		if err == nil {
			out[doc.Path] = snap.Data()
		}
		collections := doc.Collections(ctx)
		for {
			c, err := collections.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			refs, err := c.DocumentRefs(ctx).GetAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range refs {
				walk(ref)
			}
		}
	}
	walk(s.Env.Firestore.Collection("accounts").Doc(account))
	return out
}

// Actions lists the actions that have examples, sorted.
func Actions() []string {
	names := make([]string, 0, len(examples))
	for name := range examples {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
