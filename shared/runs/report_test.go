package runs

import (
	"errors"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// TestDecideReport: who may report on a run, when a report claims it,
// and what a report on a finished run gets.
func TestDecideReport(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	executor := auth.Caller{Email: "executor@p.iam.gserviceaccount.com"}
	claimed := Run{RunID: "r", Status: StatusRunning, ClaimedBy: "exec-1", ClaimCaller: executor.Email}
	tests := []struct {
		name      string
		run       Run
		who       auth.Caller
		report    Report
		wantKind  error // nil for accepted
		wantClaim bool
	}{
		{"the first report claims", Run{RunID: "r", Status: StatusRunning}, executor, Report{ExecutorID: "exec-1", Status: StatusRunning}, nil, true},
		{"the claimer's heartbeat", claimed, executor, Report{ExecutorID: "exec-1", Status: StatusRunning}, nil, false},
		{"the claimer's email in another case", claimed, auth.Caller{Email: "Executor@p.iam.gserviceaccount.com"}, Report{ExecutorID: "exec-1", Status: StatusSuccess}, nil, false},
		{"a duplicate delivery of the claimer", claimed, executor, Report{ExecutorID: "exec-2", Status: StatusRunning}, failure.ErrConflict, false},
		{"another caller with the executor id", claimed, auth.Caller{Email: "someone@example.com"}, Report{ExecutorID: "exec-1", Status: StatusSuccess}, failure.ErrForbidden, false},
		{"another caller on a finished run", Run{RunID: "r", Status: StatusSuccess, ClaimedBy: "exec-1", ClaimCaller: executor.Email},
			auth.Caller{Email: "someone@example.com"}, Report{ExecutorID: "exec-1", Status: StatusSuccess}, failure.ErrForbidden, false},
		{"a redelivered final report", Run{RunID: "r", Status: StatusFailed, ClaimedBy: "exec-1", ClaimCaller: executor.Email},
			executor, Report{ExecutorID: "exec-1", Status: StatusFailed}, nil, false},
		{"another outcome on a finished run", Run{RunID: "r", Status: StatusFailed, ClaimedBy: "exec-1", ClaimCaller: executor.Email},
			executor, Report{ExecutorID: "exec-1", Status: StatusSuccess}, failure.ErrConflict, false},
		{"a run finished before any claim", Run{RunID: "r", Status: StatusFailed}, executor, Report{ExecutorID: "exec-1", Status: StatusRunning}, failure.ErrConflict, false},
		{"a claim made before claims had callers", Run{RunID: "r", Status: StatusRunning, ClaimedBy: "exec-1"},
			auth.Caller{Email: "anyone@example.com"}, Report{ExecutorID: "exec-1", Status: StatusRunning}, nil, false},
	}
	s := &Service{now: func() time.Time { return now }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := tt.run
			claim, err := s.decideReport(&run, tt.who, tt.report, now)
			switch {
			case tt.wantKind == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantKind != nil && !errors.Is(err, tt.wantKind):
				t.Fatalf("err = %v, want %v", err, tt.wantKind)
			}
			if (claim != nil) != tt.wantClaim {
				t.Fatalf("claim = %+v, want one: %v", claim, tt.wantClaim)
			}
			if claim != nil && (run.ClaimedBy != tt.report.ExecutorID || run.ClaimCaller != tt.who.Email || claim.Detail != tt.report.ExecutorID || claim.By != tt.who.Email) {
				t.Errorf("claimed as %q by %q, event %+v", run.ClaimedBy, run.ClaimCaller, claim)
			}
			if err != nil && (run.ClaimedBy != tt.run.ClaimedBy || run.ClaimCaller != tt.run.ClaimCaller) {
				t.Errorf("a refused report changed the claim to %q by %q", run.ClaimedBy, run.ClaimCaller)
			}
		})
	}
}
