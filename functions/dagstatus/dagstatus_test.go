package dagstatus_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	statusPath = "/v1/dag/status"
	ttt        = "000099_iowa_liquor_prepare_pda_DEV"
	tttRun     = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	s2s        = "000099-jarvis-demo-iowa-liquor-storage-to-storage"
	s2sRun     = "20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469"
	traffic    = "000099_Load_PDA_f_traffic_ma_DEV" // 40 days of history and a RUNNING run
)

func results(t *testing.T, s *stacktest.Stack, body string) []api.RunResult {
	t.Helper()
	var got api.Results
	s.Post(t, statusPath, body).Decode(t, &got)
	return got.Results
}

func runIDs(rs []api.RunResult) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.RunID)
	}
	return ids
}

func checkBody(configType, configID, runID, extra string) string {
	return `{"action": "check_run_status", "account": "000099", "environment": "DEV", "configuration_type": "` + configType +
		`", "configuration_id": "` + configID + `", "run_id": "` + runID + `"` + extra + `}`
}

func TestCheckRunStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	want := []api.RunResult{{
		Account: "000099", ConfigurationID: ttt, ConfigurationType: "table-to-table", Duration: "0:01:24.002519",
		Environment: "DEV", JobID: "gbq-to-gbq|" + ttt, LastUpdateDate: "2020-12-30T11:30:07.960767+00:00",
		RunID: tttRun, StartExecutionDate: "2020-12-30T11:28:43.861340+00:00", Status: "SUCCESS",
	}}
	for _, body := range []string{
		checkBody("table-to-table", ttt, tttRun, ""),
		checkBody("gbq-to-gbq", ttt, tttRun, `, "job_id": "gbq-to-gbq|`+ttt+`"`),
	} {
		if diff := cmp.Diff(want, results(t, s, body)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", body, diff)
		}
	}
	// A legacy run id, of a run that never had a last_update_date.
	got := results(t, s, checkBody("storage-to-storage", s2s, s2sRun, ""))
	if len(got) != 1 || got[0].LastUpdateDate != "" || got[0].Duration != "0:00:03.885654" || got[0].StartExecutionDate != "2020-12-09T17:17:23.000000+00:00" {
		t.Errorf("legacy run = %+v", got)
	}

	// Any mismatch between the run and the identity asked for is a 404,
	// so that run ids cannot be probed across configurations.
	for name, body := range map[string]string{
		"unknown run":         checkBody("table-to-table", ttt, "20201230-112837-0a795c70-2557-4a60-ba16-000000000000", ""),
		"other configuration": checkBody("table-to-table", traffic, tttRun, ""),
		"other type":          checkBody("storage-to-storage", ttt, tttRun, ""),
		"other environment":   strings.Replace(checkBody("table-to-table", ttt, tttRun, ""), `"DEV"`, `"PROD"`, 1),
		"other job":           checkBody("table-to-table", ttt, tttRun, `, "job_id": "gbq-to-gbq|other"`),
		"other account":       strings.Replace(checkBody("table-to-table", ttt, tttRun, ""), `"000099"`, `"000110"`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			s.Post(t, statusPath, body).WantError(t, http.StatusNotFound)
		})
	}
}

