package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/runwaydata/runway/shared/failure"
)

// DefaultServiceAccountKeysURL is where Google publishes each service
// account's public keys, as a JWKS; {email} is replaced by the account.
const DefaultServiceAccountKeysURL = "https://www.googleapis.com/service_accounts/v1/jwk/{email}"

// MaxServiceAccountTokenLifetime is the longest a self-signed service
// account token may live (exp - iat), as Google's own self-signed JWTs.
const MaxServiceAccountTokenLifetime = time.Hour

// serviceAccountEmail matches the emails of Google service accounts: user
// managed (…@PROJECT.iam.gserviceaccount.com) and default ones
// (…@developer.gserviceaccount.com, …@appspot.gserviceaccount.com). Keys
// are fetched only for emails of this shape.
var serviceAccountEmail = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9][a-z0-9.-]{0,62}\.gserviceaccount\.com$`)

// Service account key cache tuning.
const (
	// maxKnownAccounts bounds the accounts whose keys are cached. Past it
	// the least recently used entry goes, preferring accounts no token has
	// been verified for yet (proven ones are callers).
	maxKnownAccounts = 10_000
	// maxMissingAccounts bounds the accounts remembered as having no keys
	// (Google answered 404), each for missingTTL. They have a cache of
	// their own, so that tokens naming made-up accounts never evict the
	// keys of real ones.
	maxMissingAccounts = 10_000
	missingTTL         = 5 * time.Minute
	// Fetches for accounts this instance has no keys for (unknown ones,
	// which anyone can name) are bounded per instance: at most
	// DefaultUnknownAccountFetchRate a second after a burst of
	// DefaultUnknownAccountFetchBurst, and maxUnknownFetchesInFlight at a
	// time. Past it a lookup is refused with a 503 and Retry-After; known
	// accounts are never refused.
	DefaultUnknownAccountFetchRate  = 10
	DefaultUnknownAccountFetchBurst = 20
	maxUnknownFetchesInFlight       = 4
)

// serviceAccountKeys fetches service accounts' public keys and caches them
// for as long as Google's Cache-Control allows.
//
// A token names its account in its iss, before anything proves it, so
// anyone can make Runway look an account up. Hence:
//   - accounts without keys (a 404) are remembered, in a bounded cache of
//     their own, so that repeating a made-up account costs nothing and many
//     of them never evict the keys of real accounts;
//   - fetches for accounts not in the key cache are rate-limited and
//     bounded in number per instance; past the bound a lookup is refused
//     (503, Retry-After) while known accounts keep verifying from the cache
//     and refresh their keys unhindered;
//   - concurrent fetches for one account share one request.
type serviceAccountKeys struct {
	url      string
	client   *http.Client
	now      func() time.Time
	group    singleflight.Group
	limiter  *rate.Limiter // fetches for unknown accounts
	inFlight chan struct{} // fetches for unknown accounts under way

	mu      sync.Mutex
	known   map[string]*knownAccount // accounts with keys
	missing map[string]time.Time     // accounts without keys, until when remembered
}

type knownAccount struct {
	set      keySet
	lastUsed time.Time
	proven   bool // a token it signed has been verified
}

func newServiceAccountKeys(url string, client *http.Client, now func() time.Time, fetchRate rate.Limit, burst int) *serviceAccountKeys {
	return &serviceAccountKeys{
		url: url, client: client, now: now,
		limiter:  rate.NewLimiter(fetchRate, burst),
		inFlight: make(chan struct{}, maxUnknownFetchesInFlight),
		known:    map[string]*knownAccount{},
		missing:  map[string]time.Time{},
	}
}

// fetchResult is what a fetch learned: the account's keys, or that it has
// none.
type fetchResult struct {
	set     keySet
	missing bool
}

// key returns the public key kid of the service account email.
func (k *serviceAccountKeys) key(ctx context.Context, email, kid string) (crypto.PublicKey, error) {
	now := k.now()
	k.mu.Lock()
	if until, ok := k.missing[email]; ok && now.Before(until) {
		k.mu.Unlock()
		return nil, noKeys(email)
	}
	var set keySet
	acct, known := k.known[email]
	if known {
		acct.lastUsed = now
		set = acct.set
	}
	k.mu.Unlock()
	fresh := known && now.Before(set.expires)
	if !fresh || (set.keys[kid] == nil && now.Sub(set.fetched) > refetchInterval) {
		res, err := shared(ctx, &k.group, email, func(ctx context.Context) (fetchResult, error) { return k.fetch(ctx, email) })
		if err != nil {
			return nil, err
		}
		if res.missing {
			return nil, noKeys(email)
		}
		set = res.set
	}
	key := set.keys[kid]
	if key == nil {
		return nil, unauthenticated(fmt.Sprintf("the token's key %q is not one of service account %s's keys (deleted key?)", truncate(kid, 64), email), nil)
	}
	return key, nil
}

func noKeys(email string) error {
	return unauthenticated(fmt.Sprintf("service account %s has no public keys: it does not exist or was deleted", email), nil)
}

// fetch reads the account's JWKS and caches what it learns. A fetch for an
// account whose keys are not cached must first get past the limits.
func (k *serviceAccountKeys) fetch(ctx context.Context, email string) (fetchResult, error) {
	k.mu.Lock()
	_, known := k.known[email]
	k.mu.Unlock()
	if !known {
		select {
		case k.inFlight <- struct{}{}:
			defer func() { <-k.inFlight }()
		default:
			return fetchResult{}, refused(time.Second)
		}
		if now := k.now(); !k.limiter.AllowN(now, 1) {
			return fetchResult{}, refused(k.retryAfter(now))
		}
	}
	u := strings.ReplaceAll(k.url, "{email}", url.PathEscape(email))
	set, err := fetchJWKS(ctx, k.client, u, k.now)
	switch {
	case errors.Is(err, errNoKeys):
		k.storeMissing(email)
		return fetchResult{missing: true}, nil
	case err != nil:
		return fetchResult{}, &failure.Error{Kind: failure.ErrUnavailable, Message: "the service account's public keys could not be fetched; retry later", Err: err}
	}
	k.storeKnown(email, set)
	return fetchResult{set: set}, nil
}

// refused is the answer to a lookup past the limits: the token may well be
// valid (a new caller's first request during a flood of made-up accounts),
// so it is a 503 telling the client when to retry, not a 401 telling it
// its credentials are bad.
func refused(after time.Duration) error {
	secs := int(math.Ceil(after.Seconds()))
	return &failure.Error{Kind: failure.ErrUnavailable, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many lookups of service accounts new to this instance; retry in %d s", secs)}
}

// retryAfter is how long until the limiter allows a fetch again.
func (k *serviceAccountKeys) retryAfter(now time.Time) time.Duration {
	missing := 1 - k.limiter.TokensAt(now)
	if missing <= 0 || k.limiter.Limit() <= 0 {
		return time.Second
	}
	return max(time.Second, time.Duration(missing/float64(k.limiter.Limit())*float64(time.Second)))
}

func (k *serviceAccountKeys) storeKnown(email string, set keySet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.missing, email)
	if acct, ok := k.known[email]; ok {
		acct.set = set
		return
	}
	if len(k.known) >= maxKnownAccounts {
		k.evictKnown()
	}
	k.known[email] = &knownAccount{set: set, lastUsed: set.fetched}
}

// evictKnown drops the least recently used account, one no token has been
// verified for if there is one.
func (k *serviceAccountKeys) evictKnown() {
	var victim string
	var worst *knownAccount
	for email, acct := range k.known {
		if worst == nil || (worst.proven && !acct.proven) ||
			(worst.proven == acct.proven && acct.lastUsed.Before(worst.lastUsed)) {
			victim, worst = email, acct
		}
	}
	delete(k.known, victim)
}

func (k *serviceAccountKeys) storeMissing(email string) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.known, email) // a deleted account
	if len(k.missing) >= maxMissingAccounts {
		for e, until := range k.missing {
			if !now.Before(until) {
				delete(k.missing, e)
			}
		}
		if len(k.missing) >= maxMissingAccounts {
			var oldest string
			for e, until := range k.missing {
				if oldest == "" || until.Before(k.missing[oldest]) {
					oldest = e
				}
			}
			delete(k.missing, oldest)
		}
	}
	k.missing[email] = now.Add(missingTTL)
}

// proven records that a token of email was verified: its cache entry is a
// caller's, kept before the entries of accounts merely named.
func (k *serviceAccountKeys) proven(email string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if acct, ok := k.known[email]; ok {
		acct.proven = true
	}
}

// verifyServiceAccount checks a token a service account signed itself with
// one of its keys, as made by the reference's google-jwt-generator.py and
// by scripts/token --credentials: RS256, a kid, iss = sub = the account,
// aud = the API, at most an hour between iat and exp.
func (v *Verifier) verifyServiceAccount(ctx context.Context, token string, header map[string]any, claims jwt.MapClaims, now time.Time) (Caller, error) {
	if alg, _ := header["alg"].(string); alg != "RS256" {
		return Caller{}, unauthenticated(fmt.Sprintf("service account tokens must be signed with RS256, not %q", truncate(alg, 20)), nil)
	}
	kid, _ := header["kid"].(string)
	if kid == "" {
		return Caller{}, unauthenticated("the service account token has no kid header naming its key", nil)
	}
	iss, _ := claims["iss"].(string)
	if sub, _ := claims["sub"].(string); sub != iss {
		return Caller{}, unauthenticated("a service account token's sub must be its iss", nil)
	}
	if aud, _ := claims["aud"].(string); !v.audiences[aud] {
		return Caller{}, unauthenticated(fmt.Sprintf("the token's audience %q is not this API's", truncate(aud, 200)), nil)
	}
	iat, errIat := claims.GetIssuedAt()
	exp, errExp := claims.GetExpirationTime()
	if errIat != nil || errExp != nil || iat == nil || exp == nil {
		return Caller{}, unauthenticated("a service account token needs iat and exp claims", nil)
	}
	if exp.Sub(iat.Time) > MaxServiceAccountTokenLifetime {
		return Caller{}, unauthenticated("a service account token may live at most one hour (exp - iat)", nil)
	}
	// Before any key is fetched: a stale token costs no lookup.
	if err := checkTimes(claims, now); err != nil {
		return Caller{}, err
	}
	key, err := v.serviceAccounts.key(ctx, iss, kid)
	if err != nil {
		return Caller{}, err
	}
	if err := verifySigned(token, key, "RS256", now, "the service account token", jwt.WithIssuer(iss)); err != nil {
		return Caller{}, err
	}
	v.serviceAccounts.proven(iss)
	return Caller{Email: iss, Via: "service-account"}, nil
}

// claimsProblem names the failed check without echoing any part of the token.
func claimsProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet (is the signer's clock ahead?)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unsupported signing method"
	default:
		return "claims check failed"
	}
}
