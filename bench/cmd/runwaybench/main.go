// Command runwaybench measures Runway against the local Firestore and
// Pub/Sub emulators and writes bench/RESULTS.md. Every figure is a ratio
// to a baseline measured in the same run, alternated with it, so that a
// noisy machine moves both alike. scripts/bench.sh builds and runs it
// with the emulators; see bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

type options struct {
	root, out, work string
	only            map[string]bool
	started         time.Time

	launches, block           int           // sequential launch latency: per variant, per block
	concLaunches, concBlock   int           // concurrent launch latency
	concCallers               int           // concurrent callers of the latency figure
	tpCallers, tpRounds       int           // throughput
	tpWindow                  time.Duration // one variant's window in a round
	profileWindow             time.Duration
	statusRuns, statusQueries int
	scheduleConfigs           int           // configurations due in the Scheduler's pass
	reaperRuns                int           // runs of each kind in the Reaper's backlog
	starts                    int           // process starts of the footprint figure
	loadDuration              time.Duration // footprint load
	benchtime                 string        // auth micro-benchmarks
	benchCount                int
	profile                   bool // profile a window of launches (not with -cpuprofile)
	warmup                    time.Duration
}

func main() {
	var o options
	var only, started string
	flag.StringVar(&o.root, "root", ".", "the repository's root")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "where to write the results")
	flag.StringVar(&o.work, "work", ".runway/bench", "directory for logs, keys and built binaries")
	flag.StringVar(&only, "only", "", "comma-separated sections to run (launch,throughput,status,auth,footprint,schedule,reaper); all when empty")
	flag.StringVar(&started, "started", "", "Unix time (seconds, fractional) at which scripts/bench.sh started, for the total run time")
	flag.IntVar(&o.launches, "launches", 1000, "sequential launches per variant")
	flag.IntVar(&o.block, "block", 20, "sequential launches per block of a variant")
	flag.IntVar(&o.concLaunches, "concurrent-launches", 1280, "concurrent launches per variant")
	flag.IntVar(&o.concBlock, "concurrent-block", 80, "concurrent launches per block of a variant")
	flag.IntVar(&o.concCallers, "concurrent-callers", 16, "concurrent callers of the latency figure")
	flag.IntVar(&o.tpCallers, "throughput-callers", 50, "concurrent callers of the throughput figure")
	flag.IntVar(&o.tpRounds, "throughput-rounds", 12, "alternations of the throughput variants")
	flag.DurationVar(&o.tpWindow, "throughput-window", time.Second, "one variant's window in each throughput round")
	flag.DurationVar(&o.profileWindow, "profile-window", 3*time.Second, "CPU profile of Runway's launches under the throughput load")
	flag.IntVar(&o.statusRuns, "status-runs", 10000, "runs of the large configuration")
	flag.IntVar(&o.statusQueries, "status-queries", 100, "timed queries per action and configuration")
	flag.IntVar(&o.scheduleConfigs, "schedule-configurations", 1000, "configurations due in the timed Scheduler pass")
	flag.IntVar(&o.reaperRuns, "reaper-runs", 2000, "runs unclaimed past their deliver_by, and as many silent past their deadline, in the timed Reaper pass")
	flag.DurationVar(&o.warmup, "warmup", 1500*time.Millisecond, "warm-up load per launch variant before the launch figures")
	flag.IntVar(&o.starts, "starts", 5, "process starts timed per binary")
	flag.DurationVar(&o.loadDuration, "load", 10*time.Second, "throughput load on the function process")
	flag.StringVar(&o.benchtime, "benchtime", "500ms", "-benchtime of the auth benchmarks")
	flag.IntVar(&o.benchCount, "benchcount", 5, "runs of the auth benchmarks (medians are reported)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (the in-process stack and the floor) to this file")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("runwaybench: ")

	o.started = time.Now()
	if started != "" {
		if secs, err := strconv.ParseFloat(started, 64); err == nil {
			o.started = time.Unix(0, int64(secs*1e9))
		}
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.only[s] = true
		}
	}
	var err error
	if o.root, err = filepath.Abs(o.root); err != nil {
		log.Fatal(err)
	}
	for _, p := range []*string{&o.out, &o.work} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(o.root, *p)
		}
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		log.Fatal(err)
	}
	o.profile = *cpuProfile == ""
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	err = run(context.Background(), o)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		log.Fatal(err)
	}
}

