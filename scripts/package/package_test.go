package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTheZipHoldsWhatTheFunctionsBuildFrom: the source zip holds the
// functions' packages and their embedded assets, and no test, test
// helper, dev tool, benchmark or document. (buildpack_test.go builds the
// functions from the zip itself.)
func TestTheZipHoldsWhatTheFunctionsBuildFrom(t *testing.T) {
	files, err := sourceFiles("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go.mod", "go.sum", "routes.go", "functions/daglaunch/daglaunch.go",
		"shared/store/runs.go", "functions/board/templates/layout.html", "functions/board/static/htmx.min.js"} {
		if !slices.Contains(files, want) {
			t.Errorf("the zip lacks %s", want)
		}
	}
	for _, f := range files {
		for _, banned := range []string{"shared/stacktest/", "shared/testenv/", "shared/emulators/", "shared/demo/",
			"scripts/", "bench/", "docs/", "terraform/", "cmd/"} {
			if strings.HasPrefix(f, banned) {
				t.Errorf("the zip holds %s", f)
			}
		}
		if strings.HasSuffix(f, "_test.go") {
			t.Errorf("the zip holds the test %s", f)
		}
	}

	// The same source makes the same zip, byte for byte.
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	for _, out := range []string{a, b} {
		if err := writeZip(out, "../..", files); err != nil {
			t.Fatal(err)
		}
	}
	da, errA := os.ReadFile(a)
	db, errB := os.ReadFile(b)
	if errA != nil || errB != nil || !bytes.Equal(da, db) {
		t.Errorf("two zips of the same source differ (%v, %v)", errA, errB)
	}
}
