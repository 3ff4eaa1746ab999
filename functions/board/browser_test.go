package board_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/stacktest"
)

// ScreenshotsDir is where TestBoardInABrowser writes a screenshot of each
// view, from the module's root; docs/board.md shows copies of them.
const ScreenshotsDir = ".runway/screenshots"

// chromium returns the browser the test drives: Debian's chromium, which
// scripts/test.sh installs. Without it the test fails, saying how to get
// it: a board nobody has clicked through is not tested.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("this test drives headless Chromium, which is not installed: run scripts/test.sh, which installs it, or: sudo apt-get install -y chromium (%v)", err)
	}
	return path
}

// newTab starts a headless Chromium of its own, with a fresh profile, and
// returns a tab of it; both end with the test.
func newTab(t *testing.T, exe string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // the test may run as root, in a container
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// Start the browser and open the tab now, on the tab's own context:
	// the first action starts them on its context, and each step has one
	// that ends with the step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return ctx
}

// TestBoardInABrowser clicks through the board as a person does, in
// headless Chromium, and checks what each action did through the API:
// sign in with a dev token, the demo account's FAILED runs, one of them
// set to CHECKED with a note, the demo workflow's gate reset; and a viewer
// who finds no action. It writes a screenshot of each view.
func TestBoardInABrowser(t *testing.T) {
	exe := chromium(t)
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "WorkflowTrigger")
	metBy := meetJA(t, s)
	tab := newTab(t, exe)
	base := s.Server.URL
	shots, err := filepath.Abs(filepath.Join("..", "..", ScreenshotsDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// Each step gets a minute: the machine may be loaded, and every wait
	// is on a condition, never on a time.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, time.Minute)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expression string) []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, time.Minute)
		defer cancel()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](expression))
		if err != nil {
			t.Fatalf("%s: %v", expression, err)
		}
		return got
	}
	texts := func(css string) []string {
		t.Helper()
		return eval(`[...document.querySelectorAll(` + quote(css) + `)].map(e => e.textContent.trim())`)
	}
	screenshot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, time.Minute)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Sign in with a dev token: the board sends a person not signed in to
	// the sign-in page.
	step("open the board", chromedp.Navigate(base+"/board/"), chromedp.WaitVisible(chromedp.ID("token")))
	screenshot("signin")
	step("sign in", chromedp.SetValue(chromedp.ID("token"), s.Token(t, stacktest.Admin)),
		loads(chromedp.Click(chromedp.CSS("form.signin button"))), chromedp.WaitVisible(chromedp.ID("account")))

	// The runs of the demo account, then its FAILED ones.
	step("open the demo account", chromedp.SetValue(chromedp.ID("account"), account),
		loads(chromedp.Click(chromedp.CSS("form.account button"))), chromedp.WaitVisible(chromedp.CSS("table.runs tbody tr th a")))
	if statuses := texts("table.runs tbody .status"); len(statuses) < 10 {
		t.Fatalf("the runs view shows %d runs", len(statuses))
	}
	screenshot("runs")
	step("filter to FAILED", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "FAILED"),
		loads(chromedp.Click(chromedp.CSS("form.filters button"))), chromedp.WaitVisible(chromedp.CSS("table.runs tbody tr th a")))
	statuses := texts("table.runs tbody .status")
	if len(statuses) == 0 {
		t.Fatal("no FAILED run is shown")
	}
	for _, st := range statuses {
		if st != "FAILED" {
			t.Fatalf("the FAILED filter shows a %s run: %v", st, statuses)
		}
	}
	screenshot("runs-failed")

	// A RUNNING row refreshes by itself when its run finishes.
	step("show the RUNNING runs", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "RUNNING"),
		loads(chromedp.Click(chromedp.CSS("form.filters button"))), chromedp.WaitVisible(chromedp.CSS("table.runs tbody tr[hx-get] th a")))
	running := eval(`[...document.querySelectorAll("table.runs tbody tr[hx-get] th a")].map(a => a.getAttribute("href"))`)[0]
	parts := strings.Split(running, "/") // /board/ACCOUNT/runs/TYPE/ID/RUN
	finished := api.RunResult{Account: account, ConfigurationType: parts[4], ConfigurationID: parts[5], RunID: parts[6]}
	s.Post(t, "/v1/dag/status", `{"action": "set_run_status", "account": "000099", "configuration_type": "`+finished.ConfigurationType+`",
		"configuration_id": "`+finished.ConfigurationID+`", "run_id": "`+finished.RunID+`", "status": "SUCCESS"}`).Decode(t, &api.Results{})
	step("see the row refresh", chromedp.Poll[chromedp.Void](`(() => { const a = document.querySelector(`+quote(`a[href="`+running+`"]`)+`);
		return a && a.closest("tr").querySelector(".status").textContent === "SUCCESS" && !a.closest("tr").hasAttribute("hx-get") })()`,
		chromedp.WithPollingTimeout(time.Minute)))

	// Open a FAILED run and set it to CHECKED, with a note.
	step("show the FAILED runs again", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "FAILED"),
		loads(chromedp.Click(chromedp.CSS("form.filters button"))), chromedp.WaitVisible(chromedp.CSS("table.runs tbody tr th a")))
	step("open a FAILED run", loads(chromedp.Click(chromedp.CSS("table.runs tbody tr th a"))), chromedp.WaitVisible(chromedp.CSS("form.check")))
	screenshot("run")
	identity := eval(`[...document.querySelectorAll("dl.fields dd")].slice(0, 6).map(e => e.textContent.trim())`)
	run := api.RunResult{Account: identity[0], Environment: identity[1], ConfigurationType: identity[2], ConfigurationID: identity[3], RunID: identity[5]}
	const note = "reloaded the source by hand"
	step("set it to CHECKED", chromedp.SetValue(chromedp.ID("note"), note), loads(chromedp.Click(chromedp.CSS("form.check button"))),
		chromedp.WaitVisible(chromedp.CSS("p.done")))
	if got := texts("#status"); len(got) != 1 || got[0] != "CHECKED" {
		t.Fatalf("the run page shows %v after CHECKED", got)
	}
	if got := checkRunStatus(t, s, run); got.Status != "CHECKED" {
		t.Fatalf("the API says the run is %s", got.Status)
	}
	var history api.RunEventsResponse
	s.Post(t, "/v1/dag/status", `{"action": "get_run_events", "account": "000099", "configuration_type": "`+run.ConfigurationType+`",
		"configuration_id": "`+run.ConfigurationID+`", "run_id": "`+run.RunID+`"}`).Decode(t, &history)
	last := history.Events[len(history.Events)-1]
	if last.From != "FAILED" || last.To != "CHECKED" || last.By != stacktest.Admin || last.Detail != note {
		t.Fatalf("the API recorded %+v", last)
	}
	screenshot("run-checked")

	// The configurations, and the demo workflow's gate.
	step("open the configurations", loads(chromedp.Click(chromedp.CSS(`nav a[href$="/configurations"]`))),
		chromedp.WaitVisible(chromedp.CSS("table.configurations")))
	screenshot("configurations")
	step("open the demo workflow's gate", loads(chromedp.Click(chromedp.CSS(`a.gate[href$="/000099-iowa-liquor-load-pda"]`))),
		chromedp.WaitVisible(chromedp.CSS("table.criteria")))
	if met := texts("table.criteria td:nth-child(3)"); len(met) != 3 || met[0] != metBy {
		t.Fatalf("the gate shows the runs %v, want JA met by %s", met, metBy)
	}
	screenshot("workflow")
	before := workflowStatus(t, s)
	step("reset the workflow", loads(chromedp.Click(chromedp.CSS("form.reset button"))), chromedp.WaitVisible(chromedp.CSS("p.done")))
	if states := texts("table.criteria td:nth-child(2)"); strings.Join(states, ",") != "not met,not met,not met" {
		t.Fatalf("after the reset the gate shows %v", states)
	}
	after := workflowStatus(t, s)
	if after.Cycle != before.Cycle+1 || after.LastResetBy != stacktest.Admin {
		t.Fatalf("the API shows cycle %d reset by %q, after cycle %d", after.Cycle, after.LastResetBy, before.Cycle)
	}
	for _, c := range after.Criteria {
		if c.Met {
			t.Fatalf("after the reset the API shows %s met", c.JobID)
		}
	}
	screenshot("workflow-reset")

	// A viewer finds no action, on a FAILED run's page and on the gate.
	const viewer = "viewer@example.com"
	addMember(t, s, viewer, auth.RoleViewer)
	failed := failedRun(t, s)
	step("sign out", loads(chromedp.Click(chromedp.CSS(`form[action="/board/signout"] button`))), chromedp.WaitVisible(chromedp.ID("token")))
	step("sign in as a viewer", chromedp.SetValue(chromedp.ID("token"), s.Token(t, viewer)),
		loads(chromedp.Click(chromedp.CSS("form.signin button"))), chromedp.WaitVisible(chromedp.ID("account")))
	for _, path := range []string{boardURL(failed), "/board/000099/workflows/DEV/000099-iowa-liquor-load-pda", "/board/000099/configurations"} {
		step("open "+path+" as a viewer", chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main table")))
		if forms := eval(`[...document.querySelectorAll("main form[method=post] button")].map(e => e.outerHTML)`); len(forms) > 0 {
			t.Errorf("a viewer finds actions on %s: %v", path, forms)
		}
		if path == boardURL(failed) {
			screenshot("run-viewer")
		}
	}
}

