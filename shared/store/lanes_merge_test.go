package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/runs"
)

// memoryLanes serves fetchLane from runs held in memory, as the lanes'
// queries would, and counts the queries and the documents Firestore would
// bill for them (at least one a query).
type memoryLanes struct {
	lanes        [][]runs.Run // each in runs' order
	mu           sync.Mutex   // the lanes are asked at once
	calls, reads int
}

func (m *memoryLanes) fetch(_ context.Context, lane int, after *runs.RunCursor, n int) ([]runs.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	rs := m.lanes[lane]
	if after != nil {
		cursor := runs.Run{StartExecutionDate: after.Start, Key: after.Key}
		rs = rs[sortedIndexAfter(rs, cursor):]
	}
	rs = rs[:min(n, len(rs))]
	m.reads += max(1, len(rs))
	return slices.Clone(rs), nil
}

// sortedIndexAfter is where the runs after cursor start in rs.
func sortedIndexAfter(rs []runs.Run, cursor runs.Run) int {
	i, found := slices.BinarySearchFunc(rs, cursor, newestFirst)
	if found {
		i++
	}
	return i
}

// history returns n runs spread over lanes by pick, launched over time
// with some at the same instant, and the lanes as their queries see them.
func history(rng *rand.Rand, n, lanes int, pick func(i int) int) ([]runs.Run, *memoryLanes) {
	m := &memoryLanes{lanes: make([][]runs.Run, lanes)}
	var all []runs.Run
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if rng.IntN(4) > 0 { // a quarter share their launch time with the run before
			at = at.Add(time.Duration(1+rng.IntN(1000)) * time.Millisecond)
		}
		r := runs.Run{Key: fmt.Sprintf("k%06d-%d", rng.IntN(1_000_000), i), StartExecutionDate: at}
		all = append(all, r)
		lane := pick(i)
		m.lanes[lane] = append(m.lanes[lane], r)
	}
	slices.SortFunc(all, newestFirst)
	for _, l := range m.lanes {
		slices.SortFunc(l, newestFirst)
	}
	return all, m
}

// TestMergeLanesIsOneQuery: over random histories, even or piled into
// one lane, small or large, from the start or from a cursor, the merge
// answers what one query over every lane would.
func TestMergeLanesIsOneQuery(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	spreads := map[string]func(lanes int) func(int) int{
		"even":     func(lanes int) func(int) int { return func(int) int { return rng.IntN(lanes) } },
		"one lane": func(int) func(int) int { return func(int) int { return 2 } },
		"runs of one lane at a time": func(lanes int) func(int) int {
			return func(i int) int { return (i / 7) % lanes }
		},
	}
	for name, spread := range spreads {
		for trial := range 300 {
			lanes := 1 + rng.IntN(6)
			if name == "one lane" {
				lanes = 4
			}
			all, m := history(rng, rng.IntN(80), lanes, spread(lanes))
			limit := 1 + rng.IntN(30)
			var after *runs.RunCursor
			want := all
			if len(all) > 0 && rng.IntN(2) == 0 {
				c := all[rng.IntN(len(all))]
				after = &runs.RunCursor{Start: c.StartExecutionDate, Key: c.Key}
				want = all[sortedIndexAfter(all, c):]
			}
			want = want[:min(limit, len(want))]
			got, err := mergeLanes(context.Background(), lanes, limit, after, m.fetch)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keysOf(got), keysOf(want)) {
				t.Fatalf("%s, trial %d: %d lanes, %d runs, limit %d, after %v:\ngot  %v\nwant %v",
					name, trial, lanes, len(all), limit, after, keysOf(got), keysOf(want))
			}
		}
	}
}

func keysOf(rs []runs.Run) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Key)
	}
	return out
}

// TestMergeLanesReadsAboutAPage: with runs spread evenly over 4 lanes and
// a long history, a page costs about the page plus a margin, not
// 4 × the page, and a second round of queries is rare.
func TestMergeLanesReadsAboutAPage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		limit          int
		mostReads      float64 // mean documents read per page
		mostExtraCalls float64 // mean queries per page beyond one a lane
	}{
		{limit: 1, mostReads: 4, mostExtraCalls: 0},
		{limit: 10, mostReads: 26, mostExtraCalls: 0.2},
		{limit: 100, mostReads: 140, mostExtraCalls: 0.2},
	} {
		const trials = 100
		reads, calls := 0, 0
		for range trials {
			_, m := history(rng, 4*tc.limit+50, RunLanes, func(int) int { return rng.IntN(RunLanes) })
			if _, err := mergeLanes(context.Background(), RunLanes, tc.limit, nil, m.fetch); err != nil {
				t.Fatal(err)
			}
			reads += m.reads
			calls += m.calls
		}
		meanReads := float64(reads) / trials
		extraCalls := float64(calls)/trials - RunLanes
		t.Logf("limit %d: %.1f documents read, %.2f queries beyond one a lane, per page", tc.limit, meanReads, extraCalls)
		if meanReads > tc.mostReads || extraCalls > tc.mostExtraCalls {
			t.Errorf("limit %d: %.1f reads and %.2f extra queries per page, want at most %.0f and %.2f",
				tc.limit, meanReads, extraCalls, tc.mostReads, tc.mostExtraCalls)
		}
	}
}
