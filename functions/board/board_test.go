package board_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const account = "000099"

// browser is a person at the board: an HTTP client with the board's
// cookies, which follows redirects as a browser does.
type browser struct {
	t      *testing.T
	s      *stacktest.Stack
	client *http.Client
}

// signIn signs email in through the dev sign-in page.
func signIn(t *testing.T, s *stacktest.Stack, email string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, s: s, client: &http.Client{Jar: jar}}
	if code, body := b.get("/board/signin"); code != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Fatalf("the sign-in page: %d\n%s", code, body)
	}
	code, body, at := b.post("/board/signin", url.Values{"token": {s.Token(t, email)}, "next": {"/board/"}})
	if code != http.StatusOK || at != "/board/" || !strings.Contains(body, email) {
		t.Fatalf("signing in: %d at %s\n%s", code, at, body)
	}
	return b
}

func (b *browser) do(req *http.Request) (int, string, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Request.URL.RequestURI()
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.s.Server.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	code, body, _ := b.do(req)
	return code, body
}

// post sends a form with the CSRF token of the browser's cookie, as the
// board's forms do, and returns the page it ends on.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.cookie("runway_board_csrf"))
	}
	req, err := http.NewRequest(http.MethodPost, b.s.Server.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.s.Server.URL + "/board/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// failedRun returns a FAILED run of the demo account, through the API.
func failedRun(t *testing.T, s *stacktest.Stack) api.RunResult {
	t.Helper()
	var found api.Results
	s.Post(t, "/v1/dag/status", `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table",
		"status": "FAILED", "limit": 1}`).Decode(t, &found)
	if len(found.Results) != 1 {
		t.Fatal("the demo account has no FAILED run")
	}
	return found.Results[0]
}

func checkRunStatus(t *testing.T, s *stacktest.Stack, run api.RunResult) api.RunResult {
	t.Helper()
	var got api.Results
	s.Post(t, "/v1/dag/status", `{"action": "check_run_status", "account": "000099", "environment": "`+run.Environment+`",
		"configuration_type": "`+run.ConfigurationType+`", "configuration_id": "`+run.ConfigurationID+`", "run_id": "`+run.RunID+`"}`).Decode(t, &got)
	return got.Results[0]
}

func boardURL(run api.RunResult) string {
	return "/board/" + run.Account + "/runs/" + run.ConfigurationType + "/" + run.ConfigurationID + "/" + run.RunID
}

// addMember gives email a role on the demo account.
func addMember(t *testing.T, s *stacktest.Stack, email string, role auth.Role) {
	t.Helper()
	if _, err := s.Env.Store.PutMember(context.Background(), account, email, role, stacktest.Admin); err != nil {
		t.Fatal(err)
	}
}

var actionForm = regexp.MustCompile(`<form method="post" action="[^"]*/(check|cancel|status|reset)"`)

// TestViewerSeesNoActions: a viewer reads every page but gets no action
// form, and the actions' forms posted anyway are refused with 403, the
// API's answer, changing nothing.
func TestViewerSeesNoActions(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	const viewer = "viewer@example.com"
	addMember(t, s, viewer, auth.RoleViewer)
	run := failedRun(t, s)
	b := signIn(t, s, viewer)
	gate := "/board/000099/workflows/DEV/000099-iowa-liquor-load-pda"
	for _, path := range []string{"/board/000099/runs", boardURL(run), "/board/000099/configurations", gate} {
		code, body := b.get(path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, code, body)
		}
		if m := actionForm.FindString(body); m != "" {
			t.Errorf("GET %s shows a viewer an action: %s", path, m)
		}
	}
	before := checkRunStatus(t, s, run)
	var gateBefore api.WorkflowStatusResponse
	gateRequest := `{"action": "get_workflow_status", "account": "000099", "environment": "DEV", "configuration_type": "workflow",
		"configuration_id": "000099-iowa-liquor-load-pda"}`
	s.Post(t, "/v1/workflow/status", gateRequest).Decode(t, &gateBefore)

	for path, form := range map[string]url.Values{
		boardURL(run) + "/check":  {"expected_status": {"FAILED"}, "note": {"not mine to check"}},
		boardURL(run) + "/cancel": {},
		"/board/000099/configurations/DEV/table-to-table/000099_iowa_liquor_JA_DEV/status": {"activated": {"false"}},
		gate + "/reset": {},
	} {
		code, body, _ := b.post(path, form)
		if code != http.StatusForbidden || !strings.Contains(body, "needs the") {
			t.Errorf("a viewer's POST %s: %d\n%s", path, code, body)
		}
	}
	if after := checkRunStatus(t, s, run); !cmp.Equal(after, before) {
		t.Errorf("the run changed: %+v → %+v", before, after)
	}
	var cfg api.ConfigurationResponse
	s.Post(t, "/v1/configuration", `{"action": "get_configuration", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_JA_DEV"}`).Decode(t, &cfg)
	if !cfg.Configuration.Activated {
		t.Error("the viewer deactivated a configuration")
	}
	var gateAfter api.WorkflowStatusResponse
	s.Post(t, "/v1/workflow/status", gateRequest).Decode(t, &gateAfter)
	if gateAfter.Workflow.Cycle != gateBefore.Workflow.Cycle || gateAfter.Workflow.LastResetBy != "" {
		t.Errorf("the viewer reset the workflow: %+v", gateAfter.Workflow)
	}

	// An executer sees the run's action, and not the editors'.
	const executer = "executer@example.com"
	addMember(t, s, executer, auth.RoleExecuter)
	e := signIn(t, s, executer)
	if _, body := e.get(boardURL(run)); !strings.Contains(body, `class="check"`) {
		t.Errorf("an executer gets no CHECKED form:\n%s", body)
	}
	for _, path := range []string{"/board/000099/configurations", gate} {
		if _, body := e.get(path); actionForm.MatchString(body) {
			t.Errorf("GET %s shows an executer an editor's action", path)
		}
	}
}

