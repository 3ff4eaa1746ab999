package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/testenv"
)

// helloMain is the baseline function: the same buildpack main and
// Functions Framework, serving a handler that reads the body and answers
// a run id, with no clients to build and no work to do.
const helloMain = `package main

import (
	"io"
	"log"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

func init() {
	functions.HTTP("Hello", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, ` + "`" + `{"run_id":"hello"}` + "`" + `)
	})
}

func main() {
	port := "8080"
	if envPort := os.Getenv("PORT"); envPort != "" {
		port = envPort
	}
	hostname := ""
	if os.Getenv("LOCAL_ONLY") == "true" {
		hostname = "127.0.0.1"
	}
	if err := funcframework.StartHostPort(hostname, port); err != nil {
		log.Fatalf("funcframework.StartHostPort: %v\n", err)
	}
}
`

// process is one started function process.
type process struct {
	name string
	cmd  *exec.Cmd
	url  string
	out  *os.File
	done chan struct{}
}

// footprintFigures are the start-up and memory measurements of the
// buildpack-built DagLaunch function and of the baseline function.
type footprintFigures struct {
	buildTime             time.Duration
	runwayStarts          []startInfo
	helloStarts           []startInfo
	runwayLoad, helloLoad *result
	runwayHWM, helloHWM   int64 // kB, VmHWM after the load
	runwayIdle, helloIdle int64 // kB, VmHWM before the load
	runwayCPU, helloCPU   time.Duration
	callers               int
}

func footprintSection(ctx context.Context, o options, rep *report, s *stack, t launchTarget) error {
	fig := &footprintFigures{callers: o.tpCallers}
	rep.footprint = fig
	dir := filepath.Join(o.work, "buildpack")
	log.Printf("footprint: building the buildpack's main and the baseline function")
	start := time.Now()
	runwayBin, helloBin, err := buildFunctions(ctx, o.root, dir)
	if err != nil {
		return err
	}
	fig.buildTime = time.Since(start)
	for _, name := range []string{"runway", "hello"} {
		_ = os.Remove(filepath.Join(o.work, name+"-function.log")) // this run's logs only
	}

	base := os.Environ()
	env := func(target string, port int) []string {
		var out []string
		for _, kv := range base {
			name, _, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(name, "RUNWAY_") || name == "K_SERVICE" || name == "FUNCTION_TARGET" || name == "PORT" ||
				name == "GOOGLE_CLOUD_PROJECT" || name == "LOCAL_ONLY" {
				continue
			}
			out = append(out, kv)
		}
		for k, v := range benchEnv(s.project, s.cfg.DevKeyFile) {
			out = append(out, k+"="+v)
		}
		return append(out, "FUNCTION_TARGET="+target, "PORT="+strconv.Itoa(port), "LOCAL_ONLY=true")
	}
	if os.Getenv(emulators.FirestoreHostEnv) == "" {
		return errors.New("no emulators")
	}

	// Start each binary o.starts times, alternately; the last start of
	// each stays up for the load.
	var runwayProc, helloProc *process
	for i := range o.starts {
		last := i == o.starts-1
		order := []string{"runway", "hello"}
		if i%2 == 1 { // alternate which starts first
			order = []string{"hello", "runway"}
		}
		for _, which := range order {
			bin, target, starts := runwayBin, "DagLaunch", &fig.runwayStarts
			if which == "hello" {
				bin, target, starts = helloBin, "Hello", &fig.helloStarts
			}
			port, err := emulators.FreePort()
			if err != nil {
				return err
			}
			p, took, err := startFunction(ctx, which, bin, env(target, port), port, filepath.Join(o.work, which+"-function.log"), t)
			if err != nil {
				return err
			}
			*starts = append(*starts, took)
			switch {
			case !last:
				p.stop()
			case which == "runway":
				runwayProc = p
			default:
				helloProc = p
			}
		}
	}
	defer runwayProc.stop()
	defer helloProc.stop()
	log.Printf("footprint: start → first 200: runway %v, baseline %v", startTotals(fig.runwayStarts), startTotals(fig.helloStarts))

	// The throughput load on each, the baseline for half as long.
	client := newCaller(30 * time.Second)
	for _, c := range []struct {
		p        *process
		d        time.Duration
		res      **result
		idle     *int64
		hwm      *int64
		cpu      *time.Duration
		describe string
	}{
		{runwayProc, o.loadDuration, &fig.runwayLoad, &fig.runwayIdle, &fig.runwayHWM, &fig.runwayCPU, "runway"},
		{helloProc, o.loadDuration / 2, &fig.helloLoad, &fig.helloIdle, &fig.helloHWM, &fig.helloCPU, "baseline"},
	} {
		*c.idle = vmHWM(c.p.cmd.Process.Pid)
		r := newResult()
		p := c.p
		v := variant{name: c.describe, op: func(ctx context.Context) error { _, err := launchHTTP(ctx, client, p.url, t); return err }}
		log.Printf("footprint: %d callers on the %s function for %s", o.tpCallers, c.describe, c.d)
		cpuBefore := procCPU(p.cmd.Process.Pid)
		runFor(ctx, s, v, c.d, o.tpCallers, r)
		*c.cpu = procCPU(p.cmd.Process.Pid) - cpuBefore
		*c.res = r
		*c.hwm = vmHWM(p.cmd.Process.Pid)
	}
	return nil
}

