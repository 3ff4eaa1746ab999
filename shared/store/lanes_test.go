package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
)

// keyInLane returns a new run key of lane lane.
func keyInLane(t *testing.T, lane int) string {
	t.Helper()
	for range 1000 {
		if key := runs.RandomKey(); store.RunLane(key) == lane {
			return key
		}
	}
	t.Fatalf("no key of lane %d in 1000 tries", lane)
	return ""
}

// TestQueryRunsMergesTheLanes: runs of one configuration in every lane,
// their launch times interleaved across the lanes, some launched at the
// same time in different lanes, and the newest all in one lane, come back
// in one order (newest first, then by key), page after page, from any
// cursor; and their counts stop at the most asked for.
func TestQueryRunsMergesTheLanes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	var all []runs.Run
	add := func(lane int, start time.Time) {
		r := newRun("a_DEV", "DEV", runs.StatusSuccess, start)
		r.Key = keyInLane(t, lane)
		r.RunID = runs.NewRunID(start, r.Key)
		all = append(all, r)
	}
	for i := range 4 * store.RunLanes {
		add(i%store.RunLanes, t0.Add(time.Duration(i)*time.Minute)) // one lane after the other
	}
	for lane := range store.RunLanes {
		add(lane, t0.Add(time.Hour)) // the same time in every lane
	}
	for i := range 6 {
		add(1, t0.Add(2*time.Hour+time.Duration(i)*time.Minute)) // the newest, in one lane
	}
	for _, r := range all {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b runs.Run) int {
		if c := b.StartExecutionDate.Compare(a.StartExecutionDate); c != 0 {
			return c
		}
		return strings.Compare(b.Key, a.Key)
	})
	keys := func(rs []runs.Run) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Key)
		}
		return out
	}
	query := func(q runs.Query) []runs.Run {
		t.Helper()
		q.Kind, q.Environment, q.ConfigurationID = configs.KindTableToTable, "DEV", "a_DEV"
		found, err := s.QueryRuns(ctx, "000099", q)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}

	if diff := cmp.Diff(keys(want), keys(query(runs.Query{Limit: 100}))); diff != "" {
		t.Errorf("every run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(keys(want[:5]), keys(query(runs.Query{Limit: 5}))); diff != "" {
		t.Errorf("the newest 5, all in one lane (-want +got):\n%s", diff)
	}
	// Page by page, 7 runs a page: pages cross the lanes and the runs
	// launched at the same time.
	var paged []runs.Run
	q := runs.Query{Limit: 7}
	for pages := 1; ; pages++ {
		page := query(q)
		paged = append(paged, page...)
		if len(page) < q.Limit {
			if pages < 4 {
				t.Errorf("%d pages, want at least 4", pages)
			}
			break
		}
		if pages > 10 {
			t.Fatal("more than 10 pages")
		}
		last := page[len(page)-1]
		q.After = &runs.RunCursor{Start: last.StartExecutionDate, Key: last.Key}
	}
	if diff := cmp.Diff(keys(want), keys(paged)); diff != "" {
		t.Errorf("page by page (-want +got):\n%s", diff)
	}
	// After a run launched at the same time as runs of the other lanes.
	for i, r := range want {
		if !r.StartExecutionDate.Equal(t0.Add(time.Hour)) {
			continue
		}
		got := query(runs.Query{After: &runs.RunCursor{Start: r.StartExecutionDate, Key: r.Key}, Limit: 5})
		if diff := cmp.Diff(keys(want[i+1:i+6]), keys(got)); diff != "" {
			t.Errorf("after run %d (-want +got):\n%s", i, diff)
		}
		break
	}

	for _, tc := range []struct{ most, want int }{{100, len(all)}, {len(all), len(all)}, {7, 7}, {2, 2}} {
		n, err := s.CountRuns(ctx, "000099", runs.Query{Kind: configs.KindTableToTable, Environment: "DEV", ConfigurationID: "a_DEV"}, tc.most)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("CountRuns(most %d) = %d, want %d", tc.most, n, tc.want)
		}
	}
}