// TestCheckRunStatusWaits: with wait_seconds, check_run_status answers
// when the run finishes, or with the running run when the time is up. The
// waits are of a minute, so that an answer well within it cannot be the
// time running out, however slow the machine.
func TestCheckRunStatusWaits(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	launched := launchRun(t, s)
	wait := checkBody("table-to-table", ttt, launched, `, "wait_seconds": 60`)

	type answer struct {
		results []api.RunResult
		took    time.Duration
	}
	answered := make(chan answer, 1)
	go func() {
		var got api.Results
		sent := time.Now()
		resp := s.Post(t, statusPath, wait)
		if err := json.Unmarshal(resp.Body, &got); err != nil {
			t.Errorf("%s: %v", resp, err)
		}
		answered <- answer{got.Results, time.Since(sent)}
	}()
	// Time for the request to start waiting: on a machine too slow for it,
	// the test only checks that a finished run answers.
	time.Sleep(1500 * time.Millisecond)
	select {
	case a := <-answered:
		t.Fatalf("check_run_status answered %+v before the run finished", a.results)
	default:
	}
	s.Post(t, statusPath, reportBody(launched, "e-1", "SUCCESS", "")).Decode(t, &api.Results{})
	select {
	case a := <-answered:
		if len(a.results) != 1 || a.results[0].Status != "SUCCESS" || a.took > 45*time.Second {
			t.Errorf("the wait answered %+v after %s, want SUCCESS well within its minute", a.results, a.took)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the wait did not answer")
	}

	// A finished run answers at once; a run still running when the time is
	// up answers RUNNING, not before.
	start := time.Now()
	if got := results(t, s, wait); got[0].Status != "SUCCESS" || time.Since(start) > 45*time.Second {
		t.Errorf("waiting on a finished run: %+v after %s", got, time.Since(start))
	}
	running := launchRun(t, s)
	start = time.Now()
	got := results(t, s, checkBody("table-to-table", ttt, running, `, "wait_seconds": 1`))
	if took := time.Since(start); got[0].Status != "RUNNING" || took < time.Second || took > 45*time.Second {
		t.Errorf("wait_seconds 1 on a running run: %s after %s", got[0].Status, took)
	}
	s.Post(t, statusPath, checkBody("table-to-table", ttt, running, `, "wait_seconds": 61`)).WantError(t, http.StatusBadRequest, "wait_seconds")
	s.Post(t, statusPath, checkBody("table-to-table", ttt, "20201230-112837-0a795c70-2557-4a60-ba16-000000000000", `, "wait_seconds": 5`)).
		WantError(t, http.StatusNotFound)
}

func TestGetLastStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	last := func(configType, configID, extra string) string {
		return `{"action": "get_last_status", "account": "000099", "environment": "DEV", "configuration_type": "` + configType +
			`", "configuration_id": "` + configID + `"` + extra + `}`
	}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"newest first", last("table-to-table", ttt, ""), []string{tttRun, "20201230-110907-47b31b2d-a54a-4a95-a3a6-b4fbc2168333", "20201210-140612-19e547a1-de6a-47f0-b563-b8a3d5754118"}},
		{"v1 type name", last("gbq-to-gbq", ttt, `, "limit": 1`), []string{tttRun}},
		{"date, status and limit", last("storage-to-storage", s2s, `, "execution_date": "2020-12-09", "status": "SUCCESS", "limit": 2`),
			[]string{s2sRun, "20201209-7b7b7a66-1cc0-4f09-a893-ce4a35adf09b"}},
		{"no run that day", last("storage-to-storage", s2s, `, "execution_date": "2020-12-10"`), nil},
		{"no run in that status", last("table-to-table", ttt, `, "status": "FAILED"`), nil},
		{"unknown configuration", last("table-to-table", "missing_DEV", ""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, runIDs(results(t, s, tt.body))); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("default and maximum limit", func(t *testing.T) {
		got := results(t, s, last("table-to-table", traffic, ""))
		if len(got) != api.DefaultLimit {
			t.Errorf("%d runs without a limit, want %d", len(got), api.DefaultLimit)
		}
		if got[0].Status != "RUNNING" {
			t.Errorf("newest run is %s, want the RUNNING one", got[0].Status)
		}
		for i := 1; i < len(got); i++ {
			if got[i-1].StartExecutionDate < got[i].StartExecutionDate {
				t.Fatalf("runs not newest first: %s before %s", got[i-1].StartExecutionDate, got[i].StartExecutionDate)
			}
		}
		if all := results(t, s, last("table-to-table", traffic, `, "limit": 1000`)); len(all) != 41 {
			t.Errorf("%d runs with limit 1000, want all 41", len(all))
		}
		s.Post(t, statusPath, last("table-to-table", traffic, `, "limit": 1001`)).WantError(t, http.StatusBadRequest, "limit")
		s.Post(t, statusPath, last("table-to-table", traffic, `, "limit": 0`)).WantError(t, http.StatusBadRequest, "limit")
	})
}

func TestGetByStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	data := s.Seed(t)
	seeded := 0
	for _, r := range data.Runs {
		if r.Account == "000099" && r.Kind == configs.KindTableToTable {
			seeded++
		}
	}
	by := func(extra string) []api.RunResult {
		return results(t, s, `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table"`+extra+`}`)
	}
	running := by(`, "status": "RUNNING", "limit": 15`)
	if len(running) != 2 {
		t.Fatalf("%d RUNNING table-to-table runs, want the 2 seeded", len(running))
	}
	for _, r := range running {
		if r.Status != "RUNNING" || r.ConfigurationType != "table-to-table" {
			t.Errorf("run %+v", r)
		}
	}
	if got := by(`, "status": "RUNNING", "execution_date": "2024-09-18", "limit": 15`); len(got) != 2 {
		t.Errorf("%d RUNNING runs on 2024-09-18, want 2", len(got))
	}
	if got := by(`, "status": "RUNNING", "execution_date": "2024-09-19"`); len(got) != 0 {
		t.Errorf("%d RUNNING runs on 2024-09-19, want none", len(got))
	}
	if got := by(`, "limit": 10`); len(got) != 10 {
		t.Errorf("%d runs with limit 10, want 10", len(got))
	}
	all := by(`, "limit": 1000`)
	if len(all) != seeded {
		t.Fatalf("%d runs with limit 1000, want all %d table-to-table runs", len(all), seeded)
	}
	configs := map[string]bool{}
	for _, r := range all {
		configs[r.ConfigurationID] = true
		if r.ConfigurationType != "table-to-table" && r.ConfigurationType != "gbq-to-gbq" {
			t.Errorf("get_by_status table-to-table returned a %s run", r.ConfigurationType)
		}
	}
	if len(configs) < 3 {
		t.Errorf("runs of %d configurations, want every table-to-table configuration", len(configs))
	}
	if prod := by(`, "environment": "PROD", "limit": 100`); len(prod) != 30 {
		t.Errorf("%d PROD runs, want 30", len(prod))
	}
}

func setBody(runID, status, extra string) string {
	return `{"action": "set_run_status", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "` + ttt + `", "run_id": "` + runID + `", "status": "` + status + `"` + extra + `}`
}

func TestSetRunStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	events := s.Subscribe(t, "runway-run-events")
	launched := launchRun(t, s)
	key, _ := runs.RunKey(launched)

	// RUNNING → FAILED ends the run; FAILED → CHECKED keeps its end.
	failed := results(t, s, setBody(launched, "FAILED", ""))[0]
	stored, _ := s.Env.Store.GetRun(ctx, "000099", key)
	if failed.Status != "FAILED" || stored.EndDate.IsZero() || failed.LastUpdateDate != api.FormatTime(stored.LastUpdateDate) {
		t.Fatalf("after FAILED: result %+v, stored %+v", failed, stored)
	}
	time.Sleep(20 * time.Millisecond)
	checked := results(t, s, setBody(launched, "CHECKED", `, "environment": "DEV"`))[0]
	if checked.Duration != failed.Duration || checked.LastUpdateDate <= failed.LastUpdateDate {
		t.Errorf("CHECKED changed the duration (%s → %s) or not the last update (%s → %s)",
			failed.Duration, checked.Duration, failed.LastUpdateDate, checked.LastUpdateDate)
	}
	// The same status again changes nothing.
	again := results(t, s, setBody(launched, "CHECKED", ""))[0]
	if again.LastUpdateDate != checked.LastUpdateDate {
		t.Errorf("a repeated status changed last_update_date")
	}
	// Back to RUNNING: the duration runs on.
	running := results(t, s, setBody(launched, "RUNNING", ""))[0]
	if stored, _ := s.Env.Store.GetRun(ctx, "000099", key); !stored.EndDate.IsZero() || running.Status != "RUNNING" {
		t.Errorf("RUNNING again kept the end date: %+v", stored)
	}

	changes, err := s.Env.Store.Events(ctx, "000099", key, runs.EventPage{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range changes {
		if e.By != stacktest.Admin || e.Type != runs.EventStatus || e.At.IsZero() {
			t.Errorf("event %+v", e)
		}
		trail = append(trail, string(e.From)+"→"+string(e.To))
	}
	if diff := cmp.Diff([]string{"RUNNING→FAILED", "FAILED→CHECKED", "CHECKED→RUNNING"}, trail); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// Each change went to the run events topic, and is marked published.
	published := map[string]message.RunEvent{}
	for _, m := range stacktest.Receive(t, events, len(changes)) {
		var ev message.RunEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Attributes["status"] != string(ev.Status) || m.Attributes["run_id"] != launched {
			t.Errorf("event attributes %v for %+v", m.Attributes, ev)
		}
		published[ev.EventID] = ev
	}
	for _, e := range changes {
		ev, ok := published[e.ID]
		if !ok || !e.Published || ev.Status != e.To || ev.PreviousStatus != e.From || !ev.At.Equal(e.At) ||
			ev.JobID != "gbq-to-gbq|"+ttt || ev.ConfigurationType != "table-to-table" {
			t.Errorf("event %+v was published as %+v (%v)", e, ev, ok)
		}
	}
	if len(published) != len(changes) {
		t.Errorf("%d events published for %d changes", len(published), len(changes))
	}
}

func TestSetRunStatusCompareAndSet(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	launched := launchRun(t, s)
	key, _ := runs.RunKey(launched)

	// An executor reports while a person looks at the RUNNING run.
	s.Post(t, statusPath, reportBody(launched, "e-1", "SUCCESS", "")).Decode(t, &api.Results{})
	before, _ := s.Env.Store.GetRun(ctx, "000099", key)

	// The person's FAILED, meant for a RUNNING run, is refused with the
	// status it would have overwritten.
	got := s.Post(t, statusPath, setBody(launched, "FAILED", `, "expected_status": "RUNNING"`)).WantError(t, http.StatusConflict, "expected_status")
	if got.CurrentStatus != "SUCCESS" || !strings.Contains(got.Message, "is SUCCESS, not RUNNING") {
		t.Errorf("conflict = %+v, want current_status SUCCESS", got)
	}
	if after, _ := s.Env.Store.GetRun(ctx, "000099", key); !cmp.Equal(before, after) {
		t.Errorf("a refused compare-and-set changed the run: %+v → %+v", before, after)
	}

	// Expecting what is there sets the status; the note says why, in the
	// run's events.
	if r := results(t, s, setBody(launched, "CHECKED", `, "expected_status": "SUCCESS", "note": "reloaded by hand"`)); r[0].Status != "CHECKED" {
		t.Errorf("compare-and-set with the right status = %+v", r)
	}
	var history api.RunEventsResponse
	s.Post(t, statusPath, `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+ttt+`", "run_id": "`+launched+`"}`).Decode(t, &history)
	if last := history.Events[len(history.Events)-1]; last.To != "CHECKED" || last.By != stacktest.Admin || last.Detail != "reloaded by hand" {
		t.Errorf("the change was recorded as %+v", last)
	}
	s.Post(t, statusPath, setBody(launched, "CHECKED", `, "expected_status": "checked"`)).WantError(t, http.StatusBadRequest, "expected_status")
	s.Post(t, statusPath, setBody(launched, "CHECKED", `, "note": "a\nb"`)).WantError(t, http.StatusBadRequest, "note")
}

// TestCancelRun: the cancel message executors get, and the run's trail.
// functions/referenceexecutor tests that it stops the executor.
func TestCancelRun(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	launched := launchRun(t, s)
	sub := s.Subscribe(t, "runway-launch")
	cancel := `{"action": "cancel_run", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "` + ttt + `", "run_id": "` + launched + `"}`
	if r := results(t, s, cancel); r[0].Status != "FAILED" {
		t.Fatalf("cancel_run answered %+v", r)
	}
	msgs := stacktest.Receive(t, sub, 1)
	if len(msgs) != 1 || msgs[0].Attributes["message_type"] != "cancel" || msgs[0].Attributes["run_id"] != launched {
		t.Fatalf("cancel messages %v", msgs)
	}
	var msg message.Cancel
	if err := json.Unmarshal(msgs[0].Data, &msg); err != nil || msg.MessageType != "cancel" || msg.By != stacktest.Admin ||
		msg.Reason != "canceled by "+stacktest.Admin || msg.ConfigurationID != ttt || msg.At.IsZero() {
		t.Errorf("cancel message %+v (%v)", msg, err)
	}
	var history api.RunEventsResponse
	s.Post(t, statusPath, strings.Replace(cancel, "cancel_run", "get_run_events", 1)).Decode(t, &history)
	last := history.Events[len(history.Events)-1]
	if history.Error == nil || history.Error.Code != "CANCELED" || last.To != "FAILED" || last.Detail != "canceled: canceled by "+stacktest.Admin {
		t.Errorf("history %+v", history)
	}
	// Canceling again changes nothing and publishes nothing.
	results(t, s, cancel)
	if msgs := stacktest.Receive(t, sub, 0); len(msgs) != 0 {
		t.Errorf("a second cancel published %d messages", len(msgs))
	}
}

func bulkBody(extra string) string {
	return `{"action": "set_runs_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "` + ttt + `", "from_status": "FAILED", "status": "CHECKED"` + extra + `}`
}

// TestSetRunsStatus: a dry run counts what a real call then changes, in
// calls of at most limit runs, each change recorded and published; once
// done, repeating the call changes nothing.
func TestSetRunsStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	for i := range 7 {
		runID := launchRun(t, s)
		if i < 5 {
			results(t, s, setBody(runID, "FAILED", ""))
		}
	}
	failed, err := s.Env.Store.QueryRuns(ctx, "000099", runs.Query{Kind: configs.KindTableToTable, Environment: "DEV",
		ConfigurationID: ttt, Status: runs.StatusFailed, Limit: 1000})
	if err != nil || len(failed) < 5 {
		t.Fatalf("%d failed runs (%v)", len(failed), err)
	}
	before := s.Snapshot(t, "000099")
	events := s.Subscribe(t, "runway-run-events")

	var dry api.SetRunsStatusResponse
	s.Post(t, statusPath, bulkBody(`, "dry_run": true, "limit": 3`)).Decode(t, &dry)
	// Matched is counted up to the limit + 1: enough to say more is left.
	if !dry.DryRun || dry.Matched != 4 || dry.Remaining != 1 || dry.Changed != 0 || len(dry.RunIDs) != 3 || dry.RunIDs[0] != failed[0].RunID {
		t.Fatalf("dry run = %+v, want 4 matched (%d failed, counted up to the limit + 1), the first 3 ids", dry, len(failed))
	}
	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Fatalf("the dry run changed documents:\n%s", diff)
	}

	changed := map[string]bool{}
	for call := 1; ; call++ {
		var got api.SetRunsStatusResponse
		s.Post(t, statusPath, bulkBody(`, "limit": 2`)).Decode(t, &got)
		if got.DryRun || got.Changed > 2 || got.Changed != len(got.RunIDs) || got.Remaining != got.Matched-got.Changed {
			t.Fatalf("call %d = %+v", call, got)
		}
		for _, id := range got.RunIDs {
			changed[id] = true
		}
		if got.Remaining == 0 || call > 10 {
			break
		}
	}
	if len(changed) != len(failed) {
		t.Errorf("the calls changed %d runs, %d failed", len(changed), len(failed))
	}
	for _, r := range failed {
		key, _ := runs.RunKey(r.RunID)
		run, _ := s.Env.Store.GetRun(ctx, "000099", key)
		trail, _ := s.Env.Store.Events(ctx, "000099", key, runs.EventPage{Limit: 1000})
		last := trail[len(trail)-1]
		if run.Status != runs.StatusChecked || last.Detail != "set_runs_status" || last.By != stacktest.Admin || last.From != runs.StatusFailed {
			t.Errorf("run %s: %s, last event %+v", r.RunID, run.Status, last)
		}
	}
	if msgs := stacktest.Receive(t, events, len(changed)); len(msgs) != len(changed) {
		t.Errorf("%d run events published for %d changes", len(msgs), len(changed))
	}

	// Done: the same call, and its dry run, find nothing more.
	var again api.SetRunsStatusResponse
	s.Post(t, statusPath, bulkBody("")).Decode(t, &again)
	if again.Matched != 0 || again.Changed != 0 || len(again.RunIDs) != 0 {
		t.Errorf("repeated call = %+v", again)
	}

	// Without from_status every run not yet in the status is selected;
	// before bounds the launch time.
	var all api.SetRunsStatusResponse
	s.Post(t, statusPath, strings.Replace(bulkBody(`, "dry_run": true, "limit": 500, "before": "2021-01-01"`), `"from_status": "FAILED", `, "", 1)).Decode(t, &all)
	seeded, _ := s.Env.Store.QueryRuns(ctx, "000099", runs.Query{Kind: configs.KindTableToTable, Environment: "DEV", ConfigurationID: ttt,
		Statuses: []runs.Status{runs.StatusSuccess, runs.StatusFailed, runs.StatusRunning, runs.StatusNoMatch},
		Before:   time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000})
	if all.Matched != len(seeded) || all.Matched == 0 {
		t.Errorf("dry run before 2021 = %+v, want %d", all, len(seeded))
	}

	for name, body := range map[string]string{
		"before":      bulkBody(`, "before": "yesterday"`),
		"limit":       bulkBody(`, "limit": 501`),
		"from_status": strings.Replace(bulkBody(""), `"FAILED"`, `"CHECKED"`, 1),
		"status":      strings.Replace(bulkBody(""), `"status": "CHECKED"`, `"status": "DONE"`, 1),
		"environment": strings.Replace(bulkBody(""), `"environment": "DEV", `, "", 1),
	} {
		s.Post(t, statusPath, body).WantError(t, http.StatusBadRequest, name)
	}
}

