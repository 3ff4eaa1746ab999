package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
)

// reaperFigures is what the Reaper section measured: one pass over a
// backlog of unclaimed launches and silent runs.
type reaperFigures struct {
	runs     int // of each kind
	seedTime time.Duration
	cfg      runs.ReaperConfig
	pass     runs.Pass
	took     time.Duration
	ops      counts
}

// handled is how many runs the pass republished or timed out.
func (f *reaperFigures) handled() int { return f.pass.Published + f.pass.TimedOut }

// rate is the runs the pass handled per second.
func (f *reaperFigures) rate() float64 { return float64(f.handled()) / f.took.Seconds() }

// reaperDuties are the Reaper's duties that work on the seeded backlog,
// at once: republishing and timing out.
const reaperDuties = 2

// reaperSection creates, through the store, o.reaperRuns runs unclaimed
// past their deliver_by and as many RUNNING runs past their deadline, with
// random keys and so in every shard, then times one Reaper pass over them.
func reaperSection(ctx context.Context, o options, rep *report, devKeyFile string) error {
	s, err := newStack(ctx, newProject("bench-reaper"), devKeyFile, filepath.Join(o.work, "reaper-requests.log"))
	if err != nil {
		return err
	}
	defer s.close()
	t, err := s.seedLaunchTarget(ctx, "000099", "bench-executer@runway.local")
	if err != nil {
		return err
	}
	fig := &reaperFigures{runs: o.reaperRuns, cfg: runs.DefaultReaperConfig}
	log.Printf("reaper: creating %d runs unclaimed past their deliver_by and %d silent past their deadline", o.reaperRuns, o.reaperRuns)
	start := time.Now()
	if err := seedBacklog(ctx, s, t.cfg, o.reaperRuns); err != nil {
		return err
	}
	fig.seedTime = time.Since(start)

	// A deployment's pass stops at 45 s and leaves the rest to the next;
	// this one works through the whole backlog, to be timed.
	fig.cfg.Deadline = 10 * time.Minute
	log.Printf("reaper: one pass")
	before := s.fs.snapshot()
	start = time.Now()
	// Its log lines go to the stack's log file, as a function's to stdout.
	fig.pass, err = s.env.Runs.Reap(logging.WithLogger(ctx, s.env.Logger), fig.cfg)
	fig.took = time.Since(start)
	fig.ops = s.fs.snapshot().minus(before)
	if err != nil {
		return err
	}
	if fig.pass.Published != o.reaperRuns || fig.pass.TimedOut != o.reaperRuns {
		return fmt.Errorf("the pass republished %d and timed out %d runs, want %d of each", fig.pass.Published, fig.pass.TimedOut, o.reaperRuns)
	}
	rep.reaper = fig
	return nil
}

// seedBacklog creates n runs of cfg launched an hour ago whose launch
// message no executor claimed, and n that an executor claimed and went
// silent on, past their deadline, as functions/reaper's backlog test does.
func seedBacklog(ctx context.Context, s *stack, cfg configs.Configuration, n int) error {
	long := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	return createRuns(ctx, s, 2*n, func(i int) runs.Run {
		run := runs.NewRun(cfg, runs.RandomKey(), long)
		run.Deliveries, run.DeliverBy = 1, long.Add(time.Minute)
		if i%2 == 1 { // silent: claimed, so not due for redelivery
			run.Timeout, run.Deadline = time.Minute, long.Add(time.Minute)
			run.ClaimedBy = "bench-executor"
		}
		return run
	})
}

func (r *report) reaperSection(b *strings.Builder) {
	f := r.reaper
	if f == nil {
		return
	}
	b.WriteString("## 7. Reaper\n\n")
	fmt.Fprintf(b, "%s runs unclaimed past their deliver_by (one publish made) and %s RUNNING runs claimed and past their deadline, "+
		"created through the store with random keys, so in all %d shards (in %s, not timed); then one `Runs.Reap` pass with "+
		"runs.DefaultReaperConfig (batches of %d, %d shards at once per duty), its deadline raised to %s so that it works through them all.\n\n",
		thousands(f.runs), thousands(f.runs), store.RunShards, f.seedTime.Round(100*time.Millisecond), f.cfg.Batch, f.cfg.Workers, f.cfg.Deadline)
	b.WriteString("| pass | republished | timed out | retried | events | admitted | runs handled/s | Firestore RPCs per run handled | writes per run handled |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	n := f.handled()
	fmt.Fprintf(b, "| %s | %d | %d | %d | %d | %d | %.0f | %s | %s |\n\n", f.took.Round(time.Millisecond), f.pass.Published, f.pass.TimedOut,
		f.pass.Retried, f.pass.Events, f.pass.Admitted, f.rate(), f.ops.perOp(n), fmtFloat(float64(f.ops.Writes)/float64(max(n, 1))))

	// Each duty keeps Workers shards in hand, a run at a time in each.
	inFlight := reaperDuties * f.cfg.Workers
	perRun := time.Duration(float64(inFlight) / f.rate() * float64(time.Second))
	perDuty := f.rate() / reaperDuties * runs.DefaultReaperConfig.Deadline.Seconds()
	fmt.Fprintf(b, "**Per shard.** Each duty works on %d of the %d shards at once, one run after the other in a shard: with %d runs in "+
		"hand at once (%d duties), a run took about %s of its shard's turn (an estimate: runs in hand ÷ runs handled per second). At that "+
		"speed a pass of %s (a deployment's deadline) works through about %s runs per duty, %s per shard; a larger backlog is left to the "+
		"next pass, a minute later. The RPCs per run include the pass's queries: each of its five duties reads every shard at least once, those with nothing to do too.\n\n",
		f.cfg.Workers, store.RunShards, inFlight, reaperDuties, ms(perRun), runs.DefaultReaperConfig.Deadline,
		thousands(int(perDuty)), thousands(int(perDuty/store.RunShards)))
	r.add(summaryRow{num: "7", figure: fmt.Sprintf("Reaper pass over %s unclaimed and %s silent runs", thousands(f.runs), thousands(f.runs)),
		measured: fmt.Sprintf("%.0f runs/s", f.rate()), goal: "a figure: no goal", pass: true})
}
