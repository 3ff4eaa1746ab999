package runs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/configs"
)

// TestRedelivery: a launch message no executor claims goes out again, each
// time after twice the delay before, until the last allowed publish, and
// then no more.
func TestRedelivery(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		deliveries     int
		wantType       string
		wantDeliveries int
		wantDue        time.Duration // from now; 0 for none
	}{
		{1, EventRepublished, 2, 2 * time.Minute},
		{2, EventRepublished, 3, 4 * time.Minute},
		{4, EventRepublished, 5, 16 * time.Minute},
		{5, EventUndelivered, 5, 0},
		{7, EventUndelivered, 7, 0},
	} {
		r := &Run{Status: StatusRunning, Deliveries: tc.deliveries, DeliverBy: now.Add(-time.Second)}
		ev := redelivery(r, now, time.Minute, 5)
		var due time.Duration
		if !r.DeliveryDue().IsZero() {
			due = r.DeliveryDue().Sub(now)
		}
		if ev.Type != tc.wantType || r.Deliveries != tc.wantDeliveries || due != tc.wantDue || !ev.Published || ev.By != Reaper {
			t.Errorf("after %d publishes: %s event (published %v, by %s), %d publishes, next in %v; want %s, %d, %v",
				tc.deliveries, ev.Type, ev.Published, ev.By, r.Deliveries, due, tc.wantType, tc.wantDeliveries, tc.wantDue)
		}
	}
}

// TestDeliveryDue: only a run whose launch message is out and unclaimed
// awaits a delivery.
func TestDeliveryDue(t *testing.T) {
	by := time.Date(2026, 12, 1, 8, 1, 0, 0, time.UTC)
	runCases{
		"published, unclaimed": {Run{Status: StatusRunning, DeliverBy: by}, true},
		"claimed":              {Run{Status: StatusRunning, DeliverBy: by, ClaimedBy: "e1"}, false},
		"waiting for a slot":   {Run{Status: StatusRunning, DeliverBy: by, Queued: true}, false},
		"finished":             {Run{Status: StatusFailed, DeliverBy: by}, false},
		"from before claims":   {Run{Status: StatusRunning}, false},
	}.check(t, "awaits a delivery", func(r Run) bool { return !r.DeliveryDue().IsZero() })
}

// runCases are runs, by name, and whether a predicate holds of each.
type runCases map[string]struct {
	run  Run
	want bool
}

// check reports the runs of cases for which pred is not as wanted.
func (cases runCases) check(t *testing.T, what string, pred func(Run) bool) {
	t.Helper()
	for name, tc := range cases {
		if got := pred(tc.run); got != tc.want {
			t.Errorf("%s: %s %v, want %v", name, what, got, tc.want)
		}
	}
}

// TestRedeliveryDue: the Reaper publishes again only a launch whose
// message is out, unclaimed and due, as read in the run's transaction.
func TestRedeliveryDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	runCases{
		"overdue":                  {Run{Status: StatusRunning, DeliverBy: now.Add(-time.Second)}, true},
		"due to the instant":       {Run{Status: StatusRunning, DeliverBy: now}, true},
		"not due yet":              {Run{Status: StatusRunning, DeliverBy: now.Add(time.Second)}, false},
		"claimed meanwhile":        {Run{Status: StatusRunning, DeliverBy: now.Add(-time.Minute), ClaimedBy: "e1"}, false},
		"finished meanwhile":       {Run{Status: StatusSuccess, DeliverBy: now.Add(-time.Minute)}, false},
		"waiting for a slot":       {Run{Status: StatusRunning, DeliverBy: now.Add(-time.Minute), Queued: true}, false},
		"given up by another pass": {Run{Status: StatusRunning, Deliveries: 5}, false},
		"from before claims":       {Run{Status: StatusRunning, PublishedAt: now.Add(-time.Hour)}, false},
	}.check(t, "due", func(r Run) bool { return redeliveryDue(r, now) })
	if got := (ReaperConfig{}).maxDeliveries(); got != DefaultReaperConfig.MaxDeliveries {
		t.Errorf("unset MaxDeliveries = %d, want the default %d", got, DefaultReaperConfig.MaxDeliveries)
	}
	if got := (ReaperConfig{MaxDeliveries: 2}).maxDeliveries(); got != 2 {
		t.Errorf("MaxDeliveries 2 = %d", got)
	}
}

