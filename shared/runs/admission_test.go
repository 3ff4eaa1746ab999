package runs

import (
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/configs"
)

// TestAdmitAndEnqueue: a waiting run has no deadline and no delivery; its
// admission, by a launch or by the Reaper, gives it a slot, starts its
// deadline and awaits its executor's claim.
func TestAdmitAndEnqueue(t *testing.T) {
	t.Parallel()
	launched := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	now := launched.Add(10 * time.Minute)
	for _, tc := range []struct {
		name         string
		timeout      time.Duration
		wantDeadline time.Time
	}{
		{"with a timeout", time.Hour, now.Add(time.Hour)},
		{"without", 0, time.Time{}},
	} {
		r := NewRun(configs.Configuration{Policy: configs.Policy{Timeout: tc.timeout}}, "k", launched)
		enqueue(&r, launched)
		if !r.Queued || !r.QueuedAt.Equal(launched) || r.Slot != 0 || !r.Deadline.IsZero() || !r.DeliveryDue().IsZero() {
			t.Errorf("%s: waiting run %+v: want queued since its launch, no slot, deadline nor delivery", tc.name, r)
		}
		admit(&r, 3, now, time.Minute)
		if r.Queued || r.Slot != 3 || !r.AdmittedAt.Equal(now) || !r.Deadline.Equal(tc.wantDeadline) ||
			r.Deliveries != 1 || !r.DeliveryDue().Equal(now.Add(time.Minute)) || !r.QueuedAt.Equal(launched) {
			t.Errorf("%s: admitted run: slot %d, admitted %v, deadline %v (want %v), deliveries %d due %v, queued %v since %v",
				tc.name, r.Slot, r.AdmittedAt, r.Deadline, tc.wantDeadline, r.Deliveries, r.DeliveryDue(), r.Queued, r.QueuedAt)
		}
	}
}

// TestSettle: a change that finishes a run gives its slot back and takes
// it out of the queue; any other change keeps them.
func TestSettle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		run         Run
		save        bool
		wantRelease int
		wantQueued  bool
	}{
		{"a running run finishes", Run{Status: StatusSuccess, Slot: 2}, true, 2, false},
		{"a waiting run is canceled", Run{Status: StatusFailed, Queued: true}, true, 0, false},
		{"a heartbeat", Run{Status: StatusRunning, Slot: 2}, true, 0, false},
		{"a waiting run's change", Run{Status: StatusRunning, Queued: true}, true, 0, true},
		{"nothing saved", Run{Status: StatusFailed, Slot: 2, Queued: true}, false, 0, true},
		{"finished before slots", Run{Status: StatusChecked}, true, 0, false},
	} {
		r := tc.run
		update := settle(&r, Update{Save: tc.save})
		wantSlot := tc.run.Slot
		if tc.wantRelease > 0 {
			wantSlot = 0
		}
		if update.Release != tc.wantRelease || r.Slot != wantSlot || r.Queued != tc.wantQueued || update.Save != tc.save {
			t.Errorf("%s: release %d, slot %d, queued %v, save %v; want %d, %d, %v", tc.name, update.Release, r.Slot, r.Queued,
				update.Save, tc.wantRelease, wantSlot, tc.wantQueued)
		}
	}
}
