package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedAge bounds how long a verified token is taken on trust: a token
// signed by a service account key deleted since is refused after this
// long at most, as it would be once the key cache refreshes.
const verifiedAge = 5 * time.Minute

// maxVerified bounds how many verified tokens are remembered.
const maxVerified = 10_000

// verifiedTokens remembers the callers of tokens verified recently. Callers
// reuse a token for up to an hour, and checking its signature is most of
// the cost of a request's authentication; what a token proves cannot
// change before it expires. Roles are not remembered: they are read on
// every request.
type verifiedTokens struct {
	mu      sync.Mutex
	callers map[[sha256.Size]byte]verifiedCaller
}

type verifiedCaller struct {
	caller Caller
	until  time.Time
}

func (c *verifiedTokens) get(token string, now time.Time) (Caller, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.callers[key]
	if !ok || !now.Before(v.until) {
		return Caller{}, false
	}
	return v.caller, true
}

// put remembers that token proves caller until it expires at exp, and at
// most verifiedAge after now.
func (c *verifiedTokens) put(token string, caller Caller, exp, now time.Time) {
	until := now.Add(verifiedAge)
	if exp.Before(until) {
		until = exp
	}
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.callers == nil {
		c.callers = map[[sha256.Size]byte]verifiedCaller{}
	}
	if len(c.callers) >= maxVerified {
		for k, v := range c.callers {
			if !now.Before(v.until) {
				delete(c.callers, k)
			}
		}
		if len(c.callers) >= maxVerified {
			clear(c.callers) // a flood of distinct tokens: start over rather than grow
		}
	}
	c.callers[key] = verifiedCaller{caller: caller, until: until}
}
