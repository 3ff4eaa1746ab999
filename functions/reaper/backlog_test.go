package reaper_test

import (
	"context"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/store"
)

// TestAPassWorksThroughABacklog: a pass reads a shard's batch after batch
// until none is left: a backlog larger than a batch (after an outage, say)
// is not left for later passes, a minute apart. Its duties run at once:
// overdue runs and unclaimed launches, all in one shard, are both worked
// through in the one pass.
func TestAPassWorksThroughABacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := stacktest.New(t)
	s.Seed(t)
	cfg, err := s.Env.Configs.Get(ctx, "000099", configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: job})
	if err != nil {
		t.Fatal(err)
	}
	const overdue, unpublished = 35, 23
	long := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	for i := range overdue + unpublished {
		key := runs.RandomKey()
		for store.RunShard(key) != 7 {
			key = runs.RandomKey()
		}
		run := runs.NewRun(cfg, key, long)
		run.Deliveries, run.DeliverBy = 1, long.Add(time.Minute)
		if i < overdue {
			run.Timeout, run.Deadline = time.Minute, long.Add(time.Minute)
			run.ClaimedBy = "executor-1"
		}
		if err := s.Env.Store.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	pass, err := s.Env.Runs.Reap(ctx, runs.ReaperConfig{PublishAfter: time.Minute, Lease: time.Minute, Batch: 10, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if pass.TimedOut != overdue || pass.Published != unpublished {
		t.Errorf("one pass with batches of 10: %+v, want %d timed out and %d published again", pass, overdue, unpublished)
	}
	if again, err := s.Env.Runs.Reap(ctx, runs.ReaperConfig{PublishAfter: time.Minute, Lease: time.Minute, Batch: 10}); err != nil || again != (runs.Pass{}) {
		t.Errorf("the next pass: %+v, %v: nothing should be left", again, err)
	}
}

// TestAPassAdmitsRunsLeftWaiting: runs left waiting for a slot while one
// is free (their process died after queueing them, or max_active_runs was
// raised) are admitted by the Reaper, as many as the configuration has
// free slots, although they sit in different shards; the next pass finds
// nothing to admit.
func TestAPassAdmitsRunsLeftWaiting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := stacktest.New(t)
	s.Seed(t)
	ref := configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: job}
	cfg, err := s.Env.Configs.Get(ctx, "000099", ref)
	if err != nil {
		t.Fatal(err)
	}
	const waiting = 3
	if cfg.Schedule.MaxActiveRuns >= waiting {
		t.Fatalf("%s has max_active_runs %d: the test needs fewer slots than %d waiting runs", job, cfg.Schedule.MaxActiveRuns, waiting)
	}
	long := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	shards := map[int]bool{}
	for len(shards) < waiting {
		key := runs.RandomKey()
		if shards[store.RunShard(key)] {
			continue
		}
		shards[store.RunShard(key)] = true
		if err := s.Env.Store.CreateRun(ctx, runs.NewQueuedRun(cfg, key, long)); err != nil {
			t.Fatal(err)
		}
	}
	reaper := runs.ReaperConfig{PublishAfter: time.Minute, Lease: time.Minute, Batch: 10, Workers: 4}
	pass, err := s.Env.Runs.Reap(ctx, reaper)
	if err != nil || pass.Admitted != cfg.Schedule.MaxActiveRuns {
		t.Fatalf("the pass: %+v, %v; want %d admitted (max_active_runs)", pass, err, cfg.Schedule.MaxActiveRuns)
	}
	left, err := s.Env.Runs.Waiting(ctx, "000099", ref, waiting)
	if err != nil || len(left) != waiting-pass.Admitted {
		t.Errorf("%d runs still wait (%v), want %d", len(left), err, waiting-pass.Admitted)
	}
	if again, err := s.Env.Runs.Reap(ctx, reaper); err != nil || again.Admitted != 0 {
		t.Errorf("the next pass: %+v, %v: every slot is held, nothing to admit", again, err)
	}
}
