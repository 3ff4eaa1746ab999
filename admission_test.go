package runway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/store"
)

// TestMaxActiveRunsHoldsUnderConcurrency: 50 launches at once of a
// configuration with max_active_runs 2 never put more than 2 runs in
// executors' hands at once, and lose none: each is published once,
// executed, and ends SUCCESS. Two checkers watch all along: the executor
// counts the runs it holds (from a launch message to its final report),
// and a sampler counts, in Firestore, the slots held and the runs
// admitted and not finished.
func TestMaxActiveRunsHoldsUnderConcurrency(t *testing.T) {
	const launches, maxActive = 50, 2
	s := stacktest.New(t)
	s.Seed(t)
	def, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": map[string]any{
		"configuration_type": "table-to-table", "configuration_id": "000099_capped", "account": "000099", "environment": "DEV",
		"max_active_runs": maxActive}})
	s.Post(t, "/v1/configuration", string(def)).Decode(t, &api.ConfigurationResponse{})
	const configID = "000099_capped_DEV"
	ref := configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: configID}

	// The executor: it takes every launch message delivered, holds the run
	// for a moment, and reports SUCCESS. A run leaves its hands when it
	// decides to report, before the report.
	var (
		held, mostHeld atomic.Int32
		mu             sync.Mutex
		delivered      = map[string]int{} // run id → deliveries
		ctx, stop      = context.WithCancel(context.Background())
	)
	defer stop()
	sub := s.Subscribe(t, "runway-launch")
	sub.ReceiveSettings.MaxOutstandingMessages = launches
	sub.ReceiveSettings.NumGoroutines = 4
	executor := s.Token(t, stacktest.Executor)
	go func() {
		_ = sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			runID := m.Attributes["run_id"]
			mu.Lock()
			delivered[runID]++
			again := delivered[runID] > 1
			mu.Unlock()
			if again {
				return // a second delivery: the claim refuses it anyway
			}
			now := held.Add(1)
			for {
				most := mostHeld.Load()
				if now <= most || mostHeld.CompareAndSwap(most, now) {
					break
				}
			}
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
			held.Add(-1)
			body := fmt.Sprintf(`{"action": "report_run_status", "account": "000099", "configuration_type": "table-to-table",
				"configuration_id": %q, "run_id": %q, "executor_id": "e-%s", "status": "SUCCESS"}`, configID, runID, runID)
			s.Do(t, http.MethodPost, "/v1/dag/status", executor, body).Decode(t, &api.Results{})
		})
	}()

	// The sampler: slots held and runs admitted but not finished, as
	// Firestore has them, never more than max_active_runs.
	var mostSlots, mostAdmitted atomic.Int32
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		slots := s.Env.Firestore.Collection("accounts/000099/configurations/DEV~table-to-table~" + configID + "/slots")
		// The runs are read in one query, so in one snapshot: QueryRuns
		// merges a query per lane, each read at its own instant, and may
		// count a run that finished in one lane and the run admitted into
		// its slot in another. The query filters on one field, so that it
		// needs no composite index (terraform's index check holds the
		// suite's queries to those declared).
		ofConfig := s.Env.Firestore.Collection("accounts/000099/runs").Where("config_key", "==", store.ConfigKey(ref))
		for ctx.Err() == nil {
			if snaps, err := slots.Documents(ctx).GetAll(); err == nil && int32(len(snaps)) > mostSlots.Load() {
				mostSlots.Store(int32(len(snaps)))
			}
			found, err := ofConfig.Documents(ctx).GetAll()
			if err == nil {
				admitted := int32(0)
				for _, snap := range found {
					status, _ := snap.DataAt("status")
					queued, _ := snap.DataAt("queued")
					if status == string(runs.StatusRunning) && queued != true {
						admitted++
					}
				}
				if admitted > mostAdmitted.Load() {
					mostAdmitted.Store(admitted)
				}
			}
		}
	}()

	// 50 launches at once.
	admin := s.Token(t, stacktest.Admin)
	runIDs := make([]string, launches)
	var wg sync.WaitGroup
	for i := range launches {
		wg.Go(func() {
			var got api.LaunchResponse
			s.Do(t, http.MethodPost, "/v1/dag/launch", admin, `{"action": "launch_job", "account": "000099", "environment": "DEV",
				"configuration_type": "table-to-table", "configuration_id": "`+configID+`"}`).Decode(t, &got)
			runIDs[i] = got.RunID
		})
	}
	wg.Wait()

	finished := func() bool {
		found, err := s.Env.Store.QueryRuns(ctx, "000099", runs.Query{Kind: configs.KindTableToTable, Environment: "DEV",
			ConfigurationID: configID, Status: runs.StatusSuccess, Limit: launches + 1})
		return err == nil && len(found) == launches
	}
	for deadline := time.Now().Add(3 * time.Minute); !finished(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			waiting, _ := s.Env.Runs.Waiting(ctx, "000099", ref, launches)
			t.Fatalf("not every launch ended SUCCESS in 3 minutes: %d still waiting for a slot", len(waiting))
		}
	}
	stop()
	<-sampled
	if most := mostHeld.Load(); most > maxActive || most < 1 {
		t.Errorf("the executor held %d runs at once, want at most %d", most, maxActive)
	}
	if slots, admitted := mostSlots.Load(), mostAdmitted.Load(); slots > maxActive || admitted > maxActive || slots < 1 || admitted < 1 {
		t.Errorf("Firestore had at most %d slots held and %d runs admitted at once, want at most %d and the sampler to see some", slots, admitted, maxActive)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range runIDs {
		if delivered[id] != 1 {
			t.Errorf("run %s was delivered %d times, want once", id, delivered[id])
		}
	}
}
