package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fatalTB records the message of a Fatalf and ends its goroutine, as
// testing.T does, so that a test can check what another test would fail
// with.
type fatalTB struct {
	testing.TB
	message string
}

func (*fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.message = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatal runs fn with a fatalTB and returns the message it failed with, ""
// when it did not.
func fatal(fn func(testing.TB)) string {
	tb := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.message
}

func TestReferenceDirFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "doc.md"), []byte("a page"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ReferenceDirEnv, dir)
	if got := ReferenceDir(t); got != dir {
		t.Errorf("ReferenceDir = %s, want %s", got, dir)
	}
	if got := string(ReferenceFile(t, "doc.md")); got != "a page" {
		t.Errorf("ReferenceFile = %q", got)
	}
	// A relative directory is relative to the module root, wherever the
	// package's tests run.
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(ReferenceDirEnv, rel)
	if got := ReferenceDir(t); got != dir {
		t.Errorf("with %s=%s, ReferenceDir = %s, want %s", ReferenceDirEnv, rel, got, dir)
	}
	msg := fatal(func(tb testing.TB) { ReferenceFile(tb, "missing.md") })
	if !strings.Contains(msg, "missing.md") || !strings.Contains(msg, ReferenceDirEnv) {
		t.Errorf("a missing document fails with %q; want its name and %s", msg, ReferenceDirEnv)
	}
}

// TestReferenceDirBesideTheModule: unset, the directory is
// ../shared/reference beside the module root, whichever package's
// directory the test runs in.
func TestReferenceDirBesideTheModule(t *testing.T) {
	t.Setenv(ReferenceDirEnv, "")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(root), "shared", "reference")
	if _, err := os.Stat(want); err != nil {
		msg := fatal(func(tb testing.TB) { ReferenceDir(tb) })
		if !strings.Contains(msg, want) || !strings.Contains(msg, ReferenceDirEnv) {
			t.Errorf("with no documents at %s, ReferenceDir fails with %q; want the path and %s", want, msg, ReferenceDirEnv)
		}
		t.Fatalf("the reference documents are not at %s: put them there, or set %s to their directory", want, ReferenceDirEnv)
	}
	if got := ReferenceDir(t); got != want {
		t.Errorf("ReferenceDir = %s, want %s", got, want)
	}
}

// TestMissingReferenceDirFails: a directory that is not there, or empty,
// fails the test with its path and the variable to set; it never skips.
func TestMissingReferenceDirFails(t *testing.T) {
	empty := t.TempDir()
	for _, dir := range []string{filepath.Join(empty, "nowhere"), empty} {
		t.Setenv(ReferenceDirEnv, dir)
		msg := fatal(func(tb testing.TB) { ReferenceDir(tb) })
		if !strings.Contains(msg, dir) || !strings.Contains(msg, ReferenceDirEnv) {
			t.Errorf("%s: ReferenceDir fails with %q; want the path and %s", dir, msg, ReferenceDirEnv)
		}
	}
}
