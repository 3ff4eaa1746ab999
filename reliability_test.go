package runway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

// These tests record every operation they make, then check the
// invariants Runway promises over the whole record: a launch is never
// lost and never made twice, a run's events tell its whole history, and
// faults (Firestore or Pub/Sub cut, a process killed mid-request) break
// none of it.

// reliabilityJob is the job these tests launch, many times at once: it
// lets that many runs be in executors' hands at once (max_active_runs),
// so that every launch is published at once.
const reliabilityJob = "000099_reliability_DEV"

// seed loads the demo data and deploys reliabilityJob.
func seed(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	s.Seed(t)
	s.Post(t, "/v1/configuration", `{"action": "deploy_configuration", "configuration": {"configuration_type": "table-to-table",
		"configuration_id": "000099_reliability", "account": "000099", "environment": "DEV", "max_active_runs": 1000}}`).
		Decode(t, &api.ConfigurationResponse{})
}

func launchBody(key string) string {
	extra := ""
	if key != "" {
		extra = `, "idempotency_key": "` + key + `"`
	}
	return `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "` + reliabilityJob + `"` + extra + `}`
}

// launchRecord is one launch made, and its answer.
type launchRecord struct {
	key    string
	status int
	runID  string
}

// launchMessages waits for n launch messages, and any extra, and counts
// them per run id.
func launchMessages(t *testing.T, sub *pubsub.Subscriber, n int) map[string]int {
	t.Helper()
	count := map[string]int{}
	for _, m := range stacktest.Receive(t, sub, n) {
		count[m.Attributes["run_id"]]++
	}
	return count
}

// TestConcurrentLaunchInvariants: launches made at once, with and without
// idempotency keys, create exactly one run per key and one per keyless
// call, and publish exactly one message per run.
func TestConcurrentLaunchInvariants(t *testing.T) {
	s := stacktest.New(t)
	seed(t, s)
	sub := s.Subscribe(t, "runway-launch")
	before := s.RunCount(t, "000099")
	token := s.Token(t, stacktest.Admin)

	var calls []string // the keys of the calls; "" for none
	for i := range 6 {
		for range 5 {
			calls = append(calls, fmt.Sprintf("nightly-%d", i))
		}
	}
	for range 30 {
		calls = append(calls, "")
	}
	rand.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })

	records := make([]launchRecord, len(calls))
	var wg sync.WaitGroup
	for i, key := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := s.Do(t, http.MethodPost, "/v1/dag/launch", token, launchBody(key))
			var got api.LaunchResponse
			_ = json.Unmarshal(resp.Body, &got)
			records[i] = launchRecord{key: key, status: resp.Status, runID: got.RunID}
		}()
	}
	wg.Wait()

	byKey := map[string]string{}
	runIDs := map[string]bool{}
	keyless := 0
	for _, r := range records {
		if r.status != http.StatusOK || r.runID == "" {
			t.Fatalf("a launch answered %d", r.status)
		}
		runIDs[r.runID] = true
		if r.key == "" {
			keyless++
			continue
		}
		if first, ok := byKey[r.key]; ok && first != r.runID {
			t.Errorf("key %s gave runs %s and %s", r.key, first, r.runID)
		}
		byKey[r.key] = r.runID
	}
	if want := len(byKey) + keyless; len(runIDs) != want {
		t.Errorf("%d distinct runs answered, want %d keys + %d keyless = %d", len(runIDs), len(byKey), keyless, want)
	}
	if created := s.RunCount(t, "000099") - before; created != len(runIDs) {
		t.Errorf("%d runs created, %d answered", created, len(runIDs))
	}
	messages := launchMessages(t, sub, len(runIDs))
	for id := range runIDs {
		if messages[id] != 1 {
			t.Errorf("run %s has %d launch messages, want 1", id, messages[id])
		}
	}
	if len(messages) != len(runIDs) {
		t.Errorf("%d runs have messages, %d runs exist", len(messages), len(runIDs))
	}
}

