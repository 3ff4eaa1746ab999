package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// ReferenceDirEnv names the directory of the reference documents: the
// Tailer and ETLWorks pages whose examples the tests replay. Unset, it is
// ../shared/reference beside the module root, where every checkout of the
// project and CI have them. Cloud Build copies them from a bucket
// (docs/deploy.md).
const ReferenceDirEnv = "RUNWAY_REFERENCE_DIR"

// ReferenceDir returns the directory of the reference documents: $RUNWAY_REFERENCE_DIR,
// relative to the module root unless absolute, else ../shared/reference.
// When it is not there the test fails, naming the path: the tests that
// replay the documents never skip.
func ReferenceDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ReferenceDirEnv)
	if !filepath.IsAbs(dir) {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("the reference documents: %v; set %s to their directory", err, ReferenceDirEnv)
		}
		if dir == "" {
			dir = filepath.Join("..", "shared", "reference")
		}
		dir = filepath.Join(root, dir)
	}
	entries, err := os.ReadDir(dir)
	if err == nil && len(entries) == 0 {
		err = errors.New("the directory is empty")
	}
	if err != nil {
		t.Fatalf("the reference documents are not at %s (%v): put them there, or set %s to their directory",
			dir, err, ReferenceDirEnv)
	}
	return dir
}

// ReferenceFile returns the content of the reference document name, or
// fails the test.
func ReferenceFile(t testing.TB, name string) []byte {
	t.Helper()
	path := filepath.Join(ReferenceDir(t), name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the reference document %s: %v; set %s to the directory that has it", name, err, ReferenceDirEnv)
	}
	return data
}

// moduleRoot returns the nearest directory, from the working directory
// up, that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}