// TestDecideTimeout: a RUNNING run past its deadline is failed with a
// TIMEOUT saying since when its executor is silent, and retried if its
// policy allows; any other run, as read in the transaction, is left as
// it is.
func TestDecideTimeout(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	clock := now.Add(3 * time.Second) // the transaction runs a little after the pass began
	launched := now.Add(-time.Hour)
	heartbeat := now.Add(-20 * time.Minute)
	running := func(deadline time.Time) Run {
		return Run{RunID: "r", Status: StatusRunning, StartExecutionDate: launched, Timeout: 10 * time.Minute,
			Deadline: deadline, Attempt: 1, Retries: 2, RetryDelay: time.Minute}
	}
	silent := running(now.Add(-10 * time.Minute))
	silent.LastHeartbeat, silent.ClaimedBy, silent.Heartbeats = heartbeat, "e1", 3
	lastAttempt := silent
	lastAttempt.Attempt = 3
	for _, tc := range []struct {
		name        string
		run         Run
		wantFail    bool
		wantMessage string
		wantRetry   time.Time
	}{
		{"silent since its last report", silent, true,
			"no report from its executor since 2026-12-01T07:40:00Z: the configuration's timeout is 10m0s", now.Add(time.Minute)},
		{"never claimed", running(now.Add(-time.Second)), true,
			"no executor took the run since its launch at 2026-12-01T07:00:00Z: the configuration's timeout is 10m0s", now.Add(time.Minute)},
		{"deadline to the instant", running(now), true,
			"no executor took the run since its launch at 2026-12-01T07:00:00Z: the configuration's timeout is 10m0s", now.Add(time.Minute)},
		{"out of retries", lastAttempt, true,
			"no report from its executor since 2026-12-01T07:40:00Z: the configuration's timeout is 10m0s", time.Time{}},
		{"reported meanwhile", running(now.Add(time.Second)), false, "", time.Time{}},
		{"no timeout", running(time.Time{}), false, "", time.Time{}},
		{"finished meanwhile", Run{RunID: "r", Status: StatusSuccess, Deadline: now.Add(-time.Minute), EndDate: launched}, false, "", time.Time{}},
		{"waiting for a slot", Run{RunID: "r", Status: StatusRunning, Queued: true, Timeout: time.Minute}, false, "", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Service{now: func() time.Time { return clock }}
			r := tc.run
			update := s.decideTimeout(&r, now)
			if !tc.wantFail {
				if update.Save || update.Event != nil || !equalRuns(r, tc.run) {
					t.Fatalf("changed a run that is not overdue: update %+v, run %+v", update, r)
				}
				return
			}
			ev := update.Event
			if !update.Save || ev == nil || ev.Type != EventStatus || ev.From != StatusRunning || ev.To != StatusFailed ||
				ev.By != Reaper || ev.Detail != tc.wantMessage || !ev.At.Equal(clock) {
				t.Fatalf("update %+v, event %+v; want a FAILED status change by the Reaper saying %q", update, ev, tc.wantMessage)
			}
			if r.Status != StatusFailed || r.Error == nil || r.Error.Code != "TIMEOUT" || r.Error.Message != tc.wantMessage {
				t.Errorf("run %s with error %+v", r.Status, r.Error)
			}
			if !r.RetryAt.Equal(tc.wantRetry) || !r.Deadline.IsZero() || !r.EndDate.Equal(clock) {
				t.Errorf("retry at %v (want %v), deadline %v, end %v", r.RetryAt, tc.wantRetry, r.Deadline, r.EndDate)
			}
		})
	}
}

// equalRuns compares the fields a decision may change.
func equalRuns(a, b Run) bool {
	return a.Status == b.Status && a.Error == b.Error && a.RetryAt.Equal(b.RetryAt) && a.Deadline.Equal(b.Deadline) &&
		a.EndDate.Equal(b.EndDate) && a.LastUpdateDate.Equal(b.LastUpdateDate)
}

