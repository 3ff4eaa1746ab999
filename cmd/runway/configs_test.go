package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

// referenceFile writes the JSON example of a reference document
// (testenv.ReferenceDir) into dir, as a configuration file, and returns its
// path.
func referenceFile(t *testing.T, dir, document, name string) string {
	t.Helper()
	block := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(testenv.ReferenceFile(t, document))
	if block == nil {
		t.Fatalf("no JSON example in %s", document)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, block[1], 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDeploy: the reference's table-to-table and workflow files deploy,
// each as the next version of its configuration; a file the API refuses
// exits 2 naming the field at fault, and the other files still deploy.
func TestDeploy(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t) // deploys both examples once: version 1
	c := newCLI(t, s)
	dir := t.TempDir()
	// Named so that the workflow comes first: deploy puts it after the
	// job it may target.
	workflow := referenceFile(t, dir, "tailer-workflow-configuration.md", "a-workflow.json")
	job := referenceFile(t, dir, "tailer-table-to-table-configuration-example.md", "b-table-to-table.json")

	r := c.must("deploy", dir)
	want := job + ": 000099_test_sql_dag_v1_PROD (table-to-table, PROD) version 1 → 2\n" +
		workflow + ": workflow-Load_Configuration (workflow, DEV) version 1 → 2\n"
	if r.stdout != want {
		t.Errorf("deploy printed\n%s\nwant\n%s", r.stdout, want)
	}
	// A dry run is checked by the API and stores nothing.
	c.must("deploy", "--dry-run", job).want(t, exitOK, "would be version 2 → 3; nothing stored")
	c.must("deploy", job, workflow).want(t, exitOK, "version 2 → 3")
	got := s.Post(t, pathConfiguration, `{"action": "get_configuration", "account": "000099", "environment": "PROD",
		"configuration_type": "table-to-table", "configuration_id": "000099_test_sql_dag_v1_PROD"}`)
	if !strings.Contains(string(got.Body), `"version":3`) {
		t.Errorf("get_configuration after two deploys: %s", got)
	}

	// The reference's workflow, with a target that is not deployed.
	definition, _ := os.ReadFile(workflow)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(string(definition), `"Load_Configuration_DEV"`, `"000099_not_deployed_DEV"`, 1)), 0o600)
	c.run("deploy", bad, job).want(t, exitUsage, bad+": ", "configuration.target_dag", "000099_not_deployed_DEV",
		"version 3 → 4", "1 of 2 files not deployed")

	malformed := filepath.Join(t.TempDir(), "malformed.json")
	os.WriteFile(malformed, []byte("{\n  \"configuration_type\": \"table-to-table\"\n  \"account\": \"000099\"\n}"), 0o600)
	c.run("deploy", malformed).want(t, exitUsage, malformed+": not a JSON configuration: line 3, column 3")
	c.run("deploy", filepath.Join(dir, "missing.json")).want(t, exitUsage, "missing.json")
}

// TestConfigurations: configs lists them; activate and deactivate switch
// one, and a deactivated one cannot be launched; workflow shows a
// workflow's cycle and resets it.
func TestConfigurations(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s)

	r := c.must("configs", "--type", "workflow")
	for _, want := range []string{"CONFIGURATION", "000099-iowa-liquor-load-pda", "workflow-Load_Configuration", "active", "demo-loader"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("configs --type workflow lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(c.must("configs", "--env", "").stdout, "\n"); n != 14 {
		t.Errorf("configs in every environment: %d lines, want a header and the 13 demo configurations of 000099", n)
	}

	c.run("deactivate", demoJob).want(t, exitOK, demoJob+" (table-to-table, DEV) is deactivated")
	c.run("launch", demoJob).want(t, exitUsage, "deactivated")
	c.run("activate", demoJob, "--json").want(t, exitOK, `{"message":"ok"}`)
	c.must("launch", demoJob, "--dry-run")

	r = c.must("workflow", "status", "workflow-Load_Configuration")
	for _, want := range []string{"workflow-Load_Configuration (DEV), active", "table-to-table Load_Configuration_DEV", "59 23 * * * (UTC)",
		"gbq-to-gbq|000099_assert_of_configuration_DEV  no"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("workflow status lacks %q:\n%s", want, r.stdout)
		}
	}
	c.run("workflow", "reset", "workflow-Load_Configuration").want(t, exitOK, "reset: a new cycle begins")
	c.run("workflow", "reset", "workflow-Load_Configuration", "--json").want(t, exitOK, `{"code":200,"data":{},"message":"ok"}`)
	c.run("workflow", "status", "workflow-Load_Configuration").want(t, exitOK, "reset by "+stacktest.Admin)
}