// TestCheckedIsACompareAndSet: two people set the same FAILED run to
// CHECKED at once, from pages that showed it FAILED: one changes it, the
// other is told what it became, as the API's expected_status answers.
func TestCheckedIsACompareAndSet(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	run := failedRun(t, s)
	ada, bob := signIn(t, s, stacktest.Admin), signIn(t, s, stacktest.Admin)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	bodies := make([]string, 2)
	for i, b := range []*browser{ada, bob} {
		wg.Go(func() {
			codes[i], bodies[i], _ = b.post(boardURL(run)+"/check", url.Values{"expected_status": {"FAILED"}, "note": {"by " + []string{"ada", "bob"}[i]}})
		})
	}
	wg.Wait()
	ok, conflict := 0, 0
	for i, code := range codes {
		switch {
		case code == http.StatusOK && strings.Contains(bodies[i], "The run is CHECKED."):
			ok++
		case code == http.StatusConflict && strings.Contains(bodies[i], "is CHECKED, not FAILED as expected; nothing was changed"):
			conflict++
		default:
			t.Errorf("a CHECKED: %d\n%s", code, bodies[i])
		}
	}
	if ok != 1 || conflict != 1 {
		t.Errorf("%d changed it and %d were refused, want 1 and 1", ok, conflict)
	}
	if got := checkRunStatus(t, s, run); got.Status != "CHECKED" {
		t.Errorf("the run is %s", got.Status)
	}
}

// TestForms: every form needs the CSRF token of the browser's cookie, and
// a cross-site POST is refused whatever it carries.
func TestForms(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	run := failedRun(t, s)
	b := signIn(t, s, stacktest.Admin)
	check := boardURL(run) + "/check"
	for name, token := range map[string]string{"no token": "", "another token": strings.Repeat("x", 43)} {
		form := url.Values{"expected_status": {"FAILED"}}
		req, _ := http.NewRequest(http.MethodPost, s.Server.URL+check, strings.NewReader(form.Encode()+"&csrf="+token))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if code, body, _ := b.do(req); code != http.StatusForbidden || !strings.Contains(body, "was not sent from a page of the board") {
			t.Errorf("%s: %d\n%s", name, code, body)
		}
	}
	form := url.Values{"expected_status": {"FAILED"}, "csrf": {b.cookie("runway_board_csrf")}}
	req, _ := http.NewRequest(http.MethodPost, s.Server.URL+check, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if code, _, _ := b.do(req); code != http.StatusForbidden {
		t.Errorf("a cross-site POST: %d", code)
	}
	if got := checkRunStatus(t, s, run); got.Status != "FAILED" {
		t.Errorf("a refused form changed the run to %s", got.Status)
	}
	// A bad value is the API's 400, naming the field.
	if code, body, _ := b.post(check, url.Values{"expected_status": {"failed"}}); code != http.StatusBadRequest || !strings.Contains(body, "expected_status") {
		t.Errorf("a bad expected_status: %d\n%s", code, body)
	}
}

// TestHeaders: pages, errors and assets forbid framing and sniffing, and
// load nothing but the board's own scripts and styles; the cookies are
// the board's, HttpOnly and SameSite.
func TestHeaders(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	b := signIn(t, s, stacktest.Admin)
	for _, path := range []string{"/board/000099/runs", "/board/nope/x/y", "/board/_static/board.css", "/board/signin"} {
		resp, err := b.client.Get(s.Server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe") || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", path, h)
		}
	}
	resp, err := http.Get(s.Server.URL + "/board/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/board/" {
			t.Errorf("cookie %s: %+v", c.Name, c)
		}
	}
}

