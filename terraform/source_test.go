package terraform_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestTheSourceZipLeavesOutWhatFunctionsDoNotBuild: when Terraform zips
// the module itself (data.archive_file.source), its excludes leave out
// every package of the module the functions are not built from, as
// scripts/package does for Cloud Build: no test helper or tool ships.
func TestTheSourceZipLeavesOutWhatFunctionsDoNotBuild(t *testing.T) {
	m, err := parseModule(".")
	if err != nil {
		t.Fatal(err)
	}
	var excludes []string
	for _, b := range m.blocks {
		if b.Type == "data" && b.Labels[0] == "archive_file" && b.Labels[1] == "source" {
			if a, ok := b.Body.Attributes["excludes"]; ok {
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				excludes = strings_(v)
			}
		}
	}
	if len(excludes) == 0 {
		t.Fatal("data.archive_file.source has no excludes")
	}
	list := func(args ...string) []string {
		out, err := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}"}, args...)...).Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	const module = "github.com/runwaydata/runway"
	built := list("-deps", "..")
	for _, pkg := range list("../...") {
		dir, _ := strings.CutPrefix(pkg, module+"/")
		if pkg == module || slices.Contains(built, pkg) || !strings.HasPrefix(pkg, module+"/") {
			continue
		}
		if !slices.ContainsFunc(excludes, func(e string) bool {
			prefix, ok := strings.CutSuffix(e, "/**")
			return ok && (dir == prefix || strings.HasPrefix(dir, prefix+"/"))
		}) {
			t.Errorf("%s is not built into the functions, but data.archive_file.source does not exclude %s/**", pkg, dir)
		}
	}
}
