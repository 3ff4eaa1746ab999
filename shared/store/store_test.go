package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.New(testenv.Firestore(t, testenv.Project(t)), testenv.StoreTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2020, 12, 30, 11, 28, 43, 861340000, time.UTC)

// newRun returns a finished table-to-table run started at start.
func newRun(config, env string, status runs.Status, start time.Time) runs.Run {
	key := runs.RandomKey()
	return runs.Run{
		Key: key, RunID: runs.NewRunID(start, key), Account: "000099", Environment: env,
		ConfigurationType: "table-to-table", Kind: configs.KindTableToTable, ConfigurationID: config,
		JobID: configs.DefaultJobID(configs.KindTableToTable, config), Status: status,
		ExecutionDate: start.Format(time.DateOnly), StartExecutionDate: start, LastUpdateDate: start.Add(time.Minute),
		EndDate: start.Add(time.Minute), TriggerType: runs.TriggerAPI, StartedBy: "alice@example.com", Attempt: 1,
	}
}

func TestRunRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	run := newRun("c_DEV", "DEV", runs.StatusSuccess, t0)
	run.IdempotencyKey, run.RequestHash = "k", "h"
	run.PublishedAt, run.MessageID = t0.Add(time.Second), "m-1"
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "000099", run.Key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(run, got); diff != "" {
		t.Errorf("run read back (-created +read):\n%s", diff)
	}

	// Absent optional times stay absent.
	running := newRun("c_DEV", "DEV", runs.StatusRunning, t0)
	running.EndDate, running.LastUpdateDate = time.Time{}, time.Time{}
	if err := s.CreateRun(ctx, running); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRun(ctx, "000099", running.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !got.EndDate.IsZero() || !got.LastUpdateDate.IsZero() || !got.PublishedAt.IsZero() {
		t.Errorf("absent times read back as %v, %v, %v", got.EndDate, got.LastUpdateDate, got.PublishedAt)
	}
}

func TestCreateRunRefusesAnExistingKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	first := newRun("c_DEV", "DEV", runs.StatusRunning, t0)
	if err := s.CreateRun(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := newRun("other_DEV", "DEV", runs.StatusSuccess, t0)
	second.Key = first.Key
	if err := s.CreateRun(ctx, second); !errors.Is(err, runs.ErrAlreadyExists) {
		t.Fatalf("second create = %v, want ErrAlreadyExists", err)
	}
	got, _ := s.GetRun(ctx, "000099", first.Key)
	if got.ConfigurationID != "c_DEV" {
		t.Errorf("the refused create overwrote the run: %+v", got)
	}
}

func TestGetRunOfAnotherAccountIsNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	run := newRun("c_DEV", "DEV", runs.StatusSuccess, t0)
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRun(ctx, "000110", run.Key); !errors.Is(err, failure.ErrNotFound) {
		t.Errorf("GetRun in another account = %v, want ErrNotFound", err)
	}
}

func TestQueryRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	day := 24 * time.Hour
	all := []runs.Run{
		newRun("a_DEV", "DEV", runs.StatusSuccess, t0),
		newRun("a_DEV", "DEV", runs.StatusFailed, t0.Add(time.Hour)),
		newRun("a_DEV", "DEV", runs.StatusSuccess, t0.Add(day)),
		newRun("a_DEV", "DEV", runs.StatusRunning, t0.Add(2*day)),
		newRun("b_DEV", "DEV", runs.StatusRunning, t0.Add(3*day)),
		newRun("a_PROD", "PROD", runs.StatusRunning, t0.Add(4*day)),
	}
	all[2].TriggerType = runs.TriggerWorkflow
	storage := newRun("s", "DEV", runs.StatusRunning, t0.Add(5*day))
	storage.ConfigurationType, storage.Kind = "storage-to-storage", configs.KindStorageToStorage
	v1 := newRun("a_DEV", "DEV", runs.StatusSuccess, t0.Add(-day))
	v1.ConfigurationType = "gbq-to-gbq" // the v1 name of table-to-table
	for _, r := range append(all, storage, v1) {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs ...runs.Run) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.RunID)
		}
		return out
	}
	tt := configs.KindTableToTable
	tests := []struct {
		name  string
		query runs.Query
		want  []string
	}{
		{"one configuration, newest first, both type names", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "a_DEV", Limit: 10}, ids(all[3], all[2], all[1], all[0], v1)},
		{"limit", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "a_DEV", Limit: 2}, ids(all[3], all[2])},
		{"status", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "a_DEV", Status: runs.StatusSuccess, Limit: 10}, ids(all[2], all[0], v1)},
		{"execution date", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "a_DEV", ExecutionDate: t0.Format(time.DateOnly), Limit: 10}, ids(all[1], all[0])},
		{"status and date", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "a_DEV", Status: runs.StatusFailed, ExecutionDate: t0.Format(time.DateOnly), Limit: 10}, ids(all[1])},
		{"every configuration of a type", runs.Query{Kind: tt, Limit: 100}, ids(all[5], all[4], all[3], all[2], all[1], all[0], v1)},
		{"type and status", runs.Query{Kind: tt, Status: runs.StatusRunning, Limit: 100}, ids(all[5], all[4], all[3])},
		{"type and environment", runs.Query{Kind: tt, Environment: "DEV", Status: runs.StatusRunning, Limit: 100}, ids(all[4], all[3])},
		{"another type", runs.Query{Kind: configs.KindStorageToStorage, Limit: 100}, ids(storage)},
		{"nothing", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "missing", Limit: 10}, nil},
		// The board's runs view: every type, by trigger, between dates.
		{"every run", runs.Query{Limit: 100}, ids(storage, all[5], all[4], all[3], all[2], all[1], all[0], v1)},
		{"an environment, every type", runs.Query{Environment: "DEV", Limit: 100}, ids(storage, all[4], all[3], all[2], all[1], all[0], v1)},
		{"a status, every type", runs.Query{Status: runs.StatusRunning, Limit: 100}, ids(storage, all[5], all[4], all[3])},
		{"a trigger", runs.Query{TriggerType: runs.TriggerWorkflow, Limit: 100}, ids(all[2])},
		{"a trigger and a status", runs.Query{TriggerType: runs.TriggerAPI, Status: runs.StatusFailed, Limit: 100}, ids(all[1])},
		{"an environment, a trigger and a status", runs.Query{Environment: "DEV", TriggerType: runs.TriggerAPI, Status: runs.StatusRunning, Limit: 100}, ids(storage, all[4], all[3])},
		{"a configuration and a trigger", runs.Query{Kind: tt, Environment: "DEV", ConfigurationID: "a_DEV", TriggerType: runs.TriggerAPI, Limit: 100}, ids(all[3], all[1], all[0], v1)},
		{"launched between two times", runs.Query{Since: t0.Add(time.Hour), Before: t0.Add(2 * day), Limit: 100}, ids(all[2], all[1])},
		{"after a run", runs.Query{After: &runs.RunCursor{Start: all[4].StartExecutionDate, Key: all[4].Key}, Limit: 3}, ids(all[3], all[2], all[1])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.QueryRuns(ctx, "000099", tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(got...)); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQueryRunsPageByPage: paging with the cursor of each page's last run
// lists every run once, newest first, also when runs share a launch time.
func TestQueryRunsPageByPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	var want []string
	for i := range 7 {
		start := t0.Add(time.Duration(i/3) * time.Hour) // three runs a time
		r := newRun("a_DEV", "DEV", runs.StatusSuccess, start)
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		want = append(want, r.RunID)
	}
	var got []string
	q := runs.Query{Limit: 2}
	for page := 0; ; page++ {
		found, err := s.QueryRuns(ctx, "000099", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range found {
			got = append(got, r.RunID)
		}
		if len(found) < q.Limit || page > 10 {
			break
		}
		last := found[len(found)-1]
		q.After = &runs.RunCursor{Start: last.StartExecutionDate, Key: last.Key}
	}
	// Newest first; the run ids of runs launched at the same second sort
	// as their keys do.
	slices.SortFunc(want, func(a, b string) int { return -strings.Compare(a, b) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs page by page (-want +got):\n%s", diff)
	}
}

func TestUpdateRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	run := newRun("c_DEV", "DEV", runs.StatusFailed, t0)
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)

	// A change with an event is saved, and its event appended.
	got, event, err := s.UpdateRun(ctx, "000099", run.Key, func(r *runs.Run) (runs.Update, error) {
		r.Status, r.LastUpdateDate = runs.StatusChecked, at
		return runs.Update{Save: true, Event: &runs.Event{At: at, By: "bob@example.com", Type: runs.EventStatus, From: runs.StatusFailed, To: runs.StatusChecked}}, nil
	})
	if err != nil || got.Status != runs.StatusChecked || event == nil || event.ID == "" {
		t.Fatalf("UpdateRun = %+v, %+v, %v", got, event, err)
	}
	stored, _ := s.GetRun(ctx, "000099", run.Key)
	if stored.Status != runs.StatusChecked || !stored.LastUpdateDate.Equal(at) {
		t.Errorf("stored run = %+v", stored)
	}

	// A change that does not save, or fails, writes nothing.
	refused := errors.New("refused")
	for _, change := range []func(*runs.Run) (runs.Update, error){
		func(r *runs.Run) (runs.Update, error) { r.Status = runs.StatusRunning; return runs.Update{}, nil },
		func(r *runs.Run) (runs.Update, error) {
			r.Status = runs.StatusRunning
			return runs.Update{Save: true, Event: &runs.Event{}}, refused
		},
	} {
		if _, ev, err := s.UpdateRun(ctx, "000099", run.Key, change); (err != nil && !errors.Is(err, refused)) || ev != nil {
			t.Fatalf("UpdateRun = %+v, %v", ev, err)
		}
	}
	stored, _ = s.GetRun(ctx, "000099", run.Key)
	if stored.Status != runs.StatusChecked {
		t.Errorf("a change without an event was written: %s", stored.Status)
	}
	events, err := s.Events(ctx, "000099", run.Key, runs.EventPage{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := []runs.Event{{ID: event.ID, At: at, By: "bob@example.com", Type: runs.EventStatus, From: runs.StatusFailed, To: runs.StatusChecked}}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if err := s.MarkEventPublished(ctx, "000099", run.Key, event.ID); err != nil {
		t.Fatal(err)
	}
	if events, _ := s.Events(ctx, "000099", run.Key, runs.EventPage{Limit: 1000}); !events[0].Published {
		t.Error("MarkEventPublished did not mark the event")
	}

	if _, _, err := s.UpdateRun(ctx, "000099", runs.RandomKey(), func(*runs.Run) (runs.Update, error) { return runs.Update{}, nil }); !errors.Is(err, failure.ErrNotFound) {
		t.Errorf("UpdateRun of a missing run = %v, want ErrNotFound", err)
	}
}

// TestDeliveryAwaitsTheClaim: a run's launch message is due again
// (UndeliveredRuns) in its shard only, from its deliver_by on, until a
// claim or its end removes deliver_by; a run waiting for a slot is never
// due. An unpublished event is found in its run's shard until it is
// marked published.
func TestDeliveryAwaitsTheClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	run := newRun("c_DEV", "DEV", runs.StatusRunning, t0)
	run.EndDate, run.Slot, run.Deliveries, run.DeliverBy = time.Time{}, 1, 1, t0.Add(time.Minute)
	queued := newRun("c_DEV", "DEV", runs.StatusRunning, t0)
	queued.EndDate, queued.Queued, queued.QueuedAt, queued.DeliverBy = time.Time{}, true, t0, t0.Add(time.Minute)
	for _, r := range []runs.Run{run, queued} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	shard := store.RunShard(run.Key)
	due := func(shard int, now time.Time) []string {
		t.Helper()
		found, err := s.UndeliveredRuns(ctx, shard, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, r := range found {
			keys = append(keys, r.Key)
		}
		return keys
	}
	if got := due(shard, t0.Add(time.Minute-time.Microsecond)); len(got) != 0 {
		t.Errorf("due before its deliver_by: %v", got)
	}
	if got := due(shard, t0.Add(time.Minute)); !slices.Equal(got, []string{run.Key}) {
		t.Errorf("due at its deliver_by: %v, want the admitted run only", got)
	}
	if got := due((shard+1)%store.RunShards, t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due in another shard: %v", got)
	}

	// A status change the run's executor has not claimed yet: unpublished,
	// in the run's shard, until marked.
	_, event, err := s.UpdateRun(ctx, "000099", run.Key, func(r *runs.Run) (runs.Update, error) {
		r.ClaimedBy = "executor-1"
		return runs.Update{Save: true, Event: &runs.Event{At: t0, By: "x", Type: runs.EventStatus, To: runs.StatusRunning}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := due(shard, t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due after its claim: %v", got)
	}
	unpublished := func(shard int) int {
		t.Helper()
		found, err := s.UnpublishedEvents(ctx, shard, t0.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(found)
	}
	if unpublished(shard) != 1 || unpublished((shard+1)%store.RunShards) != 0 {
		t.Errorf("unpublished events: %d in the run's shard, %d in the next; want 1 and 0", unpublished(shard), unpublished((shard+1)%store.RunShards))
	}
	if err := s.MarkEventPublished(ctx, "000099", run.Key, event.ID); err != nil {
		t.Fatal(err)
	}
	if n := unpublished(shard); n != 0 {
		t.Errorf("%d unpublished events after the mark", n)
	}
}

func TestMembersAndLoadLaunch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	cfg := configs.Configuration{Account: "000099", Environment: "DEV", ConfigurationType: "gbq-to-gbq", Kind: configs.KindTableToTable,
		ConfigurationID: "c_DEV", JobID: "gbq-to-gbq|c_DEV", Activated: true, Definition: map[string]any{"sleep_ms": float64(5), "nested": map[string]any{"a": "b"}},
		Schedule: configs.Schedule{Interval: "@daily", Start: t0.Truncate(24 * time.Hour), MaxActiveRuns: 2},
		Ticks:    configs.Ticks{Next: t0.Add(time.Hour).Truncate(time.Hour), Last: t0.Truncate(time.Hour)},
		Version:  3, UpdatedBy: "carol@example.com", UpdatedAt: t0}
	if err := s.PutConfiguration(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMember(ctx, "000099", "Alice@Example.com", auth.RoleExecuter, "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	ref := configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: "c_DEV"}

	role, got, err := s.LoadLaunch(ctx, "000099", "alice@example.com", ref)
	if err != nil || role != auth.RoleExecuter || got == nil {
		t.Fatalf("LoadLaunch = %v, %+v, %v", role, got, err)
	}
	if diff := cmp.Diff(cfg, *got, cmpopts.IgnoreFields(configs.Configuration{}, "Revision")); diff != "" || got.Revision.IsZero() {
		t.Errorf("configuration (-put +loaded), revision %v:\n%s", got.Revision, diff)
	}
	// A configuration written again is loaded as written, not as the
	// launches before it decoded it; the same version is loaded the same.
	for i, change := range []func(c *configs.Configuration){
		func(c *configs.Configuration) { c.Activated, c.Schedule.MaxActiveRuns = false, 7 },
		func(c *configs.Configuration) { c.Definition = map[string]any{"sleep_ms": float64(9)} },
	} {
		change(&cfg)
		if err := s.PutConfiguration(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			_, again, err := s.LoadLaunch(ctx, "000099", "alice@example.com", ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cfg, *again, cmpopts.IgnoreFields(configs.Configuration{}, "Revision")); diff != "" {
				t.Errorf("change %d: configuration (-put +loaded):\n%s", i, diff)
			}
			if !again.Revision.After(got.Revision) {
				t.Errorf("change %d: revision %v, not after %v", i, again.Revision, got.Revision)
			}
		}
		_, got, _ = s.LoadLaunch(ctx, "000099", "alice@example.com", ref)
	}
	if role, err := s.MemberRole(ctx, "000099", "ALICE@example.com"); role != auth.RoleExecuter || err != nil {
		t.Errorf("MemberRole is case sensitive: %v, %v", role, err)
	}
	if _, err := s.MemberRole(ctx, "000110", "alice@example.com"); !errors.Is(err, auth.ErrNotMember) {
		t.Errorf("MemberRole in another account = %v, want ErrNotMember", err)
	}
	role, got, err = s.LoadLaunch(ctx, "000099", "mallory@example.com", configs.ConfigRef{Environment: "PROD", Kind: configs.KindTableToTable, ConfigurationID: "c_DEV"})
	if err != nil || role != auth.RoleNone || got != nil {
		t.Errorf("LoadLaunch of a stranger and a missing configuration = %v, %+v, %v", role, got, err)
	}
}