func (o options) runs(section string) bool { return len(o.only) == 0 || o.only[section] }

func run(ctx context.Context, o options) error {
	limits, err := readDesignLimits(o.root)
	if err != nil {
		return err
	}
	rep := &report{opts: o, date: time.Now().UTC(), designLimits: limits}
	rep.machine = describeMachine(ctx, o.root)
	meter := newCPUMeter()
	if !meter.found() {
		log.Printf("warning: the emulators' processes were not found; their CPU time will read 0")
	}
	cpuStart := meter.read()
	devKeyFile := filepath.Join(o.work, "dev-key.pem")
	_ = os.Remove(devKeyFile) // a key of this run only

	var launchStack *stack
	var target launchTarget
	if o.runs("launch") || o.runs("throughput") || o.runs("footprint") {
		s, err := newStack(ctx, newProject("bench-launch"), devKeyFile, filepath.Join(o.work, "launch-requests.log"))
		if err != nil {
			return fmt.Errorf("launch stack: %w", err)
		}
		defer s.close()
		if target, err = s.seedLaunchTarget(ctx, "000099", "bench-executer@runway.local"); err != nil {
			return fmt.Errorf("seed the launch stack: %w", err)
		}
		launchStack = s
	}
	// What the machine does while this harness waits: the emulators' own
	// background work and other processes' load.
	idleStart := meter.read()
	time.Sleep(2 * time.Second)
	rep.idle = meter.read().minus(idleStart)

	section := func(name string, f func() error) {
		if err := f(); err != nil {
			log.Printf("%s: %v", name, err)
			rep.failures = append(rep.failures, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if launchStack != nil && (o.runs("launch") || o.runs("throughput")) {
		section("launch", func() error { return launchSection(ctx, o, rep, launchStack, target) })
	}
	if o.runs("status") {
		section("status", func() error { return statusSection(ctx, o, rep, devKeyFile) })
	}
	if launchStack != nil && o.runs("footprint") {
		section("footprint", func() error { return footprintSection(ctx, o, rep, launchStack, target) })
	}
	if o.runs("auth") {
		section("auth", func() error { return authSection(ctx, o, rep) })
	}
	if o.runs("schedule") {
		section("schedule", func() error { return scheduleSection(ctx, o, rep, devKeyFile) })
	}
	if o.runs("reaper") {
		section("reaper", func() error { return reaperSection(ctx, o, rep, devKeyFile) })
	}
	rep.runCPU = meter.read().minus(cpuStart)
	rep.total = time.Since(o.started)
	if err := rep.write(o.out); err != nil {
		return err
	}
	log.Printf("wrote %s (%s since scripts/bench.sh started)", o.out, rep.total.Round(time.Second))
	if len(rep.failures) > 0 {
		return fmt.Errorf("%d section(s) failed: %s", len(rep.failures), strings.Join(rep.failures, "; "))
	}
	return nil
}

// designLimitsFile is where TestDesignLimits writes the design limits
// (go test ./terraform -run TestDesignLimits -update-limits), which the
// results include as they are.
const designLimitsFile = "bench/design-limits.md"

// readDesignLimits reads the design limits, before any benchmark runs, so
// that a missing file stops the run at once rather than after minutes.
func readDesignLimits(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, designLimitsFile))
	if err == nil && strings.TrimSpace(string(b)) == "" {
		err = errors.New("the file is empty")
	}
	if err != nil {
		return "", fmt.Errorf("%s, which the results include: %w (go test ./terraform -run TestDesignLimits -update-limits writes it)", designLimitsFile, err)
	}
	return string(b), nil
}
