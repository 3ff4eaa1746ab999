package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/delivery"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// ledger returns a ledger on a store of its own project, its clock, and
// the item it delivers.
func ledger(t *testing.T, maxAttempts int) (delivery.Ledger, *clock, delivery.Item) {
	t.Helper()
	s, err := store.New(testenv.Firestore(t, testenv.Project(t)), store.DefaultTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 23, 11, 40, 0, 0, time.UTC)}
	item := delivery.Item{Account: "000099", RunKey: "645a1c98-53de-419e-95c5-fc9fb4bda0ed", Prefix: "alert-ev1-email-", Label: "email: ",
		Status: runs.StatusFailed}
	return delivery.Ledger{Store: s, Kind: "alert", MaxAttempts: maxAttempts, Now: c.Now}, c, item
}

// answers is a Send that answers the outcomes given, in turn, and counts
// its calls.
func answers(calls *atomic.Int32, outcomes ...delivery.Outcome) delivery.Send {
	return func(_ context.Context, n int) (delivery.Outcome, string) {
		calls.Add(1)
		return outcomes[n-1], fmt.Sprintf("answer %d", n)
	}
}

// trail is the item's attempts: "type: detail", oldest first.
func trail(t *testing.T, l delivery.Ledger, item delivery.Item) string {
	t.Helper()
	events, err := l.Store.DeliveryAttempts(context.Background(), item.Account, item.RunKey, item.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.To != item.Status || e.By != "runway" {
			t.Errorf("attempt %+v", e)
		}
		out = append(out, e.Type+": "+e.Detail)
	}
	return strings.Join(out, "; ")
}

func TestDeliveredOnce(t *testing.T) {
	t.Parallel()
	l, _, item := ledger(t, 0)
	var calls atomic.Int32
	ctx := context.Background()
	for i, want := range []delivery.Result{{Outcome: delivery.Delivered, Detail: "answer 1", Attempt: 1},
		{Outcome: delivery.Delivered, Detail: "email: attempt 1: answer 1"}} {
		if r, err := l.Deliver(ctx, item, answers(&calls, delivery.Delivered)); err != nil || r != want {
			t.Errorf("delivery %d: %+v, %v; want %+v", i+1, r, err, want)
		}
	}
	if calls.Load() != 1 || trail(t, l, item) != "alert_delivered: email: attempt 1: answer 1" {
		t.Errorf("%d sends, attempts %q", calls.Load(), trail(t, l, item))
	}
}

func TestFailedThenAbandoned(t *testing.T) {
	t.Parallel()
	l, _, item := ledger(t, 2)
	var calls atomic.Int32
	send := answers(&calls, delivery.Failed, delivery.Failed)
	ctx := context.Background()
	r, err := l.Deliver(ctx, item, send)
	if !errors.Is(err, delivery.ErrRetry) || r.Outcome != delivery.Failed || r.Attempt != 1 {
		t.Fatalf("first: %+v, %v; want a retry asked", r, err)
	}
	r, err = l.Deliver(ctx, item, send)
	if err != nil || r.Outcome != delivery.Abandoned || r.Attempt != 2 || !strings.HasSuffix(r.Detail, "no attempts left") {
		t.Fatalf("last: %+v, %v; want it abandoned", r, err)
	}
	if r, err := l.Deliver(ctx, item, send); err != nil || r.Outcome != delivery.Abandoned || r.Attempt != 0 {
		t.Fatalf("after the last: %+v, %v", r, err)
	}
	if got := trail(t, l, item); calls.Load() != 2 ||
		got != "alert_failed: email: attempt 1: answer 1; alert_abandoned: email: attempt 2: answer 2; no attempts left" {
		t.Errorf("%d sends, attempts %q", calls.Load(), got)
	}
}

// TestConcurrentDeliveriesMakeOneAttempt: deliveries of one event at the
// same time make one attempt; the others ask to be delivered again.
func TestConcurrentDeliveriesMakeOneAttempt(t *testing.T) {
	t.Parallel()
	l, _, item := ledger(t, 0)
	var calls atomic.Int32
	release := make(chan struct{})
	send := func(context.Context, int) (delivery.Outcome, string) {
		calls.Add(1)
		<-release // held until the others are done
		return delivery.Delivered, "sent"
	}
	const deliveries = 5
	errs := make(chan error, deliveries)
	var wg sync.WaitGroup
	for range deliveries {
		wg.Go(func() {
			_, err := l.Deliver(context.Background(), item, send)
			errs <- err
		})
	}
	for range deliveries - 1 {
		if err := <-errs; !errors.Is(err, delivery.ErrRetry) {
			t.Errorf("a concurrent delivery: %v, want ErrRetry", err)
		}
	}
	close(release)
	wg.Wait()
	if err := <-errs; err != nil {
		t.Errorf("the delivery that sent: %v", err)
	}
	if calls.Load() != 1 || trail(t, l, item) != "alert_delivered: email: attempt 1: sent" {
		t.Errorf("%d sends, attempts %q", calls.Load(), trail(t, l, item))
	}
}

// TestDeadDeliverysClaimIsTakenOver: an attempt claimed by a delivery that
// died holds the others off for the lease, then counts as failed.
func TestDeadDeliverysClaimIsTakenOver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		maxAttempts int
		want        string
	}{
		{"then attempt 2", 3, "alert_failed: email: attempt 1: no outcome recorded: the delivery stopped mid-attempt; alert_delivered: email: attempt 2: answer 2"},
		{"on the last attempt", 1, "alert_abandoned: email: attempt 1: no outcome recorded: the delivery stopped mid-attempt; no attempts left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, c, item := ledger(t, tc.maxAttempts)
			ctx := context.Background()
			claim := runs.Event{At: c.Now(), By: "runway", Type: "alert_sending", To: item.Status, Detail: "email: attempt 1: in progress"}
			if err := l.Store.ClaimDeliveryAttempt(ctx, item.Account, item.RunKey, item.Prefix+"01", claim); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			send := answers(&calls, delivery.Failed, delivery.Delivered)
			c.Add(delivery.DefaultLease - time.Second)
			if _, err := l.Deliver(ctx, item, send); !errors.Is(err, delivery.ErrRetry) || calls.Load() != 0 {
				t.Fatalf("within the lease: %v, %d sends; want a retry asked, nothing sent", err, calls.Load())
			}
			c.Add(2 * time.Second)
			if _, err := l.Deliver(ctx, item, send); err != nil {
				t.Fatal(err)
			}
			if got := trail(t, l, item); got != tc.want {
				t.Errorf("attempts %q, want %q", got, tc.want)
			}
		})
	}
}