// TestSignIn: pages send a person not signed in to the sign-in page, and
// back after; a token that is no dev token is refused there.
func TestSignIn(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, s: s, client: &http.Client{Jar: jar}}
	code, body, at := b.do(mustRequest(t, http.MethodGet, s.Server.URL+"/board/000099/configurations"))
	if code != http.StatusOK || !strings.HasPrefix(at, "/board/signin?next=") {
		t.Fatalf("not signed in: %d at %s", code, at)
	}
	next := regexp.MustCompile(`name="next" value="([^"]+)"`).FindStringSubmatch(body)
	if next == nil || next[1] != "/board/000099/configurations" {
		t.Fatalf("the sign-in form goes on to %v", next)
	}
	if code, body, _ := b.post("/board/signin", url.Values{"token": {"not-a-token"}, "next": {next[1]}}); code != http.StatusUnauthorized ||
		!strings.Contains(body, "not a well-formed JWT") {
		t.Errorf("a bad token: %d\n%s", code, body)
	}
	if code, body, at := b.post("/board/signin", url.Values{"token": {s.Token(t, stacktest.Admin)}, "next": {next[1]}}); code != http.StatusOK ||
		at != "/board/000099/configurations" || !strings.Contains(body, "000099_iowa_liquor_JA_DEV") {
		t.Errorf("signed in: %d at %s", code, at)
	}
	// Only the board's pages are places to go on to.
	for _, next := range []string{"https://evil.example/board/", "//evil.example/board/", "/v1/access"} {
		if _, _, at := b.post("/board/signin", url.Values{"token": {s.Token(t, stacktest.Admin)}, "next": {next}}); at != "/board/" {
			t.Errorf("next %s went to %s", next, at)
		}
	}
	if code, _, at := b.post("/board/signout", url.Values{}); code != http.StatusOK || at != "/board/signin" {
		t.Errorf("signing out: %d at %s", code, at)
	}
	if _, _, at := b.do(mustRequest(t, http.MethodGet, s.Server.URL+"/board/000099/runs")); !strings.HasPrefix(at, "/board/signin") {
		t.Errorf("signed out, the runs page is at %s", at)
	}
}

func mustRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestActions: an editor's switch and a cancel do what the API's
// set_configuration_status and cancel_run do, and say so on the page they
// return to.
func TestActions(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	b := signIn(t, s, stacktest.Admin)
	const ja = "/board/000099/configurations/DEV/table-to-table/000099_iowa_liquor_JA_DEV/status"
	getJA := func() api.ConfigurationResult {
		var cfg api.ConfigurationResponse
		s.Post(t, "/v1/configuration", `{"action": "get_configuration", "account": "000099", "environment": "DEV",
			"configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_JA_DEV"}`).Decode(t, &cfg)
		return cfg.Configuration
	}
	back := "/board/000099/configurations?environment=DEV"
	code, body, at := b.post(ja, url.Values{"activated": {"false"}, "back": {back}})
	if code != http.StatusOK || at != "/board/000099/configurations?done=deactivated&environment=DEV" || !strings.Contains(body, "The configuration is deactivated.") {
		t.Fatalf("deactivating: %d at %s", code, at)
	}
	if c := getJA(); c.Activated || c.Archived {
		t.Fatalf("after Deactivate the API says activated %v, archived %v", c.Activated, c.Archived)
	}
	if _, _, at := b.post(ja, url.Values{"activated": {"true"}, "back": {"https://evil.example/"}}); at != "/board/000099/configurations?done=activated" {
		t.Errorf("activating went back to %s", at)
	}
	if !getJA().Activated {
		t.Error("Activate did not activate")
	}
	if code, body, _ := b.post(ja, url.Values{}); code != http.StatusBadRequest || !strings.Contains(body, "activated") {
		t.Errorf("a switch that says neither: %d", code)
	}

	// Cancel a RUNNING run of the demo.
	var running api.Results
	s.Post(t, "/v1/dag/status", `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table",
		"status": "RUNNING", "limit": 1}`).Decode(t, &running)
	run := running.Results[0]
	if _, body := b.get(boardURL(run)); !strings.Contains(body, `class="cancel"`) {
		t.Fatalf("an admin gets no cancel form for a RUNNING run")
	}
	code, body, _ = b.post(boardURL(run)+"/cancel", url.Values{"reason": {"wrong day"}})
	if code != http.StatusOK || !strings.Contains(body, "The run is canceled.") || strings.Contains(body, `class="cancel"`) {
		t.Fatalf("canceling: %d\n%s", code, body)
	}
	var history api.RunEventsResponse
	s.Post(t, "/v1/dag/status", `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+run.ConfigurationID+`", "run_id": "`+run.RunID+`"}`).Decode(t, &history)
	if history.Status != "FAILED" || history.Error == nil || history.Error.Code != "CANCELED" || history.Error.Message != "wrong day" {
		t.Errorf("after Cancel the API says %s, %+v", history.Status, history.Error)
	}
}
