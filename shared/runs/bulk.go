package runs

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/logging"
)

// BulkBatch is how many runs a bulk status change writes per transaction:
// two writes each (the run and its event), well under Firestore's 500.
const BulkBatch = 100

// BulkResult is what a bulk status change did, or would do.
type BulkResult struct {
	Matched int      // runs the filters select, before the change, counted up to the limit + 1
	Changed []Run    // runs changed (none for a dry run)
	Planned []string // for a dry run: the run ids that would change
}

// SetStatuses sets status on the runs of account that q selects, at most
// q.Limit of them, on behalf of who, as SetStatus does for one run. Runs
// already in status are never selected, so that repeating a call goes on
// where the last one stopped and a finished bulk change is a no-op.
// Changes are written BulkBatch runs per transaction; a run whose status
// changed since it was selected is left alone.
func (s *Service) SetStatuses(ctx context.Context, who auth.Caller, account string, q Query, status Status, dryRun bool) (BulkResult, error) {
	if q.Status == "" {
		q.Statuses = slices.DeleteFunc(slices.Clone(Statuses), func(st Status) bool { return st == status })
	}
	// Counted up to one past the limit: enough to say whether a call is
	// left to make, without counting a whole history.
	matched, err := s.store.CountRuns(ctx, account, q, q.Limit+1)
	if err != nil {
		return BulkResult{}, fmt.Errorf("store.CountRuns: %w", err)
	}
	found, err := s.store.QueryRuns(ctx, account, q)
	if err != nil {
		return BulkResult{}, fmt.Errorf("store.QueryRuns: %w", err)
	}
	result := BulkResult{Matched: matched}
	if dryRun {
		for _, r := range found {
			result.Planned = append(result.Planned, r.RunID)
		}
		return result, nil
	}
	for batch := range slices.Chunk(found, BulkBatch) {
		keys := make([]string, len(batch))
		for i, r := range batch {
			keys[i] = r.Key
		}
		var released map[configs.ConfigRef]bool
		changed, events, err := s.store.UpdateRuns(ctx, account, keys, func(r *Run) (Update, error) {
			if !q.selects(*r) || r.Status == status {
				return Update{}, nil
			}
			update, err := s.setStatus(r, who.Email, status, "", "set_runs_status")
			if update = settle(r, update); update.Release > 0 {
				if released == nil {
					released = map[configs.ConfigRef]bool{}
				}
				released[r.ConfigRef()] = true
			}
			return update, err
		})
		if err != nil {
			return result, fmt.Errorf("store.UpdateRuns: %w", err)
		}
		result.Changed = append(result.Changed, changed...)
		s.publishEvents(ctx, changed, events)
		// The batch freed these configurations' slots: their waiting runs
		// go next.
		for ref := range released {
			if err := s.admitWaitingOf(ctx, account, ref); err != nil {
				logging.FromContext(ctx).ErrorContext(ctx, "admitting waiting runs failed; the Reaper will", slog.Any("error", err))
			}
		}
	}
	return result, nil
}

// publishEvents publishes the status changes of a batch, a few at a time.
// Each failure is logged and left to the Reaper, as for a single change.
func (s *Service) publishEvents(ctx context.Context, changed []Run, events []Event) {
	var g errgroup.Group
	g.SetLimit(16)
	for i := range changed {
		g.Go(func() error {
			s.PublishEvent(ctx, changed[i], events[i])
			return nil
		})
	}
	_ = g.Wait()
}
