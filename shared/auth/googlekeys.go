package auth

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/runwaydata/runway/shared/failure"
)

// DefaultGoogleCertsURL is where Google publishes the keys that sign its
// ID tokens (RS256), as a JWKS.
const DefaultGoogleCertsURL = "https://www.googleapis.com/oauth2/v3/certs"

// googleCerts caches Google's ID token signing keys for as long as
// Google's Cache-Control allows. Concurrent fetches (a new instance's first
// burst) share one request; a kid it does not know refetches the keys at
// most once per refetchInterval (Google rotates its keys, publishing the
// next one before it signs with it).
type googleCerts struct {
	url    string
	client *http.Client
	now    func() time.Time
	group  singleflight.Group

	mu  sync.Mutex
	set keySet
}

// key returns Google's public key kid.
func (g *googleCerts) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	now := g.now()
	g.mu.Lock()
	set := g.set
	g.mu.Unlock()
	fresh := set.keys != nil && now.Before(set.expires)
	if !fresh || (set.keys[kid] == nil && now.Sub(set.fetched) > refetchInterval) {
		var err error
		set, err = shared(ctx, &g.group, g.url, func(ctx context.Context) (keySet, error) {
			set, err := fetchJWKS(ctx, g.client, g.url, g.now)
			if err != nil {
				return keySet{}, &failure.Error{Kind: failure.ErrUnavailable, Message: "Google's public keys could not be fetched; retry later", Err: err}
			}
			g.mu.Lock()
			g.set = set
			g.mu.Unlock()
			return set, nil
		})
		if err != nil {
			return nil, err
		}
	}
	key := set.keys[kid]
	if key == nil {
		return nil, unauthenticated(fmt.Sprintf("the token's signature is not valid: its key %q is not one of Google's", truncate(kid, 64)), nil)
	}
	return key, nil
}