// TestConcurrentStatusChangeInvariants: status changes made at once on
// one run leave a complete event log, each change from the status the
// previous left, and the run's status is the last change's.
func TestConcurrentStatusChangeInvariants(t *testing.T) {
	s := stacktest.New(t)
	seed(t, s)
	events := s.Subscribe(t, "runway-run-events")
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", launchBody("")).Decode(t, &launched)

	key, _ := runs.RunKey(launched.RunID)
	statuses := []string{"SUCCESS", "FAILED", "RUNNING", "NO_MATCH", "CHECKED"}
	// setStatus sends change i, as one of three users.
	setStatus := func(i int) stacktest.Response {
		body := `{"action": "set_run_status", "account": "000099", "configuration_type": "table-to-table",
			"configuration_id": "` + reliabilityJob + `", "run_id": "` + launched.RunID + `", "status": "` + statuses[i%len(statuses)] + `"}`
		return s.Do(t, http.MethodPost, "/v1/dag/status", s.Token(t, fmt.Sprintf("user%d@example.com", i%3)), body)
	}
	// runAndLog is the run and its events, as stored.
	runAndLog := func() (runs.Run, []runs.Event) {
		run, err := s.Env.Store.GetRun(context.Background(), "000099", key)
		if err != nil {
			t.Fatal(err)
		}
		log, err := s.Env.Store.Events(context.Background(), "000099", key, runs.EventPage{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return run, log
	}

	// The three users are not members yet: every change is refused with
	// 403, and leaves the run and its events as they were.
	runBefore, logBefore := runAndLog()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			if resp := setStatus(i); resp.Status != http.StatusForbidden {
				t.Errorf("set_run_status by a user who is not a member: %s, want 403", resp)
			}
		})
	}
	wg.Wait()
	if runAfter, logAfter := runAndLog(); !cmp.Equal(runBefore, runAfter) || !cmp.Equal(logBefore, logAfter) {
		t.Fatalf("refused changes changed the run: %+v → %+v, events %+v → %+v", runBefore, runAfter, logBefore, logAfter)
	}

	// Made executers, they try again.
	for i := range 3 {
		if _, err := s.Env.Store.PutMember(context.Background(), "000099", fmt.Sprintf("user%d@example.com", i), auth.RoleExecuter, "test"); err != nil {
			t.Fatal(err)
		}
	}
	var contended atomic.Int64
	for i := range 30 {
		wg.Go(func() {
			// Thirty transactions on one document: some lose to the
			// contention and are told to retry (503), changing nothing.
			switch resp := setStatus(i); resp.Status {
			case http.StatusOK:
			case http.StatusServiceUnavailable:
				resp.WantError(t, http.StatusServiceUnavailable)
				contended.Add(1)
			default:
				t.Errorf("set_run_status by a member: %s", resp)
			}
		})
	}
	wg.Wait()

	run, log := runAndLog()
	if len(log) == 0 {
		t.Fatal("no event recorded")
	}
	previous := runs.StatusRunning
	for i, e := range log {
		if e.From != previous || e.From == e.To || (i > 0 && e.At.Before(log[i-1].At)) {
			t.Fatalf("event %d goes %s → %s at %v after %s: the log is broken", i, e.From, e.To, e.At, previous)
		}
		previous = e.To
	}
	if run.Status != previous {
		t.Errorf("the run is %s, its last event says %s", run.Status, previous)
	}
	// A change whose transaction answered an error after committing is
	// left for the Reaper to publish: that is the outbox's work.
	if _, err := s.Env.Runs.Reap(context.Background(), runs.ReaperConfig{PublishAfter: 0, Lease: time.Minute, Batch: 100}); err != nil {
		t.Fatal(err)
	}
	published := map[string]bool{}
	for _, m := range stacktest.Receive(t, events, len(log)) {
		var ev message.RunEvent
		if err := json.Unmarshal(m.Data, &ev); err == nil {
			published[ev.EventID] = true
		}
	}
	for _, e := range log {
		if !published[e.ID] {
			t.Errorf("event %s (%s → %s) was not published", e.ID, e.From, e.To)
		}
	}
	t.Logf("%d concurrent changes (%d lost to contention) left %d events, all chained and published", 30, contended.Load(), len(log))
}

