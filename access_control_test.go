package runway_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
)

// routeActions returns every action of every route, with its path.
func routeActions(t *testing.T, s *stacktest.Stack) map[string]string {
	t.Helper()
	actions := map[string]string{}
	for _, r := range runway.Routes {
		if r.Path == "" {
			continue // a Pub/Sub function: no actions, no members
		}
		h, err := r.New(s.Env)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := h.(interface{ Actions() []api.Action }); ok {
			for _, a := range e.Actions() {
				actions[a.Name] = r.Path
			}
		}
	}
	return actions
}

func TestEveryActionHasAPolicyAndAnExample(t *testing.T) {
	s := stacktest.New(t)
	actions := routeActions(t, s)
	for name, path := range actions {
		if auth.Required(name) == auth.RoleNone {
			t.Errorf("action %s has no role in auth.Policy", name)
		}
		ex, ok := stacktest.ExampleFor(name, "000099")
		if !ok || !strings.HasPrefix(ex.Path, path) {
			t.Errorf("action %s (%s) has no example request in stacktest", name, path)
		}
	}
	for name := range auth.Policy {
		if _, ok := actions[name]; !ok {
			t.Errorf("auth.Policy has %s, which no route serves", name)
		}
	}
}

// TestRoleMatrix sends every action as a member of every role, and as a
// stranger: each is refused with 403 exactly when the role is below the
// one auth.Policy requires, and succeeds (200) otherwise.
func TestRoleMatrix(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	roles := []auth.Role{auth.RoleNone, auth.RoleViewer, auth.RoleExecuter, auth.RoleEditor, auth.RoleAdmin}
	for _, role := range roles[1:] {
		if _, err := s.Env.Store.PutMember(ctx, "000099", role.String()+"@example.com", role, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Env.Store.PutMember(ctx, "000099", "leaving@example.com", auth.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	// The examples name a seeded run, which is finished: the actions that
	// need a RUNNING run get a new one for each request.
	const seededRun = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	needsRunning := map[string]bool{"cancel_run": true, "report_run_status": true}
	launch, _ := stacktest.ExampleFor("launch_job", "000099")
	for _, action := range stacktest.Actions() {
		need := auth.Required(action)
		for _, role := range roles {
			email := role.String() + "@example.com" // none@example.com is not a member
			t.Run(action+"/"+role.String(), func(t *testing.T) {
				ex, _ := stacktest.ExampleFor(action, "000099")
				if needsRunning[action] {
					var launched api.LaunchResponse
					s.Post(t, launch.Path, launch.Body).Decode(t, &launched)
					ex.Body = strings.ReplaceAll(ex.Body, seededRun, launched.RunID)
				}
				resp := s.Do(t, ex.Method, ex.Path, s.Token(t, email), ex.Body)
				switch {
				case role < need:
					e := resp.WantError(t, http.StatusForbidden)
					if role > auth.RoleNone && !strings.Contains(e.Message, need.String()) {
						t.Errorf("403 message %q does not name the %s role it needs", e.Message, need)
					}
				case resp.Status != http.StatusOK:
					t.Errorf("%s with role %s (needs %s): %s, want 200", action, role, need, resp)
				}
			})
		}
	}
}

// TestCrossAccountAccess: an admin of account 000110 acting on account
// 000099, where it is no member, gets 403 on every action of every
// endpoint; nothing of 000099 is changed or returned.
func TestCrossAccountAccess(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	if _, err := s.Env.Store.PutMember(ctx, "000110", "outsider@example.com", auth.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Env.Store.PutMember(ctx, "000099", "leaving@example.com", auth.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	before := s.Snapshot(t, "000099")
	outsider := s.Token(t, "outsider@example.com")
	secrets := []string{"iowa", "jarvis", "traffic", "0a795c70", stacktest.Admin, "leaving@"}
	for _, action := range stacktest.Actions() {
		t.Run(action, func(t *testing.T) {
			ex, _ := stacktest.ExampleFor(action, "000099")
			resp := s.Do(t, ex.Method, ex.Path, outsider, ex.Body)
			resp.WantError(t, http.StatusForbidden)
			for _, secret := range secrets {
				if strings.Contains(string(resp.Body), secret) {
					t.Errorf("the refusal reveals %q: %s", secret, resp.Body)
				}
			}
		})
	}
	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Errorf("requests from another account changed 000099 (-before +after):\n%s", diff)
	}
	// The same outsider may act on its own account.
	ex, _ := stacktest.ExampleFor("get_by_status", "000110")
	if resp := s.Do(t, ex.Method, ex.Path, outsider, ex.Body); resp.Status != http.StatusOK {
		t.Errorf("the outsider on its own account: %s", resp)
	}
}

// TestCrossAccountRunIDs: an admin of account 000110 naming, in its own
// account, a run of 000099 gets a 404 from every action that takes a run
// id, as if the run did not exist, and the run is left as it was: a role
// on one account gives no way to read or change another's runs.
func TestCrossAccountRunIDs(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	if _, err := s.Env.Store.PutMember(ctx, "000110", "outsider@example.com", auth.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	outsider := s.Token(t, "outsider@example.com")
	// 000110 has a configuration of the same id as the run's: only the
	// account differs.
	s.Do(t, http.MethodPost, "/v1/configuration", outsider, `{"action": "deploy_configuration", "configuration": {"account": "000110",
		"environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda"}}`).
		Decode(t, &api.ConfigurationResponse{})
	// A RUNNING run of 000099; its idempotency key is the executions
	// endpoint's messageId.
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "000099_iowa_liquor_prepare_pda_DEV", "idempotency_key": "nightly-1"}`).Decode(t, &launched)
	key, _ := runs.RunKey(launched.RunID)

	// Every example that names the seeded run, made to name the new one,
	// and the executions endpoint's ways of naming a run.
	const seededRun = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	requests := map[string]stacktest.Example{}
	for _, action := range stacktest.Actions() {
		if ex, _ := stacktest.ExampleFor(action, "000110"); strings.Contains(ex.Body, seededRun) {
			ex.Body = strings.ReplaceAll(ex.Body, seededRun, launched.RunID)
			requests[action] = ex
		}
	}
	for _, action := range []string{"check_run_status", "get_run_events", "set_run_status", "cancel_run", "report_run_status"} {
		if _, ok := requests[action]; !ok {
			t.Fatalf("the example of %s does not name the seeded run", action)
		}
	}
	audit := strconv.FormatInt(runs.AuditIDOf(key), 10)
	flow, _ := stacktest.ExampleFor("get_flow_status", "000110")
	requests["get_flow_status by auditId"] = stacktest.Example{Method: flow.Method, Path: flow.Path + "&auditId=" + audit}
	requests["get_flow_status by messageId"] = stacktest.Example{Method: flow.Method, Path: flow.Path + "&messageId=nightly-1"}
	requests["get_flow_status, the latest"] = flow

	before := s.Snapshot(t, "000099")
	for name, ex := range requests {
		t.Run(name, func(t *testing.T) {
			s.Do(t, ex.Method, ex.Path, outsider, ex.Body).WantError(t, http.StatusNotFound)
		})
	}
	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Errorf("requests from another account changed 000099 (-before +after):\n%s", diff)
	}
	// The same reads in 000099 find the run: the 404s are the account's.
	for name, want := range map[string]string{"check_run_status": launched.RunID, "get_run_events": launched.RunID,
		"get_flow_status by auditId": audit, "get_flow_status by messageId": audit} {
		ex := requests[name]
		ex.Path = strings.ReplaceAll(ex.Path, "000110", "000099")
		ex.Body = strings.ReplaceAll(ex.Body, "000110", "000099")
		if resp := s.Do(t, ex.Method, ex.Path, s.Token(t, stacktest.Admin), ex.Body); resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), want) {
			t.Errorf("%s in 000099: %s, want the run", name, resp)
		}
	}
}

// serviceAccountToken makes a token with `scripts/token --credentials`, as
// a user of the reference's google-jwt-generator.py would.
func serviceAccountToken(t *testing.T, keyFile string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "token")
	if out, err := exec.Command("go", "build", "-o", bin, "./scripts/token").CombinedOutput(); err != nil {
		t.Fatalf("build scripts/token: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--credentials", keyFile, "--audience", stacktest.Audience).Output()
	if err != nil {
		t.Fatalf("scripts/token --credentials: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestServiceAccountThatIsNotAMember(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	token := serviceAccountToken(t, s.ServiceAccountKeyFile(t, "stranger@data-platform.iam.gserviceaccount.com"))
	ex, _ := stacktest.ExampleFor("get_by_status", "000099")
	e := s.Do(t, http.MethodPost, ex.Path, token, ex.Body).WantError(t, http.StatusForbidden)
	if !strings.Contains(e.Message, "stranger@data-platform.iam.gserviceaccount.com has no access to account 000099") {
		t.Errorf("403 message %q", e.Message)
	}
}

func TestAPIDocListsEveryAction(t *testing.T) {
	doc, err := os.ReadFile("docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for action := range auth.Policy {
		if !strings.Contains(string(doc), "`"+action+"`") {
			t.Errorf("docs/api.md's endpoint table does not list %s", action)
		}
	}
}

func TestLogsNameTheCallerNeverTheToken(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	good := s.Token(t, "viewer@example.com")
	bad := good[:len(good)-4] + "AAAA" // a bad signature
	ex, _ := stacktest.ExampleFor("get_by_status", "000099")
	s.Do(t, http.MethodPost, ex.Path, good, ex.Body).WantError(t, http.StatusForbidden)
	s.Do(t, http.MethodPost, ex.Path, bad, ex.Body).WantError(t, http.StatusUnauthorized)

	logs := s.Logs()
	if !strings.Contains(logs, `"caller":"viewer@example.com"`) {
		t.Errorf("the request log does not name the caller:\n%s", logs)
	}
	for _, part := range strings.Split(good, ".") {
		if strings.Contains(logs, part) {
			t.Fatalf("the logs contain a part of the token:\n%s", logs)
		}
	}
}
