package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

// asCLI, set in the environment, makes the test binary run as the CLI
// itself: the tests that need a real process (a pseudo-terminal, a pipe)
// run the binary they are in.
const asCLI = "RUNWAY_CLI_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main()
		return
	}
	testenv.Main(m)
}

// cli runs the CLI against a stack, as the stack's admin, on account
// 000099 and environment DEV, with a configuration file of its own.
type cli struct {
	t   *testing.T
	s   *stacktest.Stack
	env map[string]string
	now func() time.Time
}

func newCLI(t *testing.T, s *stacktest.Stack) *cli {
	return &cli{t: t, s: s, now: time.Now, env: map[string]string{
		"RUNWAY_CONFIG":      filepath.Join(t.TempDir(), "config.json"),
		"RUNWAY_API_URL":     s.Server.URL,
		"RUNWAY_TOKEN":       s.Token(t, stacktest.Admin),
		"RUNWAY_ACCOUNT":     "000099",
		"RUNWAY_ENVIRONMENT": "DEV",
	}}
}

// with returns a copy of c with env changed ("" removes a variable).
func (c *cli) with(env map[string]string) *cli {
	out := *c
	out.env = maps.Clone(c.env)
	for k, v := range env {
		if v == "" {
			delete(out.env, k)
		} else {
			out.env[k] = v
		}
	}
	return &out
}

// result is what a command printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the CLI in-process.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return c.env[k] }, now: c.now, http: c.s.Server.Client()}
	code := a.run(context.Background(), args)
	return result{stdout.String(), stderr.String(), code}
}

// must runs the CLI and fails the test unless it exits 0.
func (c *cli) must(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("runway %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// command returns the CLI as a process: this test binary, run as the CLI.
func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCLI+"=1", "NO_COLOR=", "TERM=xterm")
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// want fails the test unless r exited with code and its output holds
// every one of the strings.
func (r result) want(t *testing.T, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range contains {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", s, r.stdout, r.stderr)
		}
	}
}

// TestCallsTheHTTPAPIOnly: the CLI does not link Firestore or Pub/Sub, so
// it works against any deployment and installs light.
func TestCallsTheHTTPAPIOnly(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "cloud.google.com/go/firestore") || strings.HasPrefix(dep, "cloud.google.com/go/pubsub") {
			t.Errorf("the CLI depends on %s", dep)
		}
	}
}

// TestEveryCommandHasHelpWithAnExample: --help of each command shows how
// to use it.
func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	t.Parallel()
	root := (&app{getenv: func(string) string { return "" }}).rootCommand()
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if !c.HasExample() {
			t.Errorf("runway %s has no example", c.Name())
		}
		for _, sub := range c.Commands() {
			if !sub.HasExample() {
				t.Errorf("runway %s %s has no example", c.Name(), sub.Name())
			}
		}
	}
}

// TestCompletion: cobra's completion scripts, and the candidates they
// ask the CLI for: statuses, configuration types, profile keys.
func TestCompletion(t *testing.T) {
	t.Parallel()
	run := func(args ...string) string {
		var out bytes.Buffer
		a := &app{stdout: &out, stderr: &out, getenv: func(string) string { return "" }, now: time.Now}
		if code := a.run(context.Background(), args); code != 0 {
			t.Fatalf("runway %s: exit %d: %s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := run("completion", shell); !strings.Contains(out, "runway") {
			t.Errorf("completion %s: %.200q", shell, out)
		}
	}
	for args, want := range map[string]string{
		"runs --status ":       "FAILED",
		"launch x --type ":     "workflow",
		"config set ":          "api_url",
		"set-status x ":        "CHECKED",
		"set-status --filter ": "from_status=",
		"workflow ":            "reset",
	} {
		if out := run(append([]string{"__complete"}, strings.Split(args, " ")...)...); !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `[\t\n]`).MatchString(out) {
			t.Errorf("completing %q: %q lacks %s", args, out, want)
		}
	}
}