// loads runs trigger, a click that leads to another page, and waits for
// that page to load.
func loads(trigger chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.WaitEvent(page.LoadEventFired, nil, trigger)(ctx, t)
		return chromedp.Void{}, err
	}
}

// meetJA makes the demo workflow's first job succeed, as its executor
// would, and waits until the workflow counts it; it returns the run.
func meetJA(t *testing.T, s *stacktest.Stack) string {
	t.Helper()
	const ja = `"account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_JA_DEV"`
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", `+ja+`}`).Decode(t, &launched)
	s.Post(t, "/v1/dag/status", `{"action": "set_run_status", `+ja+`, "run_id": "`+launched.RunID+`", "status": "SUCCESS"}`).Decode(t, &api.Results{})
	stacktest.Eventually(t, "the workflow to count JA's success", func() bool {
		c := workflowStatus(t, s).Criteria
		return len(c) == 3 && c[0].Met && c[0].RunID == launched.RunID
	})
	return launched.RunID
}

func workflowStatus(t *testing.T, s *stacktest.Stack) api.WorkflowStatus {
	t.Helper()
	var got api.WorkflowStatusResponse
	s.Post(t, "/v1/workflow/status", `{"action": "get_workflow_status", "account": "000099", "environment": "DEV",
		"configuration_type": "workflow", "configuration_id": "000099-iowa-liquor-load-pda"}`).Decode(t, &got)
	return got.Workflow
}

// quote writes s as a JavaScript string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
