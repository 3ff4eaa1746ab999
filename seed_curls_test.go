package runway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The reference documents whose curl examples Runway must answer unchanged
// apart from host and token, read from testenv.ReferenceDir.
var referenceFiles = []string{
	"tailer-api-features.md",
	"tailer-api-getting-started.txt",
	"tailer-api-features-v1.md",
}

// example is one curl of the reference.
type example struct {
	where    string // file:line
	path     string
	body     string // the --data argument, verbatim
	response string // the documented response, "" when the reference shows none
}

// unreplayed are the reference files with curls that are not replayed,
// and why.
var unreplayed = map[string]string{
	"tailer-api-features-page.txt": "the same page as tailer-api-features.md, as text",
}

var (
	curlPattern  = regexp.MustCompile(`(?s)--data '(.*?)'\s*\\\s*"(https://[^"]+)"`)
	fencePattern = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	// anyCurl finds every curl command, whatever its form: what the
	// example parser must find them all of.
	anyCurl = regexp.MustCompile(`\bcurl\s`)
)

// examples extracts every curl of a reference file, and the response
// block that follows it, if any, before the next curl.
func examples(t *testing.T, file string) []example {
	t.Helper()
	text := string(testenv.ReferenceFile(t, file))
	matches := curlPattern.FindAllStringSubmatchIndex(text, -1)
	var out []example
	for i, m := range matches {
		u := text[m[4]:m[5]]
		ex := example{
			where: file + ":" + strconv.Itoa(1+strings.Count(text[:m[0]], "\n")),
			path:  u[strings.Index(u[len("https://"):], "/")+len("https://"):],
			body:  text[m[2]:m[3]],
		}
		next := len(text)
		if i+1 < len(matches) {
			next = matches[i+1][0]
		}
		// The curl's own block closes first; the response is the block after.
		after := text[m[1]:next]
		if close := strings.Index(after, "```"); close >= 0 && strings.HasSuffix(file, ".md") {
			after = after[close+3:]
		}
		if f := fencePattern.FindStringSubmatch(after); f != nil {
			if r := strings.TrimSpace(f[1]); strings.HasPrefix(r, "{") || strings.HasPrefix(r, `"`) {
				ex.response = r
			}
		}
		out = append(out, ex)
	}
	return out
}

// served reports whether Runway serves path.
func served(path string) bool {
	for _, r := range runway.Routes {
		if r.Path == path {
			return true
		}
	}
	return false
}

func TestEveryReferenceCurlIsFound(t *testing.T) {
	// Every curl of a replayed file is found; the other files have none,
	// or say why they are not replayed.
	entries, err := os.ReadDir(testenv.ReferenceDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data := testenv.ReferenceFile(t, e.Name())
		curls := len(anyCurl.FindAll(data, -1))
		switch {
		case slices.Contains(referenceFiles, e.Name()):
			if found := len(examples(t, e.Name())); curls == 0 || found != curls {
				t.Errorf("%s: the example parser found %d of its %d curls", e.Name(), found, curls)
			}
		case curls > 0 && unreplayed[e.Name()] == "":
			t.Errorf("%s has %d curls, which no test replays: add it to referenceFiles", e.Name(), curls)
		}
	}

	perPath := map[string]int{}
	responses := 0
	for _, f := range referenceFiles {
		for _, ex := range examples(t, f) {
			perPath[ex.path]++
			if ex.response != "" {
				responses++
			}
		}
	}
	// features.md documents 9 responses (launch, check, 3 get_last_status,
	// reset, 3 configuration status); the v1 page documents its launch's.
	if responses != 10 {
		t.Errorf("found %d documented responses, want 10: the example parser missed some", responses)
	}
	// features.md: 1 launch, 8 status; getting-started: 2 status; v1: 1 launch, 1 status.
	want := map[string]int{"/v1/dag/launch": 2, "/v1/dag/status": 11, "/v1/workflow/status": 1, "/v1/configuration/status": 3}
	for path, n := range want {
		if perPath[path] != n {
			t.Errorf("found %d curls to %s, want %d: the example parser missed some", perPath[path], path, n)
		}
	}
}

