package terraform_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestTerraformMatchesTheCode runs every cross-check on terraform/.
func TestTerraformMatchesTheCode(t *testing.T) {
	for _, p := range check(".", "../go.mod", usedIndexes(t)) {
		t.Error(p)
	}
}

// TestChecksCatchMutations shows that each check bites: a copy of
// terraform/ with one thing removed or renamed fails it.
func TestChecksCatchMutations(t *testing.T) {
	used := usedIndexes(t)
	mutations := []mutation{
		{"a route's function removed", "lb.tf", `    Access = {`, `    Accessed = {`, "no route to Access"},
		{"an entry point renamed", "function_dag_launch.tf", `entry_point       = "DagLaunch"`, `entry_point       = "Launch"`, "route DagLaunch has no google_cloudfunctions2_function"},
		{"an env var removed", "main.tf", "    RUNWAY_SYSTEM_CALLERS", "    # RUNWAY_SYSTEM_CALLERS", "does not set RUNWAY_SYSTEM_CALLERS"},
		{"a topic renamed", "pubsub.tf", `run_events = "runway-run-events"`, `run_events = "runway-events"`, "publishes to runway-run-events"},
		{"a push subscription removed", "function_workflow_trigger.tf", `push_endpoint = google_cloudfunctions2_function.workflow_trigger`, `push_endpoint = google_cloudfunctions2_function.workflow_status`, "no push subscription feeds WorkflowTrigger"},
		{"an open ingress", "function_executions.tf", `"ALLOW_INTERNAL_AND_GCLB"`, `"ALLOW_ALL"`, "Executions: ingress_settings"},
		{"a timeout too short to wait", "function_dag_status.tf", `timeout_seconds                  = 90`, `timeout_seconds                  = 60`, "DagStatus: service_config.timeout_seconds"},
		{"a service account id too long", "function_callback_dispatcher.tf", `"runway-push-callbacks"`, `"runway-push-callback-dispatcher"`, "account_id \"runway-push-callback-dispatcher\""},
		{"a dead-letter policy shorter than the callback attempts", "variables.tf",
			"own).\"\n  default     = 10", "own).\"\n  default     = 8", "push_max_delivery_attempts"},
		{"a runtime behind go.mod", "variables.tf", `default     = "go126"`, `default     = "go125"`, "go_runtime"},
		{"a public function", "scheduler.tf", `member   = google_service_account.reaper_scheduler.member`, `member   = "allUsers"`, "grants allUsers"},
		{"waits not bound by the concurrency", "main.tf", "tostring(max(1, floor(var.max_instance_request_concurrency / 2)))", `"40"`, "RUNWAY_MAX_WAITS"},
		{"a subscription that receives what its function ignores", "function_workflow_trigger.tf", "filter = \"attributes.status = \\\"SUCCESS\\\"\"", "", "subscription workflow_trigger filters"},
		{"a publish right removed", "function_reaper.tf", "    \"launch\",\n    \"run_events\",", "    \"run_events\",", "Reaper may publish to [run_events] in Terraform, its route declares [launch run_events]"},
		{"a subscription's tokens for another function", "function_callback_dispatcher.tf",
			`audience = local.push_audiences["CallbackDispatcher"]`, `audience = local.push_audiences["WorkflowTrigger"]`,
			"subscription callback_dispatcher issues tokens for https://europe-west1-VAR-project.cloudfunctions.net/runway-workflow-trigger, which CallbackDispatcher does not accept"},
		{"the scheduler's tokens for the run.app URL", "scheduler.tf",
			`audience = local.push_audiences["Reaper"]`, `audience = google_cloudfunctions2_function.reaper.service_config[0].uri`,
			"scheduler job reaper: http_target.oidc_token.audience does not evaluate"},
		{"a subscription without an audience", "function_workflow_trigger.tf",
			`audience = local.push_audiences["WorkflowTrigger"]`, ``, "subscription workflow_trigger sets no push_config.oidc_token.audience"},
		{"a function told another's URL", "main.tf",
			`Reaper             = "${local.functions_url}/runway-reaper"`, `Reaper             = "${local.functions_url}/runway-workflow-trigger"`,
			"Reaper accepts https://europe-west1-VAR-project.cloudfunctions.net/runway-workflow-trigger, which is not its URL"},
		{"a function told another project's URL", "main.tf",
			`functions_url = "https://${var.region}-${var.project}.cloudfunctions.net"`, `functions_url = "https://${var.region}-other.cloudfunctions.net"`,
			"which is not its URL"},
		{"a function sized below the load", "main.tf", "DagStatus           = { max_instances = 60,", "DagStatus           = { max_instances = 30,",
			"DagStatus: at most 30 instances, want 60"},
		{"a function sized outside the table", "function_dag_launch.tf",
			"max_instance_count               = min(var.max_instance_count, local.function_scaling.DagLaunch.max_instances)",
			"max_instance_count               = 100", "DagLaunch: service_config.max_instance_count must be"},
		{"two Reaper passes at once", "main.tf", "Reaper              = { max_instances = 1, concurrency = 1 }",
			"Reaper              = { max_instances = 2, concurrency = 1 }", "Reaper: 2 instances"},
		{"the board without IAP", "lb.tf", "    enabled              = true", "    enabled              = false", "Board: its backend service board has no iap block"},
		{"the board open to all", "lb.tf", "  member   = google_project_service_identity.iap.member", `  member   = "allUsers"`, "grants allUsers"},
		{"the board at another path", "lb.tf", `board_paths    = ["/board/*"]`, `board_paths    = ["/boards/*"]`, "the load balancer serves Board at [/boards/*]"},
		{"the board's OAuth client hard-coded", "lb.tf", "oauth2_client_id     = var.iap_oauth2_client_id", `oauth2_client_id     = "x"`, "iap.oauth2_client_id must be var.iap_oauth2_client_id"},
		{"the board's NEG another function's", "lb.tf", "    service = local.board_function", `    service = "runway-dag-status"`, "no backend service's NEG is its Cloud Run service"},
		{"the board checking another backend's assertions", "main.tf", "google_compute_backend_service.board.generated_id",
			`google_compute_backend_service.runway["DagStatus"].generated_id`, "RUNWAY_IAP_AUDIENCE must be"},
		{"an index removed", "firestore.tf", `    ["kind", "environment", "status"],`, ``, "runs: environment ASCENDING, kind ASCENDING, lane ASCENDING, status ASCENDING; start_execution_date DESCENDING"},
	}
	checkMutations(t, used, mutations)
}

