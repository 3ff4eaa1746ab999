package api

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func newClock() *clock { return &clock{now: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)} }

// TestLimiter: each caller gets a burst of n, then one event per
// period/n, and is told how long to wait.
func TestLimiter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		n      int
		period time.Duration
		refill time.Duration // how long one event takes to come back
	}{
		{"20/s", 20, time.Second, 50 * time.Millisecond},
		{"3/s", 3, time.Second, time.Second / 3},
		{"600/m", 600, time.Minute, 100 * time.Millisecond},
		{"1000/h", 1000, time.Hour, 3600 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := NewLimiter(tt.n, tt.period, c.Now)
			for i := range tt.n {
				if ok, _ := l.Allow("a"); !ok {
					t.Fatalf("event %d of the burst of %d refused", i+1, tt.n)
				}
			}
			ok, wait := l.Allow("a")
			if ok || wait <= 0 || wait > tt.refill {
				t.Fatalf("past the burst: allowed %v, wait %v (want at most %v)", ok, wait, tt.refill)
			}
			if ok, _ := l.Allow("b"); !ok {
				t.Error("another caller was refused")
			}
			c.Advance(wait - time.Millisecond)
			if ok, _ := l.Allow("a"); ok {
				t.Error("allowed before the wait it was told")
			}
			c.Advance(time.Millisecond)
			if ok, _ := l.Allow("a"); !ok {
				t.Error("refused after the wait it was told")
			}
			if ok, _ := l.Allow("a"); ok {
				t.Error("one wait gave back more than one event")
			}
			c.Advance(tt.period)
			for i := range tt.n {
				if ok, _ := l.Allow("a"); !ok {
					t.Fatalf("after a whole period, event %d of %d refused", i+1, tt.n)
				}
			}
		})
	}
}

// TestLimiterForgetsIdleCallersFirst: making room for new callers never
// refills the bucket of a caller who is at their limit while idle callers
// can be forgotten.
func TestLimiterForgetsIdleCallersFirst(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := NewLimiter(2, time.Hour, c.Now)
	l.Allow("busy")
	l.Allow("busy")
	for i := range maxLimitedCallers - 1 {
		l.Allow(fmt.Sprintf("idle-%d", i))
	}
	c.Advance(time.Hour) // the idle callers' buckets are full again; busy's too
	l.Allow("busy")
	l.Allow("busy")
	if ok, _ := l.Allow("newcomer"); !ok {
		t.Fatal("a new caller was refused")
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Error("making room refilled the bucket of a caller at their limit")
	}
	if n := len(l.callers); n > 2 {
		t.Errorf("%d callers remembered after forgetting the idle ones", n)
	}
}

// TestSlots: at most perCaller slots per caller and perInstance in all;
// a release gives one back, once.
func TestSlots(t *testing.T) {
	t.Parallel()
	s := NewSlots(3, 2)
	a1, ok1 := s.Hold("a")
	_, ok2 := s.Hold("a")
	if _, ok := s.Hold("a"); !ok1 || !ok2 || ok {
		t.Fatalf("caller a held %v %v, then a third: %v", ok1, ok2, ok)
	}
	if _, ok := s.Hold("b"); !ok {
		t.Fatal("caller b was refused with a slot free")
	}
	if _, ok := s.Hold("c"); ok {
		t.Fatal("a fourth slot was held past the instance's 3")
	}
	a1()
	a1() // a second release gives nothing back
	if s.Held() != 2 {
		t.Fatalf("held %d after one release, want 2", s.Held())
	}
	if _, ok := s.Hold("c"); !ok {
		t.Fatal("the released slot was not free")
	}
	if _, ok := s.Hold("c"); ok {
		t.Fatal("a release was given back twice")
	}
}

// TestLimits: actions with a rate of their own do not use up the shared
// rate, and refusals are 429s with a Retry-After in whole seconds.
func TestLimits(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := &Limits{
		Rate:    NewLimiter(2, time.Minute, c.Now),
		Actions: map[string]*Limiter{"report_run_status": NewLimiter(5, time.Minute, c.Now), "launch_job": nil},
		Waits:   NewSlots(1, 1),
	}
	for range 2 {
		if err := l.Allow("get_last_status", "viewer"); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Allow("check_run_status", "viewer")
	if err == nil || err.Code != http.StatusTooManyRequests || err.Header.Get("Retry-After") != "30" {
		t.Fatalf("past the shared rate: %v, Retry-After %q", err, err.Header.Get("Retry-After"))
	}
	for i := range 5 {
		if err := l.Allow("report_run_status", "viewer"); err != nil {
			t.Fatalf("report %d refused after the reads used up the shared rate: %v", i+1, err)
		}
	}
	for range 10 {
		if err := l.Allow("launch_job", "viewer"); err != nil {
			t.Fatalf("an action without a limit of its own was limited: %v", err)
		}
	}
	release, refused := l.HoldWait("viewer")
	if refused != nil {
		t.Fatal(refused)
	}
	if _, refused := l.HoldWait("viewer"); refused == nil || refused.Code != http.StatusTooManyRequests || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("a wait past the cap: %v", refused)
	}
	release()
	if _, refused := l.HoldWait("viewer"); refused != nil {
		t.Fatalf("a released wait slot: %v", refused)
	}
	var none *Limits
	if err := none.Allow("launch_job", "x"); err != nil {
		t.Error("nil Limits limited")
	}
}
