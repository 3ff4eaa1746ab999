package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits keep one caller from starving the others on an instance: a
// request rate per caller for every action, and a cap on the long waits
// (check_run_status's wait_seconds) held at once, per caller and in all.
// They count within one function instance. A nil *Limits limits nothing.
type Limits struct {
	// Rate limits each caller's requests of the actions without a rate
	// of their own; nil for no limit.
	Rate *Limiter
	// Actions gives actions a rate of their own, kept apart from Rate's:
	// launches are limited more tightly, and an executor's reports are
	// never refused because of its (or anyone's) reads.
	Actions map[string]*Limiter
	// Waits caps the long waits held at once; nil for no cap.
	Waits *Slots
}

// waitRetryAfter is the Retry-After of a wait refused at the cap: long
// enough for a held wait to have ended or to be answered.
const waitRetryAfter = 5 * time.Second

// Allow returns nil if caller may make a request of action now, or a 429
// with Retry-After if not.
func (l *Limits) Allow(action, caller string) *Error {
	if l == nil {
		return nil
	}
	limiter, own := l.Actions[action]
	if !own {
		limiter = l.Rate
	}
	if limiter == nil {
		return nil
	}
	if ok, wait := limiter.Allow(caller); !ok {
		return tooMany(wait, "too many %s requests from %s", action, caller)
	}
	return nil
}

// HoldWait takes one of the wait slots for caller, and returns the
// function that gives it back; or a 429 with Retry-After when caller, or
// the instance, holds as many waits as allowed.
func (l *Limits) HoldWait(caller string) (release func(), err *Error) {
	if l == nil || l.Waits == nil {
		return func() {}, nil
	}
	release, ok := l.Waits.Hold(caller)
	if !ok {
		return nil, tooMany(waitRetryAfter, "too many check_run_status requests with wait_seconds held at once (at most %d per caller); retry, or poll without wait_seconds", l.Waits.perCaller)
	}
	return release, nil
}

func tooMany(wait time.Duration, format string, args ...any) *Error {
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	err := Errorf(http.StatusTooManyRequests, format, args...)
	err.Message += "; retry in " + strconv.Itoa(seconds) + " s"
	err.Header = http.Header{"Retry-After": {strconv.Itoa(seconds)}}
	return err
}

// maxLimitedCallers bounds the callers a Limiter remembers.
const maxLimitedCallers = 10_000

// Limiter limits how often each caller may do something, with a token
// bucket per caller.
type Limiter struct {
	every rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	callers map[string]*rate.Limiter
}

// NewLimiter returns a Limiter of n events per period per caller, allowing
// bursts of n, on the clock now (nil for time.Now).
func NewLimiter(n int, period time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{every: rate.Limit(float64(n) / period.Seconds()), burst: n, now: now, callers: map[string]*rate.Limiter{}}
}

// Allow reports whether caller may act now; if not, how long until it may.
func (l *Limiter) Allow(caller string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	lim, ok := l.callers[caller]
	if !ok {
		if len(l.callers) >= maxLimitedCallers {
			l.forgetIdle(now)
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.callers[caller] = lim
	}
	l.mu.Unlock()
	if lim.AllowN(now, 1) {
		return true, 0
	}
	r := lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// forgetIdle makes room for a new caller: it forgets the callers whose
// bucket has refilled, who lose nothing by it, and only when every bucket
// is in use, everyone. Called with l.mu held.
func (l *Limiter) forgetIdle(now time.Time) {
	for caller, lim := range l.callers {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.callers, caller)
		}
	}
	if len(l.callers) >= maxLimitedCallers {
		clear(l.callers)
	}
}

// Slots caps how many of something are held at once, in all and per
// caller.
type Slots struct {
	perInstance, perCaller int

	mu       sync.Mutex
	held     int
	byCaller map[string]int
}

// NewSlots returns Slots of at most perInstance held at once, at most
// perCaller of them by one caller.
func NewSlots(perInstance, perCaller int) *Slots {
	return &Slots{perInstance: perInstance, perCaller: perCaller, byCaller: map[string]int{}}
}

// Hold takes a slot for caller if one is free, and returns the function
// that gives it back (once, however often it is called).
func (s *Slots) Hold(caller string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held >= s.perInstance || s.byCaller[caller] >= s.perCaller {
		return nil, false
	}
	s.held++
	s.byCaller[caller]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.held--
			if s.byCaller[caller]--; s.byCaller[caller] == 0 {
				delete(s.byCaller, caller)
			}
		})
	}, true
}

// Held returns how many slots are held.
func (s *Slots) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}
