package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// memoryKeys answers key lookups in memory, as Google's service account
// keys endpoint does: the JWKS of the one account it knows, cacheable for
// a day, and 404 for every other. It counts the lookups.
type memoryKeys struct {
	email string
	key   *rsa.PublicKey
	gate  chan struct{} // when not nil, lookups wait for it to close

	mu      sync.Mutex
	fetches map[string]int
	total   int
}

func newMemoryKeys(t testing.TB, email string) (*memoryKeys, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &memoryKeys{email: email, key: &key.PublicKey, fetches: map[string]int{}}, key
}

func (m *memoryKeys) RoundTrip(r *http.Request) (*http.Response, error) {
	if m.gate != nil {
		<-m.gate
	}
	email := strings.TrimPrefix(r.URL.Path, "/jwk/")
	m.mu.Lock()
	m.fetches[email]++
	m.total++
	m.mu.Unlock()
	resp := &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}
	if email == m.email {
		body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "key-1",
			"n": base64.RawURLEncoding.EncodeToString(m.key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(m.key.E)).Bytes()),
		}}})
		resp.StatusCode = http.StatusOK
		resp.Header.Set("Cache-Control", "public, max-age=86400")
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	return resp, nil
}

func (m *memoryKeys) count(email string) (one, total int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fetches[email], m.total
}

// fakeClock is a clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration)          { c.ns.Add(int64(d)) }
func (c *fakeClock) at(d time.Duration) time.Time { return c.now().Add(d) }

// forged is a token naming email as its issuer, well formed but not
// signed: the lookup of the account's keys comes before the signature
// check, which is what a forger exploits.
func forged(email string, now time.Time) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	return enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "key-1"}) + "." +
		enc(map[string]any{"iss": email, "sub": email, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}) +
		"." + base64.RawURLEncoding.EncodeToString([]byte("not a signature"))
}

func newMemoryVerifier(t *testing.T, keys *memoryKeys, clock *fakeClock) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Audiences: []string{audience}, ServiceAccountKeysURL: "https://keys.test/jwk/{email}",
		HTTPClient: &http.Client{Transport: keys}, Now: clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestForgedAccountsNeitherFloodGoogleNorEvictKnownKeys: a flood of tokens
// naming made-up service accounts, 10,050 of them in 100 s, makes at most
// the rate-limited number of key fetches; past it, lookups are refused
// with a 503 and Retry-After; and the keys of a real account stay cached:
// it keeps verifying without a fetch. Before, every forged account was a
// fetch, and the 10,000th flushed every cached key.
func TestForgedAccountsNeitherFloodGoogleNorEvictKnownKeys(t *testing.T) {
	t.Parallel()
	keys, private := newMemoryKeys(t, saEmail)
	clock := newFakeClock()
	v := newMemoryVerifier(t, keys, clock)
	account := auth.ServiceAccountKey{Email: saEmail, KeyID: "key-1", PrivateKey: private}
	verifyReal := func() {
		t.Helper()
		token, _ := account.Sign(audience, clock.now())
		if who, err := v.Verify(context.Background(), token); err != nil || who.Email != saEmail {
			t.Fatalf("the real account's token: %+v, %v", who, err)
		}
	}
	verifyReal()

	const flood = 10_050
	step := 10 * time.Millisecond
	var refusedErr error
	refused := 0
	for i := range flood {
		_, err := v.Verify(context.Background(), forged(fmt.Sprintf("ghost-%d@forged-%d.iam.gserviceaccount.com", i, i), clock.now()))
		switch {
		case errors.Is(err, failure.ErrUnauthenticated) && strings.Contains(err.Error(), "no public keys"):
		case errors.Is(err, failure.ErrUnavailable):
			refused++
			refusedErr = err
		default:
			t.Fatalf("forged token %d: %v, want unauthenticated (no keys) or unavailable (refused)", i, err)
		}
		clock.add(step)
	}
	verifyReal()
	if n, _ := keys.count(saEmail); n != 1 {
		t.Errorf("the real account's keys were fetched %d times, want once: the flood evicted them", n)
	}
	elapsed := time.Duration(flood) * step
	_, total := keys.count("")
	limit := auth.DefaultUnknownAccountFetchBurst + int(elapsed.Seconds()*auth.DefaultUnknownAccountFetchRate) + 1
	if forgedFetches := total - 1; forgedFetches > limit {
		t.Errorf("%d key fetches for %d forged accounts in %s, want at most %d", forgedFetches, flood, elapsed, limit)
	}
	if refused == 0 {
		t.Fatal("no lookup was refused")
	}
	var authErr *failure.Error
	if !errors.As(refusedErr, &authErr) || authErr.RetryAfter < time.Second {
		t.Errorf("a refused lookup: %v, want a RetryAfter of at least 1 s", refusedErr)
	}
	if h := api.FromError(refusedErr); h.Code != http.StatusServiceUnavailable || h.Header.Get("Retry-After") == "" {
		t.Errorf("a refused lookup answers %d with Retry-After %q, want 503 with a Retry-After", h.Code, h.Header.Get("Retry-After"))
	}
}

