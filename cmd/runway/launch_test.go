package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
)

// demoJob is a demo configuration the reference executor ends in SUCCESS
// about a second after its launch.
const demoJob = "000099_iowa_liquor_prepare_pda_DEV"

var runIDPattern = regexp.MustCompile(`\d{8}-\d{6}-[0-9a-f-]{36}`)

// deployFile writes definition to a file and deploys it with the CLI.
func (c *cli) deployFile(definition string) {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), "configuration.json")
	if err := os.WriteFile(path, []byte(definition), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.must("deploy", path)
}

// TestLaunchAndWait: launch --wait ends with the run's status: 0 for
// SUCCESS, 1 with the run's error for FAILED, 3 when --timeout passes
// while the run is RUNNING (and cancel stops it).
func TestLaunchAndWait(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	c := newCLI(t, s)
	c.deployFile(`{"configuration_type": "table-to-table", "configuration_id": "000099_always_fails", "account": "000099",
		"environment": "DEV", "outcome": "FAILED", "sleep_ms": 100}`)

	t.Run("SUCCESS", func(t *testing.T) {
		t.Parallel()
		r := c.run("launch", demoJob, "--wait")
		r.want(t, exitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "SUCCESS  ") || !runIDPattern.MatchString(last) {
			t.Errorf("last line %q, want SUCCESS and the run id", last)
		}
		if strings.ContainsAny(r.stdout, "\r\x1b") {
			t.Errorf("control characters in output that is not a terminal: %q", r.stdout)
		}
	})
	t.Run("FAILED", func(t *testing.T) {
		t.Parallel()
		r := c.run("launch", "000099_always_fails_DEV", "--wait")
		r.want(t, exitFailed, "FAILED: REFERENCE_FAILURE: the definition's outcome is FAILED (at referenceexecutor)")
	})
	t.Run("timed out", func(t *testing.T) {
		t.Parallel()
		r := c.run("launch", demoJob, "--param", "sleep_ms=60000", "--wait", "--timeout", "1s")
		r.want(t, exitTimedOut, "timed out after 1s", "is still RUNNING")
		runID := runIDPattern.FindString(r.stderr)
		c.run("cancel", runID, "--reason", "the test is over").want(t, exitOK, "run "+runID+" is FAILED")
		c.run("cancel", "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179").want(t, exitUsage, "SUCCESS")
	})
	t.Run("--json", func(t *testing.T) {
		t.Parallel()
		r := c.must("launch", demoJob, "--wait", "--json")
		if !strings.HasPrefix(r.stdout, `{"results":[{`) || !strings.Contains(r.stdout, `"status":"SUCCESS"`) || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("--json --wait printed %q, want the last check_run_status answer", r.stdout)
		}
	})
	t.Run("without --wait", func(t *testing.T) {
		t.Parallel()
		r := c.must("launch", demoJob, "--param", "day=2020-12-30", "--param", `stores=[2190, 2191]`, "--idempotency-key", "cli-test")
		if !runIDPattern.MatchString(r.stdout) || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("launch printed %q, want the run id alone", r.stdout)
		}
		dry := c.must("launch", demoJob, "--param", "day=2020-12-30", "--param", `stores=[2190, 2191]`, "--idempotency-key", "cli-test", "--dry-run")
		dry.want(t, exitOK, "dry run: this idempotency key already launched run "+strings.TrimSpace(r.stdout))
		params := filepath.Join(t.TempDir(), "params.json")
		os.WriteFile(params, []byte(`{"day": "2020-12-30", "sleep_ms": 5000}`), 0o600)
		c.must("launch", demoJob, "--param-file", params, "--param", "sleep_ms=0", "--dry-run").
			want(t, exitOK, "dry run: the launch is valid", `"parameters": {`, `"day": "2020-12-30"`, `"sleep_ms": 0`)
	})
	t.Run("input errors", func(t *testing.T) {
		t.Parallel()
		c.run("launch", "000099_no_such_job_DEV").want(t, exitUsage, "000099_no_such_job_DEV")
		c.run("launch", demoJob, "--param", "nokey").want(t, exitUsage, `--param "nokey": want key=value`)
		c.run("launch").want(t, exitUsage, "accepts 1 arg(s)")
		notObject := filepath.Join(t.TempDir(), "params.json")
		os.WriteFile(notObject, []byte("[1, 2]"), 0o600)
		c.run("launch", demoJob, "--param-file", notObject).want(t, exitUsage, "--param-file "+notObject)
	})
}

