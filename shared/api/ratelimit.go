package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimitedCallers bounds the callers a Limiter remembers; past it, it
// forgets them all (each starts again with a full bucket).
const maxLimitedCallers = 10_000

// Limiter limits how often each caller may do something, with a token
// bucket per caller. It counts within one function instance: with several
// instances, a caller may do up to that many times more.
type Limiter struct {
	every rate.Limit
	burst int

	mu      sync.Mutex
	callers map[string]*rate.Limiter
}

// NewLimiter returns a Limiter of n events per period per caller, allowing
// bursts of n.
func NewLimiter(n int, period time.Duration) *Limiter {
	return &Limiter{every: rate.Limit(float64(n) / period.Seconds()), burst: n, callers: map[string]*rate.Limiter{}}
}

// Allow reports whether caller may act now; if not, how long until it may.
func (l *Limiter) Allow(caller string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	lim, ok := l.callers[caller]
	if !ok {
		if len(l.callers) >= maxLimitedCallers {
			clear(l.callers)
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
