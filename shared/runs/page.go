package runs

import (
	"context"
	"fmt"
)

// FindPage returns a page of the runs of account that q selects, newest
// first, at most q.Limit, after q.After; and where the next page starts,
// nil when this one is the last. A run launched while someone pages is
// never shown twice nor skips another: each page goes on from the last
// run of the page before, in the runs' order.
func (s *Service) FindPage(ctx context.Context, account string, q Query) ([]Run, *RunCursor, error) {
	limit := q.Limit
	// One more than the page holds says whether another page follows.
	q.Limit++
	found, err := s.store.QueryRuns(ctx, account, q)
	if err != nil {
		return nil, nil, fmt.Errorf("store.QueryRuns: %w", err)
	}
	if len(found) <= limit {
		return found, nil, nil
	}
	found = found[:limit]
	last := found[len(found)-1]
	return found, &RunCursor{Start: last.StartExecutionDate, Key: last.Key}, nil
}
