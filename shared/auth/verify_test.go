package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

const audience = "https://runway.example.com"

// googleKeys serves a JWKS in the format of Google's certs endpoint, and
// counts the fetches.
type googleKeys struct {
	key     *rsa.PrivateKey
	kid     string
	fetches atomic.Int64
	delay   time.Duration // how long the server takes to answer
	gate    chan struct{} // when not nil, the server answers once it is closed
	server  *httptest.Server
}

func newGoogleKeys(t testing.TB) *googleKeys {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &googleKeys{key: key, kid: "test-kid-1"}
	g.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.fetches.Add(1)
		time.Sleep(g.delay)
		if g.gate != nil {
			<-g.gate
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": g.kid,
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(g.server.Close)
	return g
}

// client returns an HTTP client that sends the requests for Google's
// certs to the local key server, as if it were Google's, and the others
// (to local servers) where they go.
func (g *googleKeys) client() *http.Client {
	target, _ := url.Parse(g.server.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "www.googleapis.com" {
			r = r.Clone(r.Context())
			r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func idClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://accounts.google.com", "aud": audience, "sub": "1234567890",
		"email": "alice@example.com", "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func (g *googleKeys) sign(t testing.TB, claims jwt.MapClaims, edit func(*jwt.Token)) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	token.Header["kid"] = g.kid
	if edit != nil {
		edit(token)
	}
	s, err := token.SignedString(g.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newVerifier(t *testing.T, g *googleKeys, devKey ed25519.PublicKey) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Audiences: []string{audience, "https://other.example.com"}, DevKey: devKey, HTTPClient: g.client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGoogleIDTokens(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	v := newVerifier(t, g, nil)
	now := time.Now()
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := idClaims(now)
		edit(c)
		return c
	}
	hs256 := func() string {
		// The classic confusion attack: HS256 keyed with the public key.
		pub, _ := x509.MarshalPKIXPublicKey(&g.key.PublicKey)
		token := jwt.NewWithClaims(jwt.SigningMethodHS256, idClaims(now))
		token.Header["kid"] = g.kid
		s, _ := token.SignedString(pub)
		return s
	}
	tampered := func() string {
		parts := strings.Split(g.sign(t, idClaims(now), nil), ".")
		payload, _ := json.Marshal(with(func(c jwt.MapClaims) { c["email"] = "mallory@example.com" }))
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		return strings.Join(parts, ".")
	}
	none := func() string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, idClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}

	tests := []struct {
		name    string
		token   string
		wantErr string // part of the message; "" for a valid token
	}{
		{"valid", g.sign(t, idClaims(now), nil), ""},
		{"valid, issuer without scheme", g.sign(t, with(func(c jwt.MapClaims) { c["iss"] = "accounts.google.com" }), nil), ""},
		{"second audience", g.sign(t, with(func(c jwt.MapClaims) { c["aud"] = "https://other.example.com" }), nil), ""},
		{"email_verified as a string", g.sign(t, with(func(c jwt.MapClaims) { c["email_verified"] = "true" }), nil), ""},
		{"wrong audience", g.sign(t, with(func(c jwt.MapClaims) { c["aud"] = "https://evil.example.com" }), nil), "audience"},
		{"wrong issuer", g.sign(t, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), nil), "not accepted"},
		{"expired", g.sign(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), nil), "expired"},
		{"no exp", g.sign(t, with(func(c jwt.MapClaims) { delete(c, "exp") }), nil), "exp"},
		{"alg none", none(), "RS256"},
		{"HS256 keyed with the public key", hs256(), "RS256"},
		{"unknown kid", g.sign(t, idClaims(now), func(tk *jwt.Token) { tk.Header["kid"] = "other" }), "signature"},
		{"tampered payload", tampered(), "signature"},
		{"unverified email", g.sign(t, with(func(c jwt.MapClaims) { c["email_verified"] = false }), nil), "not verified"},
		{"no email", g.sign(t, with(func(c jwt.MapClaims) { delete(c, "email") }), nil), "no email"},
		{"not a JWT", "abc.def", "well-formed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			who, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr == "" {
				if err != nil || who.Email != "alice@example.com" || who.Via != "google" {
					t.Fatalf("Verify = %+v, %v; want alice via google", who, err)
				}
				return
			}
			if !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Verify error = %v, want unauthenticated mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Error("the error echoes the token")
			}
		})
	}
}

