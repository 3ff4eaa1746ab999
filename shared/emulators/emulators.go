// Package emulators starts the real Firestore and Pub/Sub emulators of the
// Google Cloud CLI on free local ports. The tests, scripts/test.sh and
// scripts/dev.sh all start them through it.
package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The environment variables the Google Cloud clients read to reach the
// emulators instead of Google.
const (
	FirestoreHostEnv = "FIRESTORE_EMULATOR_HOST"
	PubSubHostEnv    = "PUBSUB_EMULATOR_HOST"
)

// InstallHint says how to get what the emulators need on a Debian machine.
const InstallHint = "install them with: sudo apt-get install -y google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator default-jre-headless" +
	" (or: gcloud components install cloud-firestore-emulator pubsub-emulator beta)"

// Emulators are running emulator processes.
type Emulators struct {
	FirestoreHost string // host:port
	PubSubHost    string // host:port
	procs         []*exec.Cmd
	lifeline      *os.File // see guard
}

type emulator struct {
	name    string
	args    []string
	started string // what the emulator logs once it listens on its port
	host    *string
}

// guard is the shell that leads each emulator's process group: it starts a
// watcher that kills the whole group (gcloud and its Java grandchild) when
// the lifeline on fd 3 reaches end of file, then becomes gcloud. The
// lifeline is a pipe whose only writer is Emulators.lifeline, so it ends
// when Stop closes it or when the process that started the emulators dies,
// even by SIGKILL. (Pdeathsig would only reach gcloud, not the Java
// emulator it forks, and fires when the forking thread exits.)
const guard = `(read -r _ <&3; kill -s KILL 0) & exec "$@" 3<&-`

// bindFailed is what both emulators log when their port is taken.
const bindFailed = "Address already in use"

// attempts bounds the starts of an emulator on fresh ports: a port that
// FreePort found free can be taken before the emulator binds it.
const attempts = 5

// pickPort picks each attempt's port; tests replace it.
var pickPort = FreePort

var errPortTaken = errors.New("port taken")

// Start starts both emulators, concurrently, and waits until they answer.
// Their output goes to files in logDir. They run until Stop, and never
// longer than the process that started them.
func Start(ctx context.Context, logDir string) (*Emulators, error) {
	for _, tool := range []string{"gcloud", "java", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("emulators: %s not found on PATH; the emulators need the Google Cloud CLI and Java 11+; %s", tool, InstallHint)
		}
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("emulators: %w", err)
	}
	watched, lifeline, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("emulators: %w", err)
	}
	defer watched.Close()
	e := &Emulators{lifeline: lifeline}
	list := []emulator{
		{"firestore", []string{"emulators", "firestore", "start"}, "Dev App Server is now running", &e.FirestoreHost},
		{"pubsub", []string{"beta", "emulators", "pubsub", "start"}, "Server started, listening on", &e.PubSubHost},
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, em := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, host, err := start(ctx, em, logDir, watched)
			mu.Lock()
			defer mu.Unlock()
			if cmd != nil {
				e.procs = append(e.procs, cmd)
			}
			*em.host = host
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// start starts an emulator, on a fresh port again when its port was taken.
func start(ctx context.Context, em emulator, logDir string, watched *os.File) (*exec.Cmd, string, error) {
	var err error
	for range attempts {
		var cmd *exec.Cmd
		var host string
		cmd, host, err = startOnce(ctx, em, logDir, watched)
		if !errors.Is(err, errPortTaken) {
			return cmd, host, err
		}
	}
	return nil, "", fmt.Errorf("emulators: the %s emulator found its port taken %d times: %w", em.name, attempts, err)
}

// startOnce starts an emulator on a free port and waits until it answers
// there. On an error, nothing of it is left running.
func startOnce(ctx context.Context, em emulator, logDir string, watched *os.File) (*exec.Cmd, string, error) {
	port, err := pickPort()
	if err != nil {
		return nil, "", err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	// A new file each attempt: a killed attempt may still write to its own.
	logPath := filepath.Join(logDir, em.name+"-emulator.log")
	_ = os.Remove(logPath)
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("emulators: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command("sh", append([]string{"-c", guard, "sh", "gcloud"}, append(em.args, "--host-port="+host, "--quiet")...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{watched} // fd 3
	// A process group of its own lets Stop and the guard end gcloud and the
	// Java emulator together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("emulators: start the %s emulator: %w", em.name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	ctx, cancel := context.WithTimeoutCause(ctx, 90*time.Second, errors.New("no answer after 90s"))
	defer cancel()
	for {
		var exitErr error
		hasExited := false
		select {
		case exitErr = <-exited:
			hasExited = true
		case <-ctx.Done():
			kill()
			return nil, "", fmt.Errorf("emulators: the %s emulator is not ready: %v:\n%s", em.name, context.Cause(ctx), tail(logPath))
		case <-time.After(200 * time.Millisecond):
		}
		// The emulator's log, not an answer on the port (another process
		// may hold it), says whether the emulator got the port.
		out, _ := os.ReadFile(logPath)
		switch {
		case bytes.Contains(out, []byte(bindFailed)):
			kill()
			return nil, "", fmt.Errorf("%w: %s", errPortTaken, host)
		case hasExited:
			kill()
			return nil, "", fmt.Errorf("emulators: the %s emulator exited (%v) before it was ready:\n%s\n%s", em.name, exitErr, tail(logPath), InstallHint)
		case bytes.Contains(out, []byte(em.started)) && ready(ctx, host):
			return cmd, host, nil
		}
	}
}

func ready(ctx context.Context, host string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Env returns the environment variables that point clients at the emulators.
func (e *Emulators) Env() []string {
	return []string{FirestoreHostEnv + "=" + e.FirestoreHost, PubSubHostEnv + "=" + e.PubSubHost}
}

// Stop ends the emulators and waits for them to exit.
func (e *Emulators) Stop() {
	// SIGKILL (the emulators keep nothing worth a clean exit), sent while
	// each group still holds its guard, so its id cannot name another group.
	for _, cmd := range e.procs {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	e.lifeline.Close()
	deadline := time.Now().Add(5 * time.Second)
	for _, cmd := range e.procs {
		for syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	e.procs = nil
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulators: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
