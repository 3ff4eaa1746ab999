package store

import (
	"runtime"
	"slices"
	"testing"
)

// TestSlotCandidates: an admission looks at every slot up to slotProbes
// of them, and at slotProbes distinct slots, each in range, beyond.
func TestSlotCandidates(t *testing.T) {
	for _, slots := range []int{1, slotProbes, slotProbes + 1, 100_000} {
		got := slotCandidates(slots)
		if want := min(slots, slotProbes); len(got) != want {
			t.Fatalf("%d slots: %d candidates %v, want %d", slots, len(got), got, want)
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if sorted[0] < 1 || sorted[len(sorted)-1] > slots || len(slices.Compact(sorted)) != len(got) {
			t.Errorf("%d slots: candidates %v, want distinct slots from 1 to %d", slots, got, slots)
		}
	}
	// The cost does not grow with max_active_runs.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		slotCandidates(100_000)
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / 100; perCall > 1024 {
		t.Errorf("slotCandidates(100000) allocates %d bytes, want at most 1 KB", perCall)
	}
}