func TestRefusedStatusChangesWriteNothing(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	if _, err := s.Env.Store.PutMember(ctx, "000099", "viewer@example.com", auth.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	viewer := s.Token(t, "viewer@example.com")
	key, _ := runs.RunKey(tttRun)
	before, _ := s.Env.Store.GetRun(ctx, "000099", key)

	tests := []struct {
		name   string
		token  string
		body   string
		status int
		fields []string
	}{
		{"viewer", viewer, setBody(tttRun, "CHECKED", ""), 403, nil},
		{"status outside the set", "", setBody(tttRun, "CANCELED", ""), 400, []string{"status"}},
		{"lower-case status", "", setBody(tttRun, "checked", ""), 400, []string{"status"}},
		{"bad run id", "", setBody("20201230-0a795c70", "CHECKED", ""), 400, []string{"run_id"}},
		{"unknown run", "", setBody("20201230-112837-0a795c70-2557-4a60-ba16-000000000000", "CHECKED", ""), 404, nil},
		{"wrong environment", "", setBody(tttRun, "CHECKED", `, "environment": "PROD"`), 404, nil},
		{"unknown field", "", setBody(tttRun, "CHECKED", `, "reason": "fixed"`), 400, []string{"reason"}},
		{"the reference example, with its missing comma", "", `{"action": "set_run_status",
         "account": "000099",
         "configuration_type": "table-to-table",
         "configuration_id": "` + ttt + `",
         "run_id": "` + tttRun + `"
         "status": "CHECKED"}`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			if token == "" {
				token = s.Token(t, stacktest.Admin)
			}
			s.Do(t, http.MethodPost, statusPath, token, tt.body).WantError(t, tt.status, tt.fields...)
		})
	}
	after, _ := s.Env.Store.GetRun(ctx, "000099", key)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("refused changes changed the run (-before +after):\n%s", diff)
	}
	if events, _ := s.Env.Store.Events(ctx, "000099", key, runs.EventPage{Limit: 1000}); len(events) != 0 {
		t.Errorf("refused changes recorded %d events", len(events))
	}
}

