package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/stacktest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with what the commands print")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update once, and read what it wrote)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// prodJob has 30 demo runs, one a day from 2023-01-23 at 02:00, every
// eleventh FAILED: they never change, so their table does not.
const prodJob = "000099_test_sql_dag_v1_PROD"

// demoNow is the tables' clock: half a day after prodJob's last run, so
// that the latest starts are shown as times ago and the older as dates.
var demoNow = time.Date(2023, 2, 21, 14, 0, 0, 0, time.UTC)

// TestRunsTable: the tables of runs, of a configuration and of every
// configuration of a type, are those of testdata/runs.golden: run id,
// configuration, status, start, duration and trigger.
func TestRunsTable(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s)
	c.now = func() time.Time { return demoNow }
	var out strings.Builder
	for _, args := range [][]string{
		{"runs", prodJob, "--env", "PROD", "--limit", "12"},
		{"runs", "--status", "FAILED", "--env", "", "--limit", "8"},
		{"runs", prodJob, "--env", "PROD", "--since", "72h"},
	} {
		out.WriteString("$ runway " + strings.ReplaceAll(strings.Join(args, " "), "  ", " '' ") + "\n" + c.must(args...).stdout + "\n")
	}
	golden(t, "runs.golden", out.String())
}

// TestRunsJSON: runs --json prints the API's answer unchanged: piped to
// jq, its results are exactly those of the same request sent directly.
func TestRunsJSON(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s)
	for name, tc := range map[string]struct {
		args []string
		body string
	}{
		"get_last_status": {[]string{"runs", prodJob, "--env", "PROD", "--limit", "50", "--json"},
			`{"action": "get_last_status", "account": "000099", "environment": "PROD", "configuration_type": "table-to-table", "configuration_id": "` + prodJob + `", "limit": 50}`},
		"get_by_status": {[]string{"runs", "--status", "FAILED", "--json"},
			`{"action": "get_by_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "status": "FAILED"}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cli := c.must(tc.args...).stdout
			direct := s.Post(t, pathStatus, tc.body)
			if direct.Status != 200 {
				t.Fatalf("direct request: %s", direct)
			}
			if got, want := jqResults(t, cli), jqResults(t, string(direct.Body)); got != want || !strings.Contains(got, `"run_id"`) {
				t.Errorf("runway %s | jq -c .results:\n%s\nthe API's:\n%s", strings.Join(tc.args, " "), got, want)
			}
		})
	}
}

// jqResults is `jq -c .results` of an answer; without jq, the same done in
// Go: the results, each object written compactly.
func jqResults(t *testing.T, answer string) string {
	t.Helper()
	if _, err := exec.LookPath("jq"); err == nil {
		cmd := exec.Command("jq", "-c", ".results")
		cmd.Stdin = strings.NewReader(answer)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("jq: %v on %q", err, answer)
		}
		return string(out)
	}
	t.Log("jq is not installed: comparing the results in Go")
	var a struct{ Results json.RawMessage }
	if err := json.Unmarshal([]byte(answer), &a); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, a.Results); err != nil {
		t.Fatal(err)
	}
	return out.String() + "\n"
}

// TestRunDetail: run shows a run and its timeline, finding its
// configuration when none is given; --json prints the API's answers.
func TestRunDetail(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s)
	const runID = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	r := c.must("run", runID, "--env", "")
	golden(t, "run.golden", r.stdout)
	// The same with its configuration named, and in JSON.
	r = c.must("run", runID, "--config", demoJob, "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"results":[{`) || !strings.HasPrefix(lines[1], `{"run_id":"`+runID) {
		t.Errorf("run --json printed %q, want the check_run_status and get_run_events answers", r.stdout)
	}
	c.run("run", "20201230-112837-00000000-2557-4a60-ba16-788aa2bea179").want(t, exitUsage, "is not among the latest 1000 table-to-table runs", "--config")
}

// TestSetStatus: one run's status, with and without --expected, and
// many runs' with --filter, dry run first.
func TestSetStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s)
	const runID = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	c.run("set-status", runID, "CHECKED", "--expected", "FAILED").want(t, exitUsage, "SUCCESS")
	c.run("set-status", runID, "CHECKED", "--expected", "SUCCESS").want(t, exitOK, "run "+runID+" is CHECKED")
	c.run("set-status", runID, "DONE").want(t, exitUsage, "status")

	filter := []string{"set-status", "--filter", "configuration_id=000001_append_some_data_DEV", "--filter", "from_status=FAILED", "CHECKED"}
	c.run(append(filter, "--dry-run")...).want(t, exitOK, "dry run: 3 runs match; the first 3 would be set CHECKED")
	c.run(append(filter, "--limit", "2")...).want(t, exitOK, "3 runs set CHECKED")
	c.run(append(filter, "--dry-run")...).want(t, exitOK, "dry run: 0 runs match")
	c.run("set-status", "--filter", "bogus=1", "CHECKED").want(t, exitUsage, `--filter "bogus=1"`)
}
