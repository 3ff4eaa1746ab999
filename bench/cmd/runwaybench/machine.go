package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// machine describes where the benchmarks ran.
type machine struct {
	cpu        string
	cpus       int
	memory     string
	kernel     string
	goVersion  string
	java       string
	gcloud     string
	emulators  string
	gomaxprocs int
}

func describeMachine(ctx context.Context, root string) machine {
	m := machine{cpus: runtime.NumCPU(), gomaxprocs: runtime.GOMAXPROCS(0), cpu: "unknown", memory: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
				m.cpu = strings.TrimSpace(value)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	m.kernel = strings.TrimSpace(output(ctx, root, "uname", "-sr"))
	m.goVersion = strings.TrimSpace(output(ctx, root, "go", "version"))
	java := strings.SplitN(strings.TrimSpace(output(ctx, root, "java", "-version")), "\n", 2)
	m.java = java[0]
	sdk := strings.TrimSpace(output(ctx, root, "gcloud", "info", "--format=value(installation.sdk_root)"))
	m.gcloud = firstLine(output(ctx, root, "gcloud", "version"))
	var versions []string
	for _, c := range []struct{ id, name string }{{"cloud-firestore-emulator", "Firestore emulator"}, {"pubsub-emulator", "Pub/Sub emulator"}} {
		versions = append(versions, c.name+" "+componentVersion(sdk, c.id))
	}
	m.emulators = strings.Join(versions, ", ")
	return m
}

// componentVersion reads a Google Cloud CLI component's version from the
// SDK's install records.
func componentVersion(sdk, id string) string {
	data, err := os.ReadFile(filepath.Join(sdk, ".install", id+".snapshot.json"))
	if err != nil {
		return "(version unknown)"
	}
	var snap struct {
		Components []struct {
			ID      string `json:"id"`
			Version struct {
				VersionString string `json:"version_string"`
			} `json:"version"`
		} `json:"components"`
	}
	if json.Unmarshal(data, &snap) != nil {
		return "(version unknown)"
	}
	for _, c := range snap.Components {
		if c.ID == id {
			return c.Version.VersionString
		}
	}
	return "(version unknown)"
}

// output runs a command and returns its combined output, or "" when it
// fails.
func output(ctx context.Context, dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
