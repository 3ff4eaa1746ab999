package runs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
)

var decisionTime = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// TestScheduleRetry: a failed run is retried while it has attempts left,
// after the configuration's delay doubled for each earlier retry, never
// more than a day later.
func TestScheduleRetry(t *testing.T) {
	t.Parallel()
	s := &Service{}
	for _, tc := range []struct {
		name             string
		attempt, retries int
		delay            time.Duration
		want             time.Duration // 0 for no retry
	}{
		{"no retries", 1, 0, time.Minute, 0},
		{"first failure", 1, 3, time.Minute, time.Minute},
		{"second failure", 2, 3, time.Minute, 2 * time.Minute},
		{"third failure", 3, 3, time.Minute, 4 * time.Minute},
		{"out of attempts", 4, 3, time.Minute, 0},
		{"capped at a day", 10, 20, time.Hour, maxRetryDelay},
	} {
		r := &Run{Attempt: tc.attempt, Retries: tc.retries, RetryDelay: tc.delay}
		s.scheduleRetry(r, decisionTime)
		var got time.Duration
		if !r.RetryAt.IsZero() {
			got = r.RetryAt.Sub(decisionTime)
		}
		if got != tc.want {
			t.Errorf("%s: retry in %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSetStatus: a person's status change is a compare-and-set when they
// say what they expect; it stops a pending retry, ends a running run,
// keeps the end of a finished one, and makes a run running again open.
func TestSetStatus(t *testing.T) {
	t.Parallel()
	s := &Service{now: func() time.Time { return decisionTime }}
	ended := decisionTime.Add(-time.Hour)
	for _, tc := range []struct {
		name             string
		run              Run
		status, expected Status
		wantSave         bool
		wantConflict     bool
		wantEnd          time.Time
		wantDeadline     time.Time
	}{
		{"expected another status", Run{Status: StatusRunning}, StatusFailed, StatusFailed, false, true, time.Time{}, time.Time{}},
		{"already there", Run{Status: StatusFailed, EndDate: ended}, StatusFailed, "", false, false, ended, time.Time{}},
		{"a running run fails", Run{Status: StatusRunning, Deadline: decisionTime.Add(time.Minute)}, StatusFailed, StatusRunning,
			true, false, decisionTime, time.Time{}},
		{"a failure acknowledged", Run{Status: StatusFailed, EndDate: ended, RetryAt: decisionTime.Add(time.Minute)}, StatusChecked, "",
			true, false, ended, time.Time{}},
		{"running again", Run{Status: StatusFailed, EndDate: ended, Timeout: time.Hour}, StatusRunning, "",
			true, false, time.Time{}, decisionTime.Add(time.Hour)},
	} {
		r := tc.run
		update, err := s.setStatus(&r, "ada@example.com", tc.status, tc.expected, "")
		var e *failure.Error
		if conflict := errors.As(err, &e) && e.Kind == failure.ErrConflict && e.Field == "expected_status" && e.CurrentStatus == string(tc.run.Status); conflict != tc.wantConflict {
			t.Errorf("%s: error %v, want a conflict: %v", tc.name, err, tc.wantConflict)
			continue
		}
		if tc.wantConflict || !tc.wantSave {
			if update.Save || r.Status != tc.run.Status {
				t.Errorf("%s: changed the run to %s (save %v)", tc.name, r.Status, update.Save)
			}
			continue
		}
		ev := update.Event
		if !update.Save || ev == nil || ev.From != tc.run.Status || ev.To != tc.status || ev.By != "ada@example.com" || r.Status != tc.status {
			t.Errorf("%s: update %+v, run %s", tc.name, update, r.Status)
		}
		if !r.EndDate.Equal(tc.wantEnd) || !r.Deadline.Equal(tc.wantDeadline) || !r.RetryAt.IsZero() || !r.LastUpdateDate.Equal(decisionTime) {
			t.Errorf("%s: end %v (want %v), deadline %v (want %v), retry at %v, updated %v",
				tc.name, r.EndDate, tc.wantEnd, r.Deadline, tc.wantDeadline, r.RetryAt, r.LastUpdateDate)
		}
	}
}

// TestRequestHash: a replay is the same request, field for field; the
// fields added later change the hash only when they are set, so runs
// launched before them still match their replays.
func TestRequestHash(t *testing.T) {
	t.Parallel()
	base := Launch{Account: "000099", Environment: "DEV", ConfigurationID: "c_DEV", ExecutionDate: "2026-12-01"}
	h := requestHash(configs.KindTableToTable, base)
	legacy, _ := json.Marshal([]string{"000099", "DEV", string(configs.KindTableToTable), "c_DEV", "", "2026-12-01"})
	if h != requestHash(configs.KindTableToTable, base) || h != sha256Hex(legacy) {
		t.Errorf("the hash of a launch without parameters or callback changed: %s", h)
	}
	for name, l := range map[string]Launch{
		"another day":         {Account: "000099", Environment: "DEV", ConfigurationID: "c_DEV", ExecutionDate: "2026-12-02"},
		"parameters":          {Account: "000099", Environment: "DEV", ConfigurationID: "c_DEV", ExecutionDate: "2026-12-01", Parameters: json.RawMessage(`{"a":1}`)},
		"a callback":          {Account: "000099", Environment: "DEV", ConfigurationID: "c_DEV", ExecutionDate: "2026-12-01", CallbackURL: "https://x.example.com"},
		"another job id":      {Account: "000099", Environment: "DEV", ConfigurationID: "c_DEV", ExecutionDate: "2026-12-01", JobID: "j"},
		"another environment": {Account: "000099", Environment: "PROD", ConfigurationID: "c_DEV", ExecutionDate: "2026-12-01"},
	} {
		if requestHash(configs.KindTableToTable, l) == h {
			t.Errorf("%s: same hash as the base launch", name)
		}
	}
	// A key used again for another request is a conflict naming the key.
	first := Run{RunID: "r1", IdempotencyKey: "k", RequestHash: h}
	if err := replayable(Run{IdempotencyKey: "k", RequestHash: h}, first); err != nil {
		t.Errorf("a replay refused: %v", err)
	}
	var e *failure.Error
	if err := replayable(Run{IdempotencyKey: "k", RequestHash: "other"}, first); !errors.As(err, &e) || e.Kind != failure.ErrConflict || e.Field != "idempotency_key" {
		t.Errorf("a reused key: %v, want a conflict on idempotency_key", err)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