// buildFunctions builds, in a module of its own under dir that requires
// Runway through a replace directive (as buildpack_test.go does), the
// buildpack's main and the baseline function.
func buildFunctions(ctx context.Context, root, dir string) (string, string, error) {
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", "", err
	}
	mod := strings.Replace(string(goMod), "module github.com/runwaydata/runway", "module example.com/buildpack", 1) +
		"\nrequire github.com/runwaydata/runway v0.0.0\n\nreplace github.com/runwaydata/runway => " + root + "\n"
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	if err := os.RemoveAll(dir); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "hello"), 0o755); err != nil {
		return "", "", err
	}
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sum, "main.go": []byte(testenv.BuildpackMain),
		"hello/main.go": []byte(helloMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", "", err
		}
	}
	runwayBin, helloBin := filepath.Join(dir, "bin", "serve"), filepath.Join(dir, "bin", "hello")
	for _, b := range []struct{ out, pkg string }{{runwayBin, "."}, {helloBin, "./hello"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-mod=mod", "-o", b.out, b.pkg)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return runwayBin, helloBin, nil
}

// startInfo is one start of a function process.
type startInfo struct {
	total    time.Duration // process start → first 200
	listen   time.Duration // process start → the start of the request that got the 200, about when it began to listen
	first    time.Duration // that request
	refusals int           // requests before it (connection refused, or not 200)
}

func (s startInfo) String() string {
	return fmt.Sprintf("%s (listening after %s, first request %s)", ms(s.total), ms(s.listen), ms(s.first))
}

func startTotals(starts []startInfo) []time.Duration {
	out := make([]time.Duration, len(starts))
	for i, s := range starts {
		out[i] = s.total
	}
	return out
}

// medianStart returns the start of median total time.
func medianStart(starts []startInfo) startInfo {
	if len(starts) == 0 {
		return startInfo{}
	}
	sorted := append([]startInfo(nil), starts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].total < sorted[j].total })
	return sorted[(len(sorted)-1)/2]
}

// startFunction starts a function process and returns it with the time
// from its start to its first 200 answer to a valid launch.
func startFunction(ctx context.Context, name, bin string, env []string, port int, logPath string, t launchTarget) (*process, startInfo, error) {
	var info startInfo
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, info, err
	}
	p := &process{name: name, cmd: exec.Command(bin), url: fmt.Sprintf("http://127.0.0.1:%d", port), out: out, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// A client of its own: no connection of an earlier process is reused.
	client := newCaller(10 * time.Second)
	defer client.close()
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		out.Close()
		return nil, info, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	deadline := start.Add(30 * time.Second)
	for {
		attempt := time.Now()
		_, err := launchHTTP(ctx, client, p.url, t)
		if err == nil {
			now := time.Now()
			info.total, info.listen, info.first = now.Sub(start), attempt.Sub(start), now.Sub(attempt)
			return p, info, nil
		}
		info.refusals++
		select {
		case <-p.done:
			out.Close()
			return nil, info, fmt.Errorf("the %s function exited before answering 200 (see %s): %v", name, logPath, err)
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, info, fmt.Errorf("the %s function did not answer 200 within 30s (see %s): %v", name, logPath, err)
		}
		time.Sleep(time.Millisecond)
	}
}

var stopOnce sync.Map

// stop ends the process (SIGTERM, then SIGKILL) and waits for it.
func (p *process) stop() {
	if p == nil {
		return
	}
	if _, done := stopOnce.LoadOrStore(p, true); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.out.Close()
}

// vmHWM reads a process's peak resident set size, in kB.
func vmHWM(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kb); err == nil {
			return kb
		}
	}
	return 0
}