// mutation changes one thing in a copy of terraform/: the first from in
// file becomes to, which the checks must notice, saying want.
type mutation struct {
	name, file, from, to, want string
}

// checkMutations runs the checks on a copy of terraform/ per mutation.
func checkMutations(t *testing.T, used []string, mutations []mutation) {
	t.Helper()
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			dir := copyModule(t)
			path := filepath.Join(dir, m.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), m.from) {
				t.Fatalf("%s has no %q to mutate", m.file, m.from)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(data), m.from, m.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			problems := check(dir, "../go.mod", used)
			for _, p := range problems {
				if strings.Contains(p, m.want) {
					return
				}
			}
			t.Errorf("the check did not notice; it said %q", problems)
		})
	}
}

// copyModule copies the .tf files of terraform/ into a temporary directory.
func copyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("*.tf")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTerraformIsFormatted runs terraform fmt -check -recursive where
// terraform is installed. Elsewhere (terraform cannot be installed from the
// Go module proxy) it checks every file against hclwrite.Format, the
// formatter terraform fmt is built on.
func TestTerraformIsFormatted(t *testing.T) {
	if bin, err := exec.LookPath("terraform"); err == nil {
		out, err := exec.Command(bin, "fmt", "-check", "-recursive", ".").CombinedOutput()
		if err != nil {
			t.Errorf("terraform fmt -check -recursive: %v\n%s", err, out)
		}
		return
	}
	t.Log("terraform is not installed: checking the files against hclwrite.Format")
	files, _ := filepath.Glob("*.tf")
	more, _ := filepath.Glob("examples/*/*.tf")
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if formatted := hclwrite.Format(data); string(formatted) != string(data) {
			t.Errorf("%s is not formatted: run terraform fmt -recursive terraform", f)
		}
	}
	if len(files) == 0 {
		t.Fatal("no .tf file found")
	}
}

func TestExecutorExampleFiltersOnTheLaunchAttribute(t *testing.T) {
	data, err := os.ReadFile("examples/executor/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`attributes\.` + message.AttrConfigurationType + `\b`).Match(data) {
		t.Errorf("the executor example does not filter on attributes.%s", message.AttrConfigurationType)
	}
	if problems := checkParses("examples/executor"); len(problems) > 0 {
		t.Error(problems)
	}
}

func checkParses(dir string) []string {
	if _, err := parseModule(dir); err != nil {
		return []string{err.Error()}
	}
	return nil
}
