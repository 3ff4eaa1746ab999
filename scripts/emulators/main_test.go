//go:build linux

// The test finds the emulators' processes in /proc.

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestEmulatorsDieWithTheLauncher starts the built command with a command
// that waits, then kills it (SIGKILL) or hangs up its terminal (SIGHUP):
// neither gcloud nor the Java emulators may outlive it, nor keep their
// ports open.
func TestEmulatorsDieWithTheLauncher(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "emulators")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			// The command runs until the test closes its input.
			input, endInput, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			var out lockedBuffer
			launcher := exec.Command(bin, "-logs", t.TempDir(), "--", "cat")
			launcher.Stdin, launcher.Stdout, launcher.Stderr = input, &out, &out
			if err := launcher.Start(); err != nil {
				t.Fatal(err)
			}
			input.Close()
			exited := make(chan struct{})
			go func() { _ = launcher.Wait(); close(exited) }()
			t.Cleanup(func() {
				endInput.Close()
				_ = launcher.Process.Kill()
				<-exited
			})

			banner := regexp.MustCompile(`Firestore on (\S+), Pub/Sub on (\S+) `)
			var hosts []string
			waitFor(t, 5*time.Minute, func() bool {
				select {
				case <-exited:
					t.Fatalf("the launcher exited before the emulators were ready:\n%s", out.String())
				default:
				}
				if m := banner.FindStringSubmatch(out.String()); m != nil {
					hosts = m[1:]
				}
				return hosts != nil
			}, func() string { return "the emulators did not start:\n" + out.String() })
			procs := emulatorProcesses(t, launcher.Process.Pid)
			t.Cleanup(func() {
				for _, p := range procs {
					if p.alive() {
						_ = syscall.Kill(p.pid, syscall.SIGKILL)
					}
				}
			})
			if java := slices.DeleteFunc(slices.Clone(procs), func(p process) bool { return filepath.Base(p.exe) != "java" }); len(java) != 2 {
				t.Fatalf("%d Java emulators among the emulators' processes, want 2: %v", len(java), procs)
			}

			if err := launcher.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waitFor(t, time.Minute, func() bool {
				return !slices.ContainsFunc(procs, process.alive) && !slices.ContainsFunc(hosts, answers)
			}, func() string {
				var left []string
				for _, p := range procs {
					if p.alive() {
						left = append(left, p.String())
					}
				}
				for _, host := range hosts {
					if answers(host) {
						left = append(left, "a listener on "+host)
					}
				}
				return fmt.Sprintf("after signal %d (%v) to the launcher, these are left:\n%s", sig, sig, strings.Join(left, "\n"))
			})
		})
	}
}

// process is a process as /proc shows it: its id and start time tell it
// from a later process with the same id.
type process struct {
	pid, ppid, pgid int
	state           byte
	start           string
	exe, cmdline    string
}

func (p process) String() string { return strconv.Itoa(p.pid) + " " + p.cmdline }

// alive says whether the process still runs (a zombie does not).
func (p process) alive() bool {
	now, ok := readProcess(p.pid)
	return ok && now.start == p.start && now.state != 'Z'
}

// emulatorProcesses returns the processes in the process groups of the
// launcher's children that lead a group: the emulators, with gcloud's own
// children. The command the launcher runs is in the launcher's group.
func emulatorProcesses(t *testing.T, launcher int) []process {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var all []process
	groups := map[int]bool{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if p, ok := readProcess(pid); ok {
			all = append(all, p)
			if p.ppid == launcher && p.pgid == p.pid {
				groups[p.pgid] = true
			}
		}
	}
	if len(groups) != 2 {
		t.Fatalf("the launcher's children lead %d process groups, want one per emulator", len(groups))
	}
	var procs []process
	for _, p := range all {
		if groups[p.pgid] {
			procs = append(procs, p)
		}
	}
	return procs
}

func readProcess(pid int) (process, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return process{}, false
	}
	// pid (comm) state ppid pgrp ... with starttime the 22nd field; comm
	// may hold spaces and parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 {
		return process{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	pgid, _ := strconv.Atoi(fields[2])
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	args := strings.Split(string(cmdline), "\x00")
	return process{pid: pid, ppid: ppid, pgid: pgid, state: fields[0][0], start: fields[19],
		exe: args[0], cmdline: strings.TrimSpace(strings.Join(args, " "))}, true
}

func answers(host string) bool {
	conn, err := net.DialTimeout("tcp", host, time.Second)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

// waitFor polls cond until it holds, or fails the test with why() after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, why func() string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, why())
		}
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