func TestBadReadRequests(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"bad date", `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table", "execution_date": "18/09/2024"}`, []string{"execution_date"}},
		{"bad status", `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table", "status": "DONE"}`, []string{"status"}},
		{"limit as a string", `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table", "limit": "15"}`, []string{"limit"}},
		{"negative limit", `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table", "limit": -1}`, []string{"limit"}},
		{"missing type", `{"action": "get_by_status", "account": "000099"}`, []string{"configuration_type"}},
		{"missing run id", `{"action": "check_run_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "c"}`, []string{"run_id"}},
		{"launch action on the status path", `{"action": "launch_job", "account": "000099"}`, []string{"action"}},
		{"field of another action", `{"action": "get_last_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "c", "run_id": "` + tttRun + `"}`, []string{"run_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s.Post(t, statusPath, tt.body).WantError(t, http.StatusBadRequest, tt.fields...)
		})
	}
}

func launchRun(t *testing.T, s *stacktest.Stack) string {
	t.Helper()
	var got api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+ttt+`"}`).Decode(t, &got)
	return got.RunID
}

func reportBody(runID, executorID, status, extra string) string {
	return `{"action": "report_run_status", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "` + ttt + `", "run_id": "` + runID + `", "executor_id": "` + executorID + `", "status": "` + status + `"` + extra + `}`
}