func TestGoogleKeysAreFetchedOnceWhileCached(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	v := newVerifier(t, g, nil)
	for i := range 20 { // distinct tokens: a token verified once is not verified again
		claims := idClaims(time.Now())
		claims["nonce"] = i
		if _, err := v.Verify(context.Background(), g.sign(t, claims, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.fetches.Load(); n != 1 {
		t.Errorf("%d key fetches for 20 verifications, want 1", n)
	}
}

// TestAColdBurstFetchesGoogleKeysOnce: the first requests of a new
// instance, at once, share one fetch of Google's keys.
func TestAColdBurstFetchesGoogleKeysOnce(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	g.delay = 50 * time.Millisecond
	v := newVerifier(t, g, nil)
	var wg sync.WaitGroup
	for i := range 16 {
		claims := idClaims(time.Now())
		claims["nonce"] = i
		token := g.sign(t, claims, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(context.Background(), token); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := g.fetches.Load(); n != 1 {
		t.Errorf("%d key fetches for a burst of 16 first verifications, want 1", n)
	}
}

// TestACanceledCallerDoesNotFailTheBurst: the caller whose request started
// the shared fetch of Google's keys goes away; the callers waiting for the
// same fetch still get their answer.
func TestACanceledCallerDoesNotFailTheBurst(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	g.gate = make(chan struct{}) // the fetch lasts until the test says
	v := newVerifier(t, g, nil)
	token := func(i int) string {
		claims := idClaims(time.Now())
		claims["nonce"] = i
		return g.sign(t, claims, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := v.Verify(ctx, token(0)); first <- err }()
	for g.fetches.Load() == 0 { // the first caller's fetch is under way
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 8; i++ {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), token(i)); err != nil {
				t.Errorf("a caller waiting on the canceled caller's fetch: %v", err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // they wait on the fetch (or join it later: it lasts)
	cancel()
	if err := <-first; err == nil {
		t.Error("the canceled caller was answered as if verified")
	}
	close(g.gate)
	wg.Wait()
	if n := g.fetches.Load(); n != 1 {
		t.Errorf("%d key fetches, want 1", n)
	}
}

func TestUnreachableGoogleKeysAreUnavailableNotUnauthenticated(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	token := g.sign(t, idClaims(time.Now()), nil)
	g.server.Close()
	v := newVerifier(t, g, nil)
	_, err := v.Verify(context.Background(), token)
	if !errors.Is(err, failure.ErrUnavailable) {
		t.Fatalf("Verify with Google's keys unreachable = %v, want ErrUnavailable", err)
	}
}

func TestDevTokens(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	dir := t.TempDir()
	key, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "keys", "dev-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	devMode := newVerifier(t, g, key.Public().(ed25519.PublicKey))
	googleMode := newVerifier(t, g, nil)
	now := time.Now()
	sign := func(k ed25519.PrivateKey, at time.Time, ttl time.Duration) string {
		s, err := auth.SignDevToken(k, "dev@runway.local", at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	if who, err := devMode.Verify(context.Background(), sign(key, now, time.Hour)); err != nil || who.Email != "dev@runway.local" || who.Via != "dev" {
		t.Errorf("dev token in dev mode = %+v, %v", who, err)
	}
	for name, tc := range map[string]struct {
		v     *auth.Verifier
		token string
		want  string
	}{
		"outside dev mode": {googleMode, sign(key, now, time.Hour), "only when the API runs in dev mode"},
		"another key":      {devMode, sign(otherKey, now, time.Hour), "bad signature"},
		"expired":          {devMode, sign(key, now.Add(-2*time.Hour), time.Hour), "expired"},
	} {
		if _, err := tc.v.Verify(context.Background(), tc.token); !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Verify = %v, want unauthenticated mentioning %q", name, err, tc.want)
		}
	}

	// The key file is reused, not replaced; another path has another key.
	if again, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "keys", "dev-key.pem")); err != nil || !again.Equal(key) {
		t.Errorf("loading the dev key again = %v; want the same key", err)
	}
	if other, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "other.pem")); err != nil || other.Equal(key) {
		t.Errorf("a new path must make a new key: %v", err)
	}
}

func TestAuthenticateReadsTheBearerHeader(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	v := newVerifier(t, g, nil)
	token := g.sign(t, idClaims(time.Now()), nil)
	tests := []struct {
		header      string
		ok, missing bool
	}{
		{"Bearer " + token, true, false},
		{"bearer " + token, true, false},
		{"", false, true},
		{"Basic dXNlcjpwYXNz", false, false},
		{"Bearer", false, false},
		{"Bearer   ", false, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		_, err := v.Authenticate(r)
		var authErr *failure.Error
		switch {
		case tt.ok && err != nil:
			t.Errorf("%q: %v", tt.header, err)
		case !tt.ok && (!errors.As(err, &authErr) || authErr.Missing != tt.missing):
			t.Errorf("%q: error %v, want unauthenticated with Missing=%v", tt.header, err, tt.missing)
		}
	}
}

// TestRequireCallerAcceptsTheFunctionsOwnURLOnly: a system caller's token
// must be issued for the function's own URL as configured, not for any
// run.app or cloudfunctions.net URL (another project's, another
// function's) nor for the API.
func TestRequireCallerAcceptsTheFunctionsOwnURLOnly(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, g, key.Public().(ed25519.PublicKey))
	const own = "https://europe-west1-p.cloudfunctions.net/runway-reaper"
	check := v.RequireCaller([]string{"Scheduler@p.iam.gserviceaccount.com"}, []string{own})
	request := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	now := time.Now()
	scheduler := func(aud string) string {
		c := idClaims(now)
		c["email"], c["aud"] = "scheduler@p.iam.gserviceaccount.com", aud
		return g.sign(t, c, nil)
	}
	if err := check(request(scheduler(own))); err != nil {
		t.Errorf("the scheduler's ID token for the function's URL was refused: %v", err)
	}
	for _, aud := range []string{
		audience,                             // the API's
		"https://reaper-abc123-ew.a.run.app", // some Cloud Run service
		"https://europe-west1-other.cloudfunctions.net/runway-reaper",       // another project's function
		"https://europe-west1-p.cloudfunctions.net/runway-workflow-trigger", // another function
		own + "/",
		"https://evil.example.com",
	} {
		if err := check(request(scheduler(aud))); !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), "RUNWAY_PUSH_AUDIENCES") {
			t.Errorf("the scheduler's ID token for %s: %v, want unauthenticated naming RUNWAY_PUSH_AUDIENCES", aud, err)
		}
	}
	someoneElse := idClaims(now)
	someoneElse["aud"] = own
	if err := check(request(g.sign(t, someoneElse, nil))); !errors.Is(err, failure.ErrForbidden) {
		t.Errorf("someone else's ID token: %v, want forbidden", err)
	}
	dev, _ := auth.SignDevToken(key, "scheduler@p.iam.gserviceaccount.com", now, time.Hour)
	if err := check(request(dev)); !errors.Is(err, failure.ErrForbidden) {
		t.Errorf("a dev token in the scheduler's name: %v, want forbidden", err)
	}
	none := v.RequireCaller([]string{"scheduler@p.iam.gserviceaccount.com"}, nil)
	if err := none(request(scheduler(own))); !errors.Is(err, failure.ErrUnauthenticated) {
		t.Errorf("a function with no URL configured accepted a token: %v", err)
	}
}
