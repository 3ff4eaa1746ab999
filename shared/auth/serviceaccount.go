package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
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

// Key cache tuning.
const (
	maxCachedAccounts = 10_000          // beyond it, expired entries are dropped, then the cache is reset
	defaultKeysTTL    = 5 * time.Minute // when Google sends no max-age
	maxKeysTTL        = 24 * time.Hour
	missingTTL        = 5 * time.Minute // an account without keys is remembered this long
	refetchInterval   = time.Minute     // an unknown kid refetches the keys at most this often (key rotation)
	fetchTimeout      = 10 * time.Second
)

// serviceAccountKeys fetches service accounts' public keys and caches them
// for as long as Google's Cache-Control allows. Accounts that have no keys
// are remembered too, so that tokens naming made-up accounts cannot turn
// every request into an outbound fetch; concurrent fetches for one account
// share one request.
type serviceAccountKeys struct {
	url    string
	client *http.Client
	now    func() time.Time
	group  singleflight.Group

	mu    sync.Mutex
	cache map[string]keySet
}

type keySet struct {
	keys    map[string]*rsa.PublicKey // by kid
	missing bool                      // Google has no keys for the account
	fetched time.Time
	expires time.Time
}

func (k *serviceAccountKeys) cached(email string) (keySet, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	set, ok := k.cache[email]
	if !ok || k.now().After(set.expires) {
		return keySet{}, false
	}
	return set, true
}

func (k *serviceAccountKeys) store(email string, set keySet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= maxCachedAccounts {
		now := k.now()
		for e, s := range k.cache {
			if now.After(s.expires) {
				delete(k.cache, e)
			}
		}
		if len(k.cache) >= maxCachedAccounts {
			k.cache = map[string]keySet{}
		}
	}
	k.cache[email] = set
}

// key returns the public key kid of the service account email.
func (k *serviceAccountKeys) key(ctx context.Context, email, kid string) (*rsa.PublicKey, error) {
	set, ok := k.cached(email)
	stale := ok && !set.missing && set.keys[kid] == nil && k.now().Sub(set.fetched) > refetchInterval
	if !ok || stale {
		v, err, _ := k.group.Do(email, func() (any, error) { return k.fetch(ctx, email) })
		if err != nil {
			return nil, &Error{Kind: ErrUnavailable, Message: "the service account's public keys could not be fetched; retry later", Err: err}
		}
		set = v.(keySet)
	}
	if set.missing {
		return nil, unauthenticated(fmt.Sprintf("service account %s has no public keys: it does not exist or was deleted", email), nil)
	}
	key := set.keys[kid]
	if key == nil {
		return nil, unauthenticated(fmt.Sprintf("the token's key %q is not one of service account %s's keys (deleted key?)", truncate(kid, 64), email), nil)
	}
	return key, nil
}

// fetch reads the account's JWKS and caches it.
func (k *serviceAccountKeys) fetch(ctx context.Context, email string) (keySet, error) {
	// One caller's cancellation must not fail the others sharing the fetch.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	u := strings.ReplaceAll(k.url, "{email}", url.PathEscape(email))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return keySet{}, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return keySet{}, err
	}
	defer resp.Body.Close()
	now := k.now()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		set := keySet{missing: true, fetched: now, expires: now.Add(missingTTL)}
		k.store(email, set)
		return set, nil
	case resp.StatusCode != http.StatusOK:
		return keySet{}, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&jwks); err != nil {
		return keySet{}, fmt.Errorf("GET %s: decode JWKS: %w", u, err)
	}
	set := keySet{keys: map[string]*rsa.PublicKey{}, fetched: now, expires: now.Add(maxAge(resp.Header))}
	for _, j := range jwks.Keys {
		n, errN := base64.RawURLEncoding.DecodeString(j.N)
		e, errE := base64.RawURLEncoding.DecodeString(j.E)
		if j.Kty != "RSA" || j.Kid == "" || errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			continue // not a key we can verify RS256 with
		}
		set.keys[j.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	k.store(email, set)
	return set, nil
}

// maxAge reads how long a response may be cached from Cache-Control.
func maxAge(h http.Header) time.Duration {
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		if strings.EqualFold(name, "max-age") {
			if secs, err := strconv.Atoi(value); err == nil && secs >= 0 {
				return min(time.Duration(secs)*time.Second, maxKeysTTL)
			}
		}
	}
	return defaultKeysTTL
}

// verifyServiceAccount checks a token a service account signed itself with
// one of its keys, as made by the reference's google-jwt-generator.py and
// by scripts/token --credentials: RS256, a kid, iss = sub = the account,
// aud = the API, at most an hour between iat and exp.
func (v *Verifier) verifyServiceAccount(ctx context.Context, token string, header map[string]any, claims jwt.MapClaims) (Caller, error) {
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
	key, err := v.serviceAccounts.key(ctx, iss, kid)
	if err != nil {
		return Caller{}, err
	}
	_, err = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(iss),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(v.now),
	).Parse(token, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return Caller{}, unauthenticated("the service account token is not valid: "+claimsProblem(err), err)
	}
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