// TestNoRetry: a failed run whose configuration was deleted, deactivated
// or archived since is not retried; it says why in a status event, once.
func TestNoRetry(t *testing.T) {
	t.Parallel()
	active := configs.Configuration{ConfigurationID: "c", Activated: true}
	for _, tc := range []struct {
		name   string
		config configs.Configuration
		found  bool
		want   string // "" for a retry
	}{
		{"activated", active, true, ""},
		{"deleted", configs.Configuration{}, false, "the configuration no longer exists"},
		{"deactivated", configs.Configuration{ConfigurationID: "c"}, true, "configuration c is deactivated"},
		{"archived", configs.Configuration{ConfigurationID: "c", Activated: true, Archived: true}, true, "configuration c is archived"},
	} {
		got := retryRefusal(tc.config, tc.found)
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: refusal %q, want %q…", tc.name, got, tc.want)
		}
	}

	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ended := now.Add(-time.Hour)
	s := &Service{now: func() time.Time { return now }}
	pending := Run{Status: StatusFailed, EndDate: ended, RetryAt: now.Add(-time.Minute)}
	update := s.decideNoRetry(&pending, "the configuration no longer exists")
	if ev := update.Event; !update.Save || ev == nil || ev.From != StatusFailed || ev.To != StatusFailed || ev.By != Reaper ||
		ev.Detail != "not retried: the configuration no longer exists" {
		t.Errorf("giving up a pending retry: update %+v, event %+v", update, update.Event)
	}
	if pending.Status != StatusFailed || !pending.RetryAt.IsZero() || !pending.EndDate.Equal(ended) {
		t.Errorf("after giving up: %s, retry at %v, end %v (want %v kept)", pending.Status, pending.RetryAt, pending.EndDate, ended)
	}
	// Another Reaper, or a person, got there first.
	if update := s.decideNoRetry(&pending, "again"); update.Save || update.Event != nil {
		t.Errorf("gave up twice: %+v", update)
	}
}

// TestRetryOf: a retry carries its parent's launch and retry budget, runs
// the configuration as it is now, waits for a slot, and has one key per
// parent.
func TestRetryOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	config := configs.Configuration{Account: "000099", Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationType: "table-to-table",
		ConfigurationID: "c", JobID: "j", Activated: true,
		Policy:   configs.Policy{Timeout: time.Hour, Retries: 9, RetryDelay: time.Hour},
		Schedule: configs.Schedule{MaxActiveRuns: 3}}
	parent := Run{Key: "k1", RunID: "p1", Account: "000099", Environment: "DEV", Kind: configs.KindTableToTable,
		ConfigurationType: "gbq-to-gbq", ConfigurationID: "c", ExecutionDate: "2026-11-30", StartedBy: "ada@example.com",
		Attempt: 2, Retries: 3, RetryDelay: time.Minute, Parameters: []byte(`{"a":1}`), CallbackURL: "https://x.example.com",
		Status: StatusFailed, RetryAt: now}
	retry := retryOf(parent, config, now)
	want := Run{Key: retry.Key, RunID: retry.RunID, AuditID: retry.AuditID, Account: "000099", Environment: "DEV",
		ConfigurationType: "gbq-to-gbq", Kind: configs.KindTableToTable, ConfigurationID: "c", JobID: "j", Status: StatusRunning,
		ExecutionDate: "2026-11-30", StartExecutionDate: now, LastUpdateDate: now, TriggerType: TriggerRetry,
		StartedBy: "ada@example.com", Attempt: 3, ParentRunID: "p1", Parameters: []byte(`{"a":1}`),
		CallbackURL: "https://x.example.com", Queued: true, QueuedAt: now, MaxActiveRuns: 3,
		Timeout: time.Hour, Retries: 3, RetryDelay: time.Minute}
	if diff := cmp.Diff(want, retry); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
	if retry.Key == parent.Key || retryOf(parent, config, now.Add(time.Hour)).Key != retry.Key {
		t.Errorf("retry key %s: want one of its own, the same at every attempt to create it", retry.Key)
	}
	other := parent
	other.Key = "k2"
	if retryOf(other, config, now).Key == retry.Key {
		t.Error("two parents have the same retry")
	}
}

// TestRetryPending: CreateRetry creates a retry only for a run still
// FAILED with a retry due and none made.
func TestRetryPending(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	runCases{
		"failed, retry due":          {Run{Status: StatusFailed, RetryAt: due}, true},
		"retried by another Reaper":  {Run{Status: StatusFailed, RetryAt: due, RetryRunID: "r2"}, false},
		"no retry":                   {Run{Status: StatusFailed}, false},
		"acknowledged by a person":   {Run{Status: StatusChecked, RetryAt: due}, false},
		"running again by a person":  {Run{Status: StatusRunning, RetryAt: due}, false},
		"made a success by a person": {Run{Status: StatusSuccess, RetryAt: due}, false},
	}.check(t, "pending", Run.RetryPending)
}