// TestWaitFollowsRetries: a run that fails and is retried is waited for
// through its retries, and the line says which retry of how many runs.
func TestWaitFollowsRetries(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // the Reaper, which launches the retries
		for ctx.Err() == nil {
			s.Env.Runs.Reap(ctx, runs.DefaultReaperConfig)
			sleep(ctx, 200*time.Millisecond)
		}
	}()
	c := newCLI(t, s)
	// The retry is due 3 s after the failure: the wait, answered at the
	// failure, sees it due before the Reaper launches it.
	c.deployFile(`{"configuration_type": "table-to-table", "configuration_id": "000099_flaky", "account": "000099",
		"environment": "DEV", "sleep_ms": 100, "fail_attempts": 1, "retries": 2, "retry_delay": "3s"}`)
	r := c.run("launch", "000099_flaky_DEV", "--wait")
	r.want(t, exitOK, "retry 1/2 at ", "retry launched · retry 1/2")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); !strings.HasPrefix(lines[len(lines)-1], "SUCCESS") {
		t.Errorf("the wait ended with %q", lines[len(lines)-1])
	}
}

// TestWaitHonoursRetryAfter: when the caller holds as many waits as the
// API allows, check_run_status answers 429 with Retry-After; the wait
// tries again after it, and ends when the run does.
func TestWaitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, stacktest.WithConfig("RUNWAY_MAX_WAITS_PER_CALLER", "1"))
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	c := newCLI(t, s)
	long := strings.TrimSpace(c.must("launch", demoJob, "--param", "sleep_ms=60000").stdout)
	held := make(chan stacktest.Response, 1)
	go func() {
		held <- s.Post(t, pathStatus, `{"action": "check_run_status", "account": "000099", "environment": "DEV",
			"configuration_type": "table-to-table", "configuration_id": "`+demoJob+`", "run_id": "`+long+`", "wait_seconds": 60}`)
	}()
	stacktest.Eventually(t, "the first wait to be held", func() bool { return s.Env.Limits.Waits.Held() == 1 })

	done := make(chan result, 1)
	go func() { done <- c.run("launch", demoJob, "--wait") }()
	stacktest.Eventually(t, "a wait refused with 429", func() bool { return strings.Contains(s.Logs(), `"status":429`) })
	c.must("cancel", long)
	if resp := <-held; resp.Status != http.StatusOK {
		t.Fatalf("the held wait: %s", resp)
	}
	r := <-done
	r.want(t, exitOK, "SUCCESS")
}

// TestProgressLine: on a terminal, the wait is one line drawn again in
// place (carriage return, erase line) with the status coloured, ended by
// one newline; piped, it is plain lines with no control sequence at all.
func TestProgressLine(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor")
	c := newCLI(t, s)
	args := []string{"launch", demoJob, "--param", "sleep_ms=3000", "--wait"}

	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		out := onTerminal(t, c.command(args...))
		redraw := "\r\x1b[2K"
		if n := strings.Count(out, redraw); n < 3 {
			t.Errorf("the line was drawn %d times, want one per second of a 3 s run: %q", n, out)
		}
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\r\n") {
			t.Errorf("want one line, ended once: %q", out)
		}
		last := out[strings.LastIndex(out, redraw)+len(redraw):]
		if !strings.HasPrefix(last, "\x1b[32mSUCCESS\x1b[0m  ") || !runIDPattern.MatchString(last) {
			t.Errorf("the last drawing %q, want SUCCESS in green and the run id", last)
		}
		for _, seq := range regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`).FindAllString(out, -1) {
			if seq != "\x1b[2K" && seq != "\x1b[0m" && !regexp.MustCompile(`^\x1b\[3\dm$`).MatchString(seq) {
				t.Errorf("stray control sequence %q in %q", seq, out)
			}
		}
		visible := regexp.MustCompile(`\x1b\[[0-9]*m|\r`).ReplaceAllString(out, "")
		for _, line := range strings.Split(strings.ReplaceAll(visible, "\x1b[2K", "\n"), "\n") {
			if len([]rune(line)) >= terminalColumns {
				t.Errorf("a drawing is wider than the terminal: %q", line)
			}
		}
		table := onTerminal(t, c.command("runs", demoJob, "--limit", "3"))
		if !strings.Contains(table, "\x1b[32mSUCCESS\x1b[0m") {
			t.Errorf("runs on a terminal: statuses not coloured: %q", table)
		}
	})
	t.Run("piped", func(t *testing.T) {
		t.Parallel()
		out, err := c.command(args...).Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if bytes.ContainsAny(out, "\r\x1b") {
			t.Errorf("control characters in piped output: %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if !strings.HasPrefix(lines[0], "RUNNING  ") || !strings.HasPrefix(lines[len(lines)-1], "SUCCESS  ") {
			t.Errorf("piped lines %q, want RUNNING … SUCCESS", lines)
		}
		if table, _ := c.command("runs", demoJob, "--limit", "3").Output(); bytes.ContainsAny(table, "\x1b") {
			t.Errorf("runs piped: colours in %q", table)
		}
	})
}

// terminalColumns is the width of the tests' terminal: narrower than the
// progress line can be, so that it has to be cut to fit.
const terminalColumns = 100

// onTerminal runs cmd on a pseudo-terminal terminalColumns wide and
// returns what it wrote there.
func onTerminal(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: terminalColumns})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	// Reading ends with EIO once the command has exited and its side of
	// the terminal is closed.
	if _, err := io.Copy(&out, tty); err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	return out.String()
}
