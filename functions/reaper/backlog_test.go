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