// TestReferenceCurls replays every reference curl to an endpoint Runway
// serves against the in-process stack, with only host and token changed,
// and checks the response against the documented one.
func TestReferenceCurls(t *testing.T) {
	replayReferenceCurls(t, func(t *testing.T, s *stacktest.Stack) string { return s.Token(t, stacktest.Admin) })
}

// TestReferenceCurlsWithServiceAccountToken replays them with a token made
// by `scripts/token --credentials`, the way the reference's
// google-jwt-generator.py users work.
func TestReferenceCurlsWithServiceAccountToken(t *testing.T) {
	const sa = "pipelines@data-platform.iam.gserviceaccount.com"
	replayReferenceCurls(t, func(t *testing.T, s *stacktest.Stack) string {
		for _, account := range []string{"000099", "000110"} {
			if _, err := s.Env.Store.PutMember(context.Background(), account, sa, auth.RoleEditor, "test"); err != nil {
				t.Fatal(err)
			}
		}
		return serviceAccountToken(t, s.ServiceAccountKeyFile(t, sa))
	})
}

func replayReferenceCurls(t *testing.T, token func(*testing.T, *stacktest.Stack) string) {
	for _, file := range referenceFiles {
		exs := examples(t, file)
		if len(exs) == 0 {
			t.Fatalf("no curl found in %s", file)
		}
		for _, ex := range exs {
			if !served(ex.path) {
				continue // served by a later function; TestEveryReferenceCurlIsFound counts them
			}
			t.Run(ex.where, func(t *testing.T) {
				t.Parallel()
				s := stacktest.New(t)
				s.Seed(t)
				tok := token(t, s)
				resp := s.Do(t, http.MethodPost, ex.path, tok, ex.body)
				if strings.Contains(ex.body, `"set_run_status"`) {
					checkMalformedSetRunStatus(t, s, ex, tok, resp)
					return
				}
				if resp.Status != http.StatusOK {
					t.Fatalf("%s\n%s\n→ %s", ex.path, ex.body, resp)
				}
				checkResponse(t, ex, resp.Body)
			})
		}
	}
}

// checkMalformedSetRunStatus: the reference's set_run_status example lacks
// the comma after run_id. Runway answers it with a 400 that points at the
// spot, and answers the same request with the comma like the other status
// actions.
func checkMalformedSetRunStatus(t *testing.T, s *stacktest.Stack, ex example, token string, resp stacktest.Response) {
	t.Helper()
	e := resp.WantError(t, http.StatusBadRequest)
	if !strings.Contains(e.Message, "line 6, column 10") || !strings.Contains(e.Message, "comma missing") {
		t.Errorf("the error does not point at the missing comma: %q", e.Message)
	}
	fixed := strings.Replace(ex.body, `"
         "status"`, `",
         "status"`, 1)
	var got struct{ Results []map[string]any }
	s.Do(t, http.MethodPost, ex.path, token, fixed).Decode(t, &got)
	if len(got.Results) != 1 || got.Results[0]["status"] != "CHECKED" {
		t.Errorf("set_run_status with the comma = %+v", got)
	}
	checkFormats(t, got.Results)
}

var (
	runIDForm     = regexp.MustCompile(`^\d{8}-(\d{6}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timestampForm = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$`)
	durationForm  = regexp.MustCompile(`^\d+:\d{2}:\d{2}\.\d{6}$`)
	// resultFields are the fields of a result object in the reference.
	resultFields = []string{"account", "configuration_id", "configuration_type", "duration", "environment", "job_id",
		"last_update_date", "run_id", "start_execution_date", "status"}
)