// waitFor waits up to a minute for cond, from a goroutine of the test: on
// time out, it fails the test and returns.
func waitFor(t *testing.T, what string, cond func() bool) {
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
	}
}

// keyedLoad is what loadWithKeys launched.
type keyedLoad struct {
	done     map[string]string // key → run id, of every key that got a run
	left     []string          // keys whose launches all failed when the load stopped
	failures map[int]int       // answers other than 200, by status
}

// loadWithKeys launches from workers, each key retried until it gets a
// run, until stop.
func loadWithKeys(t *testing.T, workers int, stop <-chan struct{}, launch func(key string) (int, string, string)) keyedLoad {
	t.Helper()
	var mu sync.Mutex
	l := keyedLoad{done: map[string]string{}, failures: map[int]int{}}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				key := fmt.Sprintf("w%d-%d", w, n)
				for tried := false; ; tried = true {
					select {
					case <-stop:
						if tried {
							mu.Lock()
							l.left = append(l.left, key)
							mu.Unlock()
						}
						return
					default:
					}
					status, runID, body := launch(key)
					if status == http.StatusOK {
						mu.Lock()
						l.done[key] = runID
						mu.Unlock()
						break
					}
					mu.Lock()
					l.failures[status]++
					mu.Unlock()
					if status != 0 && status != http.StatusServiceUnavailable {
						t.Errorf("a launch answered %d: %s", status, body)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return l
}

// claimer is an executor that claims the run of each launch message it
// receives, as the reference executor does, and counts the messages of
// each run and the claims refused as duplicates.
type claimer struct {
	mu       sync.Mutex
	messages map[string]int  // run id → launch messages received
	refused  map[string]int  // run id → claims refused: the message was a duplicate
	claimed  map[string]bool // run id → claimed
	last     time.Time       // of the last claim
}

// startClaimer receives sub's launch messages until the test ends.
func startClaimer(t *testing.T, s *stacktest.Stack, sub *pubsub.Subscriber) *claimer {
	c := &claimer{messages: map[string]int{}, refused: map[string]int{}, claimed: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	received := make(chan error, 1)
	t.Cleanup(func() { cancel(); <-received })
	executor := auth.Caller{Email: "executor@runway.test"}
	go func() {
		received <- sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
			runID := m.Attributes["run_id"]
			key, _ := runs.RunKey(runID)
			run, err := s.Env.Store.GetRun(ctx, m.Attributes["account"], key)
			if err != nil {
				m.Nack()
				return
			}
			ref := runs.RunRef{Account: run.Account, Environment: run.Environment, Kind: run.Kind, ConfigurationID: run.ConfigurationID, RunID: runID}
			_, err = s.Env.Runs.ReportStatus(ctx, executor, ref, runs.Report{ExecutorID: "executor-" + m.ID, Status: runs.StatusRunning})
			if err != nil && !errors.Is(err, failure.ErrConflict) {
				m.Nack() // Firestore is not back yet: delivered again
				return
			}
			m.Ack()
			c.mu.Lock()
			defer c.mu.Unlock()
			c.messages[runID]++
			if err != nil {
				c.refused[runID]++
				return
			}
			c.claimed[runID], c.last = true, time.Now()
		})
	}()
	return c
}

func (c *claimer) counts() (claimed int, sinceLast time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.claimed), time.Since(c.last)
}