// TestPublicationClaimable: of two Reapers, the one that claims an
// unpublished event publishes it; a claim whose lease ran out is taken
// over.
func TestPublicationClaimable(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	lease := 2 * time.Minute
	for _, tc := range []struct {
		name      string
		published bool
		claimedAt time.Time
		want      bool
	}{
		{"unpublished, unclaimed", false, time.Time{}, true},
		{"published", true, time.Time{}, false},
		{"published under a stale claim", true, now.Add(-time.Hour), false},
		{"claimed within the lease", false, now.Add(-lease + time.Second), false},
		{"the lease just ran out", false, now.Add(-lease), true},
		{"claimed long ago", false, now.Add(-time.Hour), true},
		{"claimed by a Reaper whose clock is ahead", false, now.Add(time.Second), false},
	} {
		if got := PublicationClaimable(tc.published, tc.claimedAt, now, lease); got != tc.want {
			t.Errorf("%s: claimable %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSweepShard: a duty reads a shard batch after batch while a full
// batch changed something and the pass has time left; an error stops
// the shard.
func TestSweepShard(t *testing.T) {
	t.Parallel()
	// An item is what handling it does: c counts (and changes), k counts
	// and says nothing changed, x changes without counting, - leaves it as
	// it was, e fails.
	for _, tc := range []struct {
		name      string
		batches   []string // what each read returns
		batch     int
		canceled  bool
		wantReads int
		wantTotal int
		wantErr   string
	}{
		{"a partial batch ends the shard", []string{"cc", "ccc"}, 3, false, 1, 2, ""},
		{"full batches that changed something are read on", []string{"ccc", "c-x", "c"}, 3, false, 3, 5, ""},
		{"a change that does not count reads on", []string{"xxx", "c"}, 3, false, 2, 1, ""},
		{"a count reads on", []string{"kkk", "c"}, 3, false, 2, 4, ""},
		{"a full batch that changed nothing ends the shard", []string{"---", "ccc"}, 3, false, 1, 0, ""},
		{"an empty shard", []string{""}, 3, false, 1, 0, ""},
		{"an error ends the shard after its batch", []string{"cec", "ccc"}, 3, false, 1, 2, "item failed"},
		{"a failed read", []string{}, 3, false, 1, 0, "read failed"},
		{"no time left", []string{"ccc"}, 3, true, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.canceled {
				cancel()
			}
			reads := 0
			find := func(_ context.Context, limit int) ([]byte, error) {
				if limit != tc.batch {
					t.Errorf("read %d items, want the batch of %d", limit, tc.batch)
				}
				reads++
				if reads > len(tc.batches) {
					return nil, errors.New("read failed")
				}
				return []byte(tc.batches[reads-1]), nil
			}
			total, err := sweepShard(ctx, ReaperConfig{Batch: tc.batch}, find, handleItem)
			if reads != tc.wantReads || total != tc.wantTotal || (err == nil) != (tc.wantErr == "") ||
				(err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("%d reads, total %d, err %v; want %d, %d, %q", reads, total, err, tc.wantReads, tc.wantTotal, tc.wantErr)
			}
		})
	}
}

// handleItem handles an item of TestSweepShard's batches.
func handleItem(_ context.Context, item byte) (bool, bool, error) {
	switch item {
	case 'c':
		return true, true, nil
	case 'k':
		return true, false, nil
	case 'x':
		return false, true, nil
	case 'e':
		return false, false, errors.New("item failed")
	}
	return false, false, nil
}

// TestSweep: a duty works on every shard once a pass, adds up their
// figures, and names the shards that failed without stopping the others.
func TestSweep(t *testing.T) {
	t.Parallel()
	shards := map[int]string{0: "cc", 1: "c", 2: "ce", 3: "", 4: "ccc"}
	var mu sync.Mutex
	read := map[int]int{}
	total, err := sweep(context.Background(), ReaperConfig{Batch: 10, Workers: 2}, len(shards),
		func(_ context.Context, shard, _ int) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			read[shard]++
			return []byte(shards[shard]), nil
		}, handleItem)
	if total != 7 || err == nil || !strings.Contains(err.Error(), "shard 2: item failed") || strings.Contains(err.Error(), "shard 1") {
		t.Errorf("total %d, err %v; want 7 and shard 2's error alone", total, err)
	}
	for shard := range shards {
		if read[shard] != 1 {
			t.Errorf("shard %d read %d times, want once", shard, read[shard])
		}
	}
}
