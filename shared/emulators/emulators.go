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
}

type emulator struct {
	name string
	args []string
	host *string
}

// Start starts both emulators, concurrently, and waits until they answer.
// Their output goes to files in logDir.
func Start(ctx context.Context, logDir string) (*Emulators, error) {
	for _, tool := range []string{"gcloud", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("emulators: %s not found on PATH; the emulators need the Google Cloud CLI and Java 11+; %s", tool, InstallHint)
		}
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("emulators: %w", err)
	}
	e := &Emulators{}
	list := []emulator{
		{"firestore", []string{"emulators", "firestore", "start"}, &e.FirestoreHost},
		{"pubsub", []string{"beta", "emulators", "pubsub", "start"}, &e.PubSubHost},
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
			cmd, host, err := start(ctx, em, logDir)
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

func start(ctx context.Context, em emulator, logDir string) (*exec.Cmd, string, error) {
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(logDir, em.name+"-emulator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("emulators: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command("gcloud", append(em.args, "--host-port="+host, "--quiet")...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The emulator is a Java child of gcloud: a process group lets Stop end both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("emulators: start the %s emulator: %w", em.name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		if ready(ctx, host) {
			return cmd, host, nil
		}
		select {
		case err := <-exited:
			return nil, "", fmt.Errorf("emulators: the %s emulator exited (%v) before it was ready:\n%s\n%s", em.name, err, tail(logPath), InstallHint)
		case <-ctx.Done():
			return cmd, "", fmt.Errorf("emulators: the %s emulator was not ready after 90s:\n%s", em.name, tail(logPath))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, host string) bool {
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
	for _, cmd := range e.procs {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, cmd := range e.procs {
		for syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
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