func TestReportRunStatus(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	executor := s.Token(t, stacktest.Executor)
	report := func(body string) stacktest.Response {
		return s.Do(t, http.MethodPost, statusPath, executor, body)
	}
	runID := launchRun(t, s)

	// The first report claims the run; another executor is refused.
	report(reportBody(runID, "exec-1", "RUNNING", "")).Decode(t, &api.Results{})
	e := report(reportBody(runID, "exec-2", "RUNNING", "")).WantError(t, http.StatusConflict, "executor_id")
	if !strings.Contains(e.Message, "exec-1") {
		t.Errorf("conflict message %q does not name the claimant", e.Message)
	}
	report(reportBody(runID, "exec-1", "RUNNING", "")).Decode(t, &api.Results{})
	report(reportBody(runID, "exec-1", "FAILED", `, "error": {"message": "table not found", "code": "404", "location": "step 2"},
		"metrics": {"rows": 12}`)).Decode(t, &api.Results{})
	// The same final report again changes nothing; another is refused.
	report(reportBody(runID, "exec-1", "FAILED", `, "error": {"message": "table not found"}`)).Decode(t, &api.Results{})
	report(reportBody(runID, "exec-1", "SUCCESS", "")).WantError(t, http.StatusConflict)
	report(reportBody(runID, "exec-1", "RUNNING", "")).WantError(t, http.StatusConflict)

	var history api.RunEventsResponse
	s.Post(t, statusPath, `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+ttt+`", "run_id": "`+runID+`"}`).Decode(t, &history)
	if history.Status != "FAILED" || history.Heartbeats != 2 || history.ExecutorID != "exec-1" ||
		history.Error == nil || history.Error.Location != "step 2" || history.Metrics["rows"] != float64(12) {
		t.Errorf("history = %+v", history)
	}
	// A person may still set the status of a finished run.
	s.Post(t, statusPath, setBody(runID, "CHECKED", "")).Decode(t, &api.Results{})

	// Reports need the executer role, a known run, and well-formed fields.
	if _, err := s.Env.Store.PutMember(context.Background(), "000099", "viewer@example.com", auth.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	s.Do(t, http.MethodPost, statusPath, s.Token(t, "viewer@example.com"), reportBody(runID, "x", "RUNNING", "")).WantError(t, http.StatusForbidden)
	report(reportBody("20201230-112837-0a795c70-2557-4a60-ba16-000000000000", "x", "RUNNING", "")).WantError(t, http.StatusNotFound)
	for name, tc := range map[string]struct {
		body   string
		fields []string
	}{
		"no executor id":             {reportBody(runID, "", "RUNNING", ""), []string{"executor_id"}},
		"CHECKED is a person's":      {reportBody(runID, "x", "CHECKED", ""), []string{"status"}},
		"an error with SUCCESS":      {reportBody(runID, "x", "SUCCESS", `, "error": {"message": "m"}`), []string{"error"}},
		"an error without message":   {reportBody(runID, "x", "FAILED", `, "error": {"code": "c"}`), []string{"error.message"}},
		"an unknown error field":     {reportBody(runID, "x", "FAILED", `, "error": {"message": "m", "stack": "s"}`), []string{"stack"}},
		"metrics that are no object": {reportBody(runID, "x", "SUCCESS", `, "metrics": [1]`), []string{"metrics"}},
	} {
		t.Run(name, func(t *testing.T) { report(tc.body).WantError(t, http.StatusBadRequest, tc.fields...) })
	}
}
