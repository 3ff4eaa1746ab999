package store

import (
	"context"
	"math"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/runs"
)

// fetchLane returns up to n runs of one lane after the cursor (nil for
// the start), in runs' order: newest first, then by key.
type fetchLane func(ctx context.Context, lane int, after *runs.RunCursor, n int) ([]runs.Run, error)

// newestFirst is runs' order, the order of every runs query: by launch
// time, newest first, then by key, which makes it total.
func newestFirst(a, b runs.Run) int {
	if c := b.StartExecutionDate.Compare(a.StartExecutionDate); c != 0 {
		return c
	}
	return strings.Compare(b.Key, a.Key)
}

// firstAsk is how many runs mergeLanes first asks each of lanes lanes for,
// to fill a page of limit: a lane holds about limit/lanes of the page, and
// two standard deviations more (its share is binomial) make a second
// round of queries rare (about 1 page in 25 for limit 10 and 4 lanes),
// while reading far fewer than limit runs from every lane. Never more
// than limit: no lane can put more than that in the page.
func firstAsk(limit, lanes int) int {
	p := 1 / float64(lanes)
	mean := float64(limit) * p
	sd := math.Sqrt(float64(limit) * p * (1 - p))
	return min(limit, int(math.Ceil(mean+2*sd)))
}

// mergeLanes returns the first limit runs of lanes lanes merged in runs'
// order, each lane read through fetch in that order. It asks each lane
// for firstAsk runs at once; then a lane that may hold more of the page
// (it answered all it was asked, and its last run made the page) is asked,
// again at once with the others in that case, for as many runs as could
// still come after its last one in the page, until no lane can. So the
// page is exactly what one query over every lane would answer, and it
// costs about limit plus a few reads rather than lanes × limit.
func mergeLanes(ctx context.Context, lanes, limit int, after *runs.RunCursor, fetch fetchLane) ([]runs.Run, error) {
	type lane struct {
		runs []runs.Run
		ask  int  // how many runs to ask for next, 0 for none
		done bool // it answered fewer than asked: it has no more
	}
	state := make([]lane, lanes)
	for i := range state {
		state[i].ask = firstAsk(limit, lanes)
	}
	for {
		g, gctx := errgroup.WithContext(ctx)
		for i := range state {
			l := &state[i]
			if l.ask == 0 {
				continue
			}
			from := after
			if n := len(l.runs); n > 0 {
				from = &runs.RunCursor{Start: l.runs[n-1].StartExecutionDate, Key: l.runs[n-1].Key}
			}
			g.Go(func() error {
				more, err := fetch(gctx, i, from, l.ask)
				l.runs, l.done, l.ask = append(l.runs, more...), len(more) < l.ask, 0
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		var merged []runs.Run
		for _, l := range state {
			merged = append(merged, l.runs...)
		}
		slices.SortFunc(merged, newestFirst)
		merged = merged[:min(len(merged), limit)]
		again := false
		for i := range state {
			l := &state[i]
			if l.done {
				continue
			}
			// The lane's unread runs all come after its last one read: as
			// many as follow that one in the page could still belong in it.
			last := l.runs[len(l.runs)-1]
			if at, found := slices.BinarySearchFunc(merged, last, newestFirst); found {
				l.ask = limit - 1 - at
				again = again || l.ask > 0
			}
		}
		if !again {
			return merged, nil
		}
	}
}