func checkResponse(t *testing.T, ex example, body []byte) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if ex.path == "/v1/dag/launch" {
		if len(got) != 1 || !runIDForm.MatchString(asString(got["run_id"])) {
			t.Errorf("launch answered %s, want {\"run_id\":\"YYYYMMDD-HHMMSS-<uuid>\"}", body)
		}
		return
	}
	var want map[string]any
	if ex.response != "" {
		if err := json.Unmarshal([]byte(ex.response), &want); err != nil {
			t.Fatalf("documented response does not parse: %v", err)
		}
		if _, runs := want["results"]; !runs {
			// {"message":"ok"}, {"code":200,"data":{},"message":"ok"}: the very same.
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-documented +got):\n%s", diff)
			}
			return
		}
	}
	if len(got) != 1 {
		t.Fatalf("status answered %s, want {\"results\":[…]}", body)
	}
	results := asResults(t, got["results"])
	checkFormats(t, results)
	if want == nil {
		return
	}
	wantResults := asResults(t, want["results"])
	if len(results) != len(wantResults) {
		t.Fatalf("%d results, the reference shows %d:\n%s", len(results), len(wantResults), body)
	}
	for i := range wantResults {
		if diff := diffResult(wantResults[i], results[i]); diff != "" {
			t.Errorf("result %d: %s", i, diff)
		}
	}
}

// checkFormats checks the fields and their formats in every result.
func checkFormats(t *testing.T, results []map[string]any) {
	t.Helper()
	for _, r := range results {
		var keys []string
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !slices.Contains(resultFields, k) {
				t.Errorf("result has field %q, which the reference's results do not", k)
			}
		}
		for _, k := range resultFields {
			if _, ok := r[k]; !ok && k != "last_update_date" {
				t.Errorf("result %v lacks %q", r["run_id"], k)
			}
		}
		if !runIDForm.MatchString(asString(r["run_id"])) {
			t.Errorf("run_id %v", r["run_id"])
		}
		for _, k := range []string{"start_execution_date", "last_update_date"} {
			if v, ok := r[k]; ok && !timestampForm.MatchString(asString(v)) {
				t.Errorf("%s %v is not RFC 3339 with microseconds and +00:00", k, v)
			}
		}
		if !durationForm.MatchString(asString(r["duration"])) {
			t.Errorf("duration %v is not H:MM:SS.ffffff", r["duration"])
		}
		if !runs.Status(asString(r["status"])).Valid() {
			t.Errorf("status %v", r["status"])
		}
	}
}

// diffResult compares a result with the documented one. Timestamps are
// compared as instants (the reference writes a whole second without
// microseconds; Runway always writes them) and configuration types as
// kinds (the reference shows the same run as table-to-table and as
// gbq-to-gbq).
func diffResult(want, got map[string]any) string {
	var diffs []string
	for _, k := range resultFields {
		w, wok := want[k]
		g, gok := got[k]
		if wok != gok {
			diffs = append(diffs, k+": present in one only")
			continue
		}
		if !wok {
			continue
		}
		switch k {
		case "start_execution_date", "last_update_date":
			wt, _ := time.Parse(time.RFC3339Nano, asString(w))
			gt, err := time.Parse(time.RFC3339Nano, asString(g))
			if err != nil || !wt.Equal(gt) {
				diffs = append(diffs, k+": "+asString(g)+", want "+asString(w))
			}
		case "configuration_type":
			wk, _ := configs.KindOf(asString(w))
			gk, _ := configs.KindOf(asString(g))
			if wk != gk {
				diffs = append(diffs, k+": "+asString(g)+", want "+asString(w))
			}
		default:
			if w != g {
				diffs = append(diffs, k+": "+asString(g)+", want "+asString(w))
			}
		}
	}
	return strings.Join(diffs, "; ")
}

func asString(v any) string { s, _ := v.(string); return s }

func asResults(t *testing.T, v any) []map[string]any {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("results is %T, want an array", v)
	}
	out := make([]map[string]any, len(list))
	for i, item := range list {
		if out[i], ok = item.(map[string]any); !ok {
			t.Fatalf("result %d is %T, want an object", i, item)
		}
	}
	return out
}