// checkOneRunPerKey checks that every key that got a run has exactly that
// one run, complete, and that each run is delivered: an executor claims
// the launch messages published, then a Reaper pass past the redelivery
// delay publishes again the launches nobody claimed (those a dying
// process never published), and every run ends claimed. That includes
// the run of a key the load left without a 200, when its write reached
// Firestore but its answer did not reach the launch: nothing published
// it, and the Reaper must. A run published twice is one whose message had
// not been claimed by that pass: the claim refuses its second delivery,
// which the check counts and returns.
func checkOneRunPerKey(t *testing.T, s *stacktest.Stack, l keyedLoad, sub *pubsub.Subscriber) int {
	t.Helper()
	ctx := context.Background()
	for key, runID := range l.done {
		run, err := s.Env.Store.GetRun(ctx, "000099", runs.IdempotentKey("000099", key))
		if err != nil || run.RunID != runID || run.IdempotencyKey != key || run.Status != runs.StatusRunning || run.StartExecutionDate.IsZero() {
			t.Fatalf("key %s: run %+v, %v; the client was told %s", key, run, err, runID)
		}
	}
	expected := maps.Clone(l.done) // key → run id, of every run that must be delivered
	for _, key := range l.left {
		switch run, err := s.Env.Store.GetRun(ctx, "000099", runs.IdempotentKey("000099", key)); {
		case err == nil:
			expected[key] = run.RunID
		case !errors.Is(err, failure.ErrNotFound):
			t.Fatalf("key %s, left without a 200: %v", key, err)
		}
	}
	c := startClaimer(t, s, sub)
	// The launches' own messages are claimed: every run, or all but those
	// never published, which nothing claims for 5 s. (How long this waits
	// only changes how many runs the Reaper publishes twice.)
	stacktest.Eventually(t, "the launch messages to be claimed", func() bool {
		claimed, since := c.counts()
		return claimed == len(expected) || (claimed > 0 && since > 5*time.Second)
	})
	c.mu.Lock()
	claimedBefore := maps.Clone(c.claimed)
	c.mu.Unlock()
	reaper, err := s.Env.RunsWithClock(func() time.Time { return time.Now().Add(time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	pass, err := reaper.Reap(ctx, runs.ReaperConfig{MaxDeliveries: 5, Batch: 500, Workers: 16})
	if err != nil {
		t.Fatal(err)
	}
	stacktest.Eventually(t, "every run to be claimed", func() bool { claimed, _ := c.counts(); return claimed == len(expected) })
	c.mu.Lock()
	defer c.mu.Unlock()
	duplicates := 0
	for key, runID := range expected {
		switch n := c.messages[runID]; {
		case n == 2 && c.refused[runID] == 1 && !claimedBefore[runID]:
			duplicates++ // published at launch and by the Reaper: the claim refused the second
		case n != 1 || c.refused[runID] != 0:
			t.Errorf("run %s (key %s): %d launch messages, %d claims refused; claimed before the Reaper's pass: %v",
				runID, key, n, c.refused[runID], claimedBefore[runID])
		}
	}
	unclaimed := len(expected) - len(claimedBefore)
	if pass.Published > unclaimed {
		t.Errorf("the Reaper published %d launches again, %d were unclaimed", pass.Published, unclaimed)
	}
	t.Logf("%d runs of keys left without a 200; %d runs unclaimed after the launches' own messages; the Reaper published %d again",
		len(expected)-len(l.done), unclaimed, pass.Published)
	return duplicates
}

// TestFirestoreOutage: with Firestore cut in the middle of a load, launches
// answer a JSON 503 and create nothing partial; once it is back, the same
// instances serve again, and every key has exactly one run, delivered.
func TestFirestoreOutage(t *testing.T) {
	proxy := testenv.NewProxy(t, os.Getenv(emulators.FirestoreHostEnv))
	// A launch meets the outage as a 503 once the store's timeout has
	// passed: short, so that the probe below answers while Firestore is
	// down, but not so short that seeding a loaded machine's emulator
	// times out (1s did, once in 6 runs under the race detector with
	// other suites running).
	s := stacktest.New(t, stacktest.WithFirestoreVia(proxy), stacktest.WithStoreTimeout("3s"))
	seed(t, s)
	sub := s.Subscribe(t, "runway-launch")
	token := s.Token(t, stacktest.Admin)

	var unavailable, launched atomic.Int64
	launch := func(key string) (int, string, string) {
		resp := s.Do(t, http.MethodPost, "/v1/dag/launch", token, launchBody(key))
		if resp.Status == http.StatusOK {
			launched.Add(1)
		}
		if resp.Status == http.StatusServiceUnavailable {
			e := resp.WantError(t, http.StatusServiceUnavailable)
			if !strings.Contains(e.Message, "temporarily unavailable") {
				t.Errorf("503 message %q", e.Message)
			}
			unavailable.Add(1)
		}
		var got api.LaunchResponse
		_ = json.Unmarshal(resp.Body, &got)
		return resp.Status, got.RunID, string(resp.Body)
	}
	// Firestore is cut once the load is under way, and restored once it
	// has been down for a second and more. The load's launches can all be
	// waiting to record their publish when the cut comes (they wait the
	// outage out), so one launch is also sent in the middle of the outage:
	// it must meet it. The load stops once 10 more launches succeeded.
	stop, probe := make(chan struct{}), make(chan int, 1)
	go func() {
		defer close(stop)
		waitFor(t, "5 launches before the outage", func() bool { return launched.Load() >= 5 })
		proxy.SetDown(true)
		time.Sleep(time.Second)
		status, _, _ := launch("outage-probe")
		probe <- status
		proxy.SetDown(false)
		after := launched.Load()
		waitFor(t, "10 launches after the outage", func() bool { return launched.Load() >= after+10 })
	}()
	load := loadWithKeys(t, 6, stop, launch)
	if status := <-probe; status != http.StatusServiceUnavailable {
		t.Errorf("a launch in the middle of the outage answered %d, want 503", status)
	}
	if unavailable.Load() == 0 {
		t.Fatal("no launch met the outage: the test proves nothing")
	}
	if len(load.done) < 10 {
		t.Fatalf("only %d launches succeeded: the stack did not recover", len(load.done))
	}
	// Every launch that created its run published it, outage or not.
	duplicates := checkOneRunPerKey(t, s, load, sub)
	t.Logf("%d keys launched, %v failures during the outage, %d runs published twice (the claim refused the second)", len(load.done), load.failures, duplicates)
}

// TestProcessKilledMidRequest: a DagLaunch process is killed in the middle
// of a load and another started in its place; every key still has exactly
// one complete run, each delivered: the launches the dying process never
// published are published by the Reaper.
func TestProcessKilledMidRequest(t *testing.T) {
	bin := buildFunctions(t)
	s := stacktest.New(t)
	seed(t, s)
	sub := s.Subscribe(t, "runway-launch")
	token := s.Token(t, stacktest.Admin)

	start := func() (*exec.Cmd, string) {
		port := freePort(t)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "FUNCTION_TARGET=DagLaunch", fmt.Sprintf("PORT=%d", port), "LOCAL_ONLY=true",
			"RUNWAY_PROJECT="+s.Project, "RUNWAY_AUTH_MODE=dev", "RUNWAY_DEV_KEY_FILE="+s.DevKeyFile,
			"RUNWAY_PUBLISH_TIMEOUT=2s", "RUNWAY_LAUNCH_RATE_LIMIT=0", "RUNWAY_LOG_LEVEL=error")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	var base atomic.Value
	first, url := start()
	base.Store(url)

	// The first process is killed once the load is under way; the load
	// stops once its successor served 5 launches.
	var killed, launched atomic.Int64
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		waitFor(t, "5 launches by the first process", func() bool { return launched.Load() >= 5 })
		first.Process.Kill() // SIGKILL: no shutdown, requests cut off mid-way
		killed.Add(1)
		_, url := start()
		base.Store(url)
		after := launched.Load()
		waitFor(t, "5 launches by its successor", func() bool { return launched.Load() >= after+5 })
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	load := loadWithKeys(t, 6, stop, func(key string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodPost, base.Load().(string)+"/v1/dag/launch", strings.NewReader(launchBody(key)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err.Error() // the process is dead or not up yet: retry
		}
		defer resp.Body.Close()
		var got api.LaunchResponse
		_ = json.NewDecoder(resp.Body).Decode(&got)
		if resp.StatusCode == http.StatusOK {
			launched.Add(1)
		}
		return resp.StatusCode, got.RunID, ""
	})
	if killed.Load() != 1 || len(load.done) < 10 {
		t.Fatalf("%d keys launched around the kill: the test proves nothing", len(load.done))
	}
	duplicates := checkOneRunPerKey(t, s, load, sub)
	t.Logf("%d keys launched, %v connection failures around the kill, %d runs published twice (the claim refused the second)", len(load.done), load.failures, duplicates)
}
