package terraform_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/testenv"
	"github.com/runwaydata/runway/shared/workflows"
)

// SuiteProjectsEnv names the file of the projects the whole test suite
// used (testenv.ProjectsFileEnv's file): scripts/test.sh sets it when it
// runs TestIndexesCoverTheQueries after the suite.
const SuiteProjectsEnv = "RUNWAY_INDEX_CHECK_PROJECTS"

// TestIndexesCoverTheQueries: every composite index the Firestore emulator
// reports as used — by a catalog of every query of shared/store with every
// combination of its filters, and, from scripts/test.sh, by every test of
// the suite — is declared in local.firestore_indexes.
func TestIndexesCoverTheQueries(t *testing.T) {
	used := usedIndexes(t)
	if len(used) < 10 {
		t.Fatalf("the emulator reported only %d composite indexes: %v", len(used), used)
	}
	m, err := parseModule(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkIndexes(m, used) {
		t.Error(p)
	}
	t.Logf("%d composite indexes used, all declared", len(used))
}

// checkIndexes reports the used indexes m does not declare.
func checkIndexes(m *module, used []string) []string {
	declared, err := m.declaredIndexes()
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, index := range used {
		if !slices.Contains(declared, index) {
			problems = append(problems, "local.firestore_indexes lacks an index the queries use: "+index)
		}
	}
	return problems
}

// usedIndexes returns the composite indexes the emulator reports used by
// the query catalog and, when SuiteProjectsEnv is set, by the suite.
func usedIndexes(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	for _, r := range indexReports(t) {
		if len(r.fields) >= 2 {
			set[indexKey(r.scope, r.collection, r.fields)] = true
		}
	}
	var out []string
	for index := range set {
		out = append(out, index)
	}
	sort.Strings(out)
	return out
}

// indexReport is one index the emulator reports used: its collection, its
// scope and its fields, __name__ left out.
type indexReport struct {
	collection, scope string
	fields            [][2]string
}

// indexReports returns every index, single-field and composite, that the
// emulator reports used by the query catalog and, when SuiteProjectsEnv is
// set, by the suite.
func indexReports(t *testing.T) []indexReport {
	t.Helper()
	project := testenv.Project(t)
	exerciseStore(t, project)
	projects := []string{project}
	if path := os.Getenv(SuiteProjectsEnv); path != "" {
		suite := readLines(t, path)
		if len(suite) == 0 {
			t.Fatalf("%s lists no project: the suite did not record its projects", path)
		}
		projects = append(projects, suite...)
		t.Logf("checking the index usage of %d projects of the test suite", len(suite))
	}
	var out []indexReport
	for _, p := range projects {
		out = append(out, indexUsage(t, p)...)
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	seen := map[string]bool{}
	for s := bufio.NewScanner(f); s.Scan(); {
		if line := strings.TrimSpace(s.Text()); line != "" && !seen[line] {
			seen[line] = true
			lines = append(lines, line)
		}
	}
	return lines
}

// indexUsage asks the Firestore emulator which indexes the queries of
// project used.
func indexUsage(t *testing.T, project string) []indexReport {
	t.Helper()
	u := fmt.Sprintf("http://%s/emulator/v1/projects/%s:indexUsage?database=%s", os.Getenv(emulators.FirestoreHostEnv),
		project, url.QueryEscape("projects/"+project+"/databases/(default)"))
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Reports []struct {
			Index struct {
				Name       string `json:"name"`
				QueryScope string `json:"queryScope"`
				Fields     []struct {
					FieldPath   string `json:"fieldPath"`
					Order       string `json:"order"`
					ArrayConfig string `json:"arrayConfig"`
				} `json:"fields"`
			} `json:"index"`
		} `json:"reports"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("index usage of %s: %s, %v", project, resp.Status, err)
	}
	var out []indexReport
	for _, r := range body.Reports {
		// .../collectionGroups/{collection}/indexes/_
		parts := strings.Split(r.Index.Name, "/")
		report := indexReport{collection: parts[len(parts)-3], scope: r.Index.QueryScope}
		for _, f := range r.Index.Fields {
			if f.FieldPath == "__name__" {
				continue
			}
			order := f.Order
			if f.ArrayConfig != "" {
				order = f.ArrayConfig
			}
			report.fields = append(report.fields, [2]string{f.FieldPath, order})
		}
		if len(report.fields) > 0 {
			out = append(out, report)
		}
	}
	return out
}

// exerciseStore runs every query of shared/store, with every combination
// of filters it can build, on project.
func exerciseStore(t *testing.T, project string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(testenv.Firestore(t, project), testenv.StoreTimeout)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	const account = "000099"
	job := configs.Configuration{Account: account, Environment: "DEV", ConfigurationType: "table-to-table", Kind: configs.KindTableToTable,
		ConfigurationID: "job_DEV", JobID: "gbq-to-gbq|job_DEV", Activated: true, UpdatedAt: now}
	must(st.PutConfiguration(ctx, job))
	run := runs.NewRun(job, runs.RandomKey(), now)
	must(st.CreateRun(ctx, run))

	// get_last_status and get_by_status.
	for _, configID := range []string{"job_DEV", ""} {
		for _, env := range []string{"DEV", ""} {
			for _, status := range []runs.Status{"", runs.StatusSuccess} {
				for _, date := range []string{"", "2020-12-09"} {
					_, err := st.QueryRuns(ctx, account, runs.Query{Kind: configs.KindTableToTable, Environment: env,
						ConfigurationID: configID, Status: status, ExecutionDate: date, Limit: 10})
					must(err)
				}
			}
		}
	}
	// The board's runs view, page after page.
	for _, configID := range []string{"job_DEV", ""} {
		for _, env := range []string{"DEV", ""} {
			for _, status := range []runs.Status{"", runs.StatusFailed} {
				for _, trigger := range []string{"", runs.TriggerAPI} {
					q := runs.Query{Environment: env, ConfigurationID: configID, Status: status, TriggerType: trigger,
						Since: now.Add(-time.Hour), Before: now.Add(time.Hour), After: &runs.RunCursor{Start: now, Key: run.Key}, Limit: 10}
					if configID != "" {
						if env == "" {
							continue // a configuration is named with its environment
						}
						q.Kind = configs.KindTableToTable
					}
					_, err := st.QueryRuns(ctx, account, q)
					must(err)
				}
			}
		}
	}
	// The Reaper.
	_, err = st.UndeliveredRuns(ctx, 0, now, 10)
	must(err)
	_, err = st.OverdueRuns(ctx, 0, now, 10)
	must(err)
	_, err = st.DueRetries(ctx, 0, now, 10)
	must(err)
	_, err = st.UnpublishedEvents(ctx, 0, now, 10)
	must(err)
	// Runs waiting for a slot.
	_, err = st.Waiting(ctx, account, job.Ref(), 10)
	must(err)
	_, err = st.Admit(ctx, account, job.Ref(), 2, func(*runs.Run, int) {})
	must(err)
	_, err = st.LongWaiting(ctx, 0, now, 10)
	must(err)
	// The Scheduler, shard by shard.
	_, err = st.DueConfigurations(ctx, 0, now, 10)
	must(err)
	// A run's events, page by page.
	_, err = st.Events(ctx, account, run.Key, runs.EventPage{After: runs.EventCursor{At: now, ID: "x"}, Limit: 10})
	must(err)
	// Runs by audit id, configurations by id and by filters.
	_, err = st.RunByAuditID(ctx, account, run.AuditID)
	must(err)
	_, err = st.FindConfigurations(ctx, account, "job_DEV")
	must(err)
	for _, env := range []string{"DEV", ""} {
		for _, kind := range []configs.Kind{configs.KindTableToTable, ""} {
			for _, activated := range []*bool{nil, new(bool)} {
				_, _, err := st.ListConfigurations(ctx, account, configs.Filter{Environment: env, Kind: kind, Activated: activated}, 10, "a")
				must(err)
			}
		}
	}
	// Workflows: deploying one reads the environment's workflows; the
	// trigger finds those waiting on a job.
	wf := configs.Configuration{Account: account, Environment: "DEV", ConfigurationType: "workflow", Kind: configs.KindWorkflow,
		ConfigurationID: "wf", JobID: "workflow|wf", Activated: true, UpdatedAt: now,
		Workflow: &configs.WorkflowSpec{AuthorizedJobIDs: []string{"x"}, Target: job.Ref(), TargetType: "table-to-table"}}
	_, err = st.DeployConfiguration(ctx, wf, false, func(r configs.Reader, _, _ *configs.Configuration) error {
		_, err := r.Workflows("DEV")
		return err
	})
	must(err)
	_, err = st.WorkflowsWaitingOn(ctx, account, "DEV", "x")
	must(err)
	must(st.SaveWorkflowState(ctx, account, wf.Ref(), nil, workflows.State{Cycle: 1, CycleStartedAt: now}, nil))
	// Members: the last admin check queries the admins.
	_, err = st.PutMember(ctx, account, "a@example.com", auth.RoleAdmin, "test")
	must(err)
	_, err = st.PutMember(ctx, account, "a@example.com", auth.RoleAdmin, "test")
	must(err)
	_, err = st.ListMembers(ctx, account)
	must(err)
}