// TestManyMissingAccountsDoNotEvictKnownKeys: with no limit on lookups,
// more made-up accounts than the caches hold (each a 404, remembered) do
// not evict the keys of a real account: accounts without keys have a
// cache of their own. Past its bound, the account remembered longest is
// forgotten, and costs a fetch again.
func TestManyMissingAccountsDoNotEvictKnownKeys(t *testing.T) {
	t.Parallel()
	keys, private := newMemoryKeys(t, saEmail)
	clock := newFakeClock()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Audiences: []string{audience}, ServiceAccountKeysURL: "https://keys.test/jwk/{email}",
		HTTPClient: &http.Client{Transport: keys}, Now: clock.now,
		UnknownAccountFetchRate: 1e9, UnknownAccountFetchBurst: 1e9,
	})
	if err != nil {
		t.Fatal(err)
	}
	account := auth.ServiceAccountKey{Email: saEmail, KeyID: "key-1", PrivateKey: private}
	verifyReal := func() {
		t.Helper()
		token, _ := account.Sign(audience, clock.now())
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Fatalf("the real account's token: %v", err)
		}
	}
	verifyReal()
	ghost := func(i int) string { return fmt.Sprintf("ghost-%d@forged.iam.gserviceaccount.com", i) }
	const flood = 10_050
	for i := range flood {
		if _, err := v.Verify(context.Background(), forged(ghost(i), clock.now())); !errors.Is(err, failure.ErrUnauthenticated) {
			t.Fatalf("forged token %d: %v, want unauthenticated (no keys)", i, err)
		}
		clock.add(time.Millisecond)
	}
	verifyReal()
	if n, total := keys.count(saEmail); n != 1 || total != flood+1 {
		t.Errorf("%d fetches of the real account's keys (want 1), %d in all (want %d)", n, total, flood+1)
	}
	// The latest made-up account is still remembered; the first is not.
	for i, want := range map[int]int{flood - 1: 1, 0: 2} {
		v.Verify(context.Background(), forged(ghost(i), clock.now()))
		if n, _ := keys.count(ghost(i)); n != want {
			t.Errorf("made-up account %d fetched %d times, want %d", i, n, want)
		}
	}
}

// TestKnownAccountsAreNotRefused: while lookups of new accounts are
// refused, a known account keeps verifying from its cached keys, and
// refreshes them when they expire.
func TestKnownAccountsAreNotRefused(t *testing.T) {
	t.Parallel()
	keys, private := newMemoryKeys(t, saEmail)
	clock := newFakeClock()
	v := newMemoryVerifier(t, keys, clock)
	account := auth.ServiceAccountKey{Email: saEmail, KeyID: "key-1", PrivateKey: private}
	verifyReal := func(when string) {
		t.Helper()
		token, _ := account.Sign(audience, clock.now())
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Fatalf("the real account's token %s: %v", when, err)
		}
	}
	// exhaust uses up the lookups of new accounts at the current instant.
	n := 0
	exhaust := func() error {
		for range auth.DefaultUnknownAccountFetchBurst + 1 {
			n++
			_, err := v.Verify(context.Background(), forged(fmt.Sprintf("ghost-%d@forged.iam.gserviceaccount.com", n), clock.now()))
			if errors.Is(err, failure.ErrUnavailable) {
				return err
			}
		}
		t.Fatal("lookups of new accounts were never refused")
		return nil
	}

	verifyReal("at first")
	err := exhaust()
	var authErr *failure.Error
	if !errors.As(err, &authErr) || authErr.RetryAfter != time.Second {
		t.Errorf("the refusal: %v, want Retry-After 1 s (%d lookups a second)", err, auth.DefaultUnknownAccountFetchRate)
	}
	verifyReal("while lookups are refused")

	clock.add(24*time.Hour + time.Second) // past the keys' max-age
	exhaust()
	verifyReal("when its keys expired, while lookups are refused")
	if got, _ := keys.count(saEmail); got != 2 {
		t.Errorf("%d fetches of the real account's keys, want 2 (the first, the refresh)", got)
	}

	// The limiter refills with time: 100 ms later one more lookup passes.
	clock.add(100 * time.Millisecond)
	if _, err := v.Verify(context.Background(), forged("late@forged.iam.gserviceaccount.com", clock.now())); !errors.Is(err, failure.ErrUnauthenticated) {
		t.Errorf("a lookup after the limiter refilled: %v, want unauthenticated (no keys)", err)
	}
}

// TestConcurrentLookupsOfOneForgedAccountShareAFetch: a burst of tokens
// naming the same made-up account fetches its keys once, and each gets
// the same 401.
func TestConcurrentLookupsOfOneForgedAccountShareAFetch(t *testing.T) {
	t.Parallel()
	keys, _ := newMemoryKeys(t, saEmail)
	keys.gate = make(chan struct{})
	clock := newFakeClock()
	v := newMemoryVerifier(t, keys, clock)
	const ghost = "ghost@forged.iam.gserviceaccount.com"
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		token := forged(ghost, clock.at(-time.Duration(i)*time.Second)) // distinct tokens
		wg.Go(func() {
			_, err := v.Verify(context.Background(), token)
			errs <- err
		})
	}
	time.Sleep(20 * time.Millisecond) // most of them join the first lookup
	close(keys.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), "no public keys") {
			t.Errorf("a lookup of the forged account: %v, want unauthenticated (no keys)", err)
		}
	}
	if n, _ := keys.count(ghost); n != 1 {
		t.Errorf("%d fetches for one forged account, want 1", n)
	}
}
