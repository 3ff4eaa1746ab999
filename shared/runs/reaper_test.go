package runs

import (
	"testing"
	"time"
)

// TestRedelivery: a launch message no executor claims goes out again, each
// time after twice the delay before, until the last allowed publish, and
// then no more.
func TestRedelivery(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		deliveries     int
		wantType       string
		wantDeliveries int
		wantDue        time.Duration // from now; 0 for none
	}{
		{1, EventRepublished, 2, 2 * time.Minute},
		{2, EventRepublished, 3, 4 * time.Minute},
		{4, EventRepublished, 5, 16 * time.Minute},
		{5, EventUndelivered, 5, 0},
		{7, EventUndelivered, 7, 0},
	} {
		r := &Run{Status: StatusRunning, Deliveries: tc.deliveries, DeliverBy: now.Add(-time.Second)}
		ev := redelivery(r, now, time.Minute, 5)
		var due time.Duration
		if !r.DeliveryDue().IsZero() {
			due = r.DeliveryDue().Sub(now)
		}
		if ev.Type != tc.wantType || r.Deliveries != tc.wantDeliveries || due != tc.wantDue || !ev.Published || ev.By != Reaper {
			t.Errorf("after %d publishes: %s event (published %v, by %s), %d publishes, next in %v; want %s, %d, %v",
				tc.deliveries, ev.Type, ev.Published, ev.By, r.Deliveries, due, tc.wantType, tc.wantDeliveries, tc.wantDue)
		}
	}
}

// TestDeliveryDue: only a run whose launch message is out and unclaimed
// awaits a delivery.
func TestDeliveryDue(t *testing.T) {
	by := time.Date(2026, 12, 1, 8, 1, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		run  Run
		want bool
	}{
		"published, unclaimed": {Run{Status: StatusRunning, DeliverBy: by}, true},
		"claimed":              {Run{Status: StatusRunning, DeliverBy: by, ClaimedBy: "e1"}, false},
		"waiting for a slot":   {Run{Status: StatusRunning, DeliverBy: by, Queued: true}, false},
		"finished":             {Run{Status: StatusFailed, DeliverBy: by}, false},
		"from before claims":   {Run{Status: StatusRunning}, false},
	} {
		if got := !tc.run.DeliveryDue().IsZero(); got != tc.want {
			t.Errorf("%s: awaits a delivery %v, want %v", name, got, tc.want)
		}
	}
}
