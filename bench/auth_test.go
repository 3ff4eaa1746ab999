package bench_test

// Token verification benchmarks: auth.Verifier.Verify on each kind of
// token Runway accepts, with its signing keys already cached, beside the
// floor of any verifier (the signature check alone). Each kind is timed
// twice: VerifyNew* verifies tokens it has never seen (the signature is
// checked), Verify* the same token again and again, as a caller reusing
// its token for an hour sends it (a Verifier may remember it). Benchmarks
// on fetched keys report the key server's hits: warmup-fetches (the first
// verification) and fetches/op (every one after, 0 in the steady state).
// The cold-burst benchmarks count the fetches a fresh instance makes when
// 16 requests arrive at once, with a key server that takes 20 ms to
// answer, as Google's does from a function.
//
// go test does not run them without -bench:
//
//	go test -run '^$' -bench . -benchmem ./bench/

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/auth"
)

const (
	audience = "https://runway.bench"
	saEmail  = "executor@data-platform.iam.gserviceaccount.com"
	kid      = "bench-key-1"
	burst    = 16
)

// keyServer publishes one RSA key as a JWKS, in the format of Google's
// certs endpoint and of its service account keys endpoint, cacheable for
// an hour, and counts the fetches.
type keyServer struct {
	key     *rsa.PrivateKey
	server  *httptest.Server
	fetches atomic.Int64
}

func newKeyServer(b *testing.B, delay time.Duration) *keyServer {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	k := &keyServer{key: key}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	k.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fetches.Add(1)
		time.Sleep(delay)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	b.Cleanup(k.server.Close)
	return k
}

// googleClient sends every request to the key server, as if it were
// Google's certs endpoint.
func (k *keyServer) googleClient() *http.Client {
	target, _ := url.Parse(k.server.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// googleIDToken is an ID token as Google signs them for a person.
func (k *keyServer) googleIDToken(b *testing.B) string { return k.googleIDTokenAt(b, time.Now()) }

// googleIDTokenAt is an ID token issued at now: tokens issued at
// different seconds differ.
func (k *keyServer) googleIDTokenAt(b *testing.B, now time.Time) string {
	b.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://accounts.google.com", "aud": audience, "sub": "1234567890",
		"email": "alice@example.com", "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	token.Header["kid"] = kid
	s, err := token.SignedString(k.key)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// serviceAccountToken is a token a service account signs itself with its
// JSON key, as the reference's google-jwt-generator.py does.
func (k *keyServer) serviceAccountToken(b *testing.B) string {
	return k.serviceAccountTokenAt(b, time.Now())
}

// serviceAccountTokenAt is a service account token issued at now.
func (k *keyServer) serviceAccountTokenAt(b *testing.B, now time.Time) string {
	b.Helper()
	s, err := auth.ServiceAccountKey{Email: saEmail, KeyID: kid, PrivateKey: k.key}.Sign(audience, now)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func (k *keyServer) googleVerifier(b *testing.B) *auth.Verifier {
	b.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Audiences: []string{audience}, HTTPClient: k.googleClient()})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func (k *keyServer) serviceAccountVerifier(b *testing.B) *auth.Verifier {
	b.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Audiences: []string{audience},
		ServiceAccountKeysURL: k.server.URL + "/jwk/{email}"})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// benchmarkVerify verifies token once (fetching the keys), then measures
// verifications of it; ks may be nil when no keys are fetched.
func benchmarkVerify(b *testing.B, v *auth.Verifier, token, wantEmail string, ks *keyServer) {
	ctx := context.Background()
	if who, err := v.Verify(ctx, token); err != nil || who.Email != wantEmail {
		b.Fatalf("Verify = %+v, %v; want %s", who, err, wantEmail)
	}
	var warm int64
	if ks != nil {
		warm = ks.fetches.Load()
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	if ks != nil {
		b.ReportMetric(float64(warm), "warmup-fetches")
		b.ReportMetric(float64(ks.fetches.Load()-warm)/float64(b.N), "fetches/op")
	}
}

// benchmarkVerifyNew measures verifications of tokens the verifier has
// not seen, with their keys cached: a fresh verifier, warmed up with warm
// (untimed), for each pass over tokens.
func benchmarkVerifyNew(b *testing.B, newVerifier func() *auth.Verifier, warm string, tokens []string, wantEmail string, ks *keyServer) {
	ctx := context.Background()
	var (
		v             *auth.Verifier
		fetches, mark int64
		warmups       int64
	)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(tokens) == 0 {
			b.StopTimer()
			if ks != nil && v != nil {
				fetches += ks.fetches.Load() - mark
			}
			v = newVerifier()
			if ks != nil {
				mark = ks.fetches.Load()
			}
			if _, err := v.Verify(ctx, warm); err != nil {
				b.Fatal(err)
			}
			if ks != nil {
				warmups += ks.fetches.Load() - mark
				mark = ks.fetches.Load()
			}
			b.StartTimer()
		}
		if who, err := v.Verify(ctx, tokens[i%len(tokens)]); err != nil || who.Email != wantEmail {
			b.Fatalf("Verify = %+v, %v; want %s", who, err, wantEmail)
		}
		i++
	}
	if ks != nil {
		fetches += ks.fetches.Load() - mark
		b.ReportMetric(float64(warmups)/float64((b.N+len(tokens)-1)/len(tokens)), "warmup-fetches")
		b.ReportMetric(float64(fetches)/float64(b.N), "fetches/op")
	}
}

// distinct returns n tokens made by sign, issued at n different seconds of
// the last minutes, so that no two are the same.
func distinct(n int, sign func(time.Time) string) []string {
	now := time.Now()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = sign(now.Add(-time.Duration(i+1) * time.Second))
	}
	return tokens
}

// splitToken returns a JWT's signing input and decoded signature.
func splitToken(b *testing.B, token string) (string, []byte) {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	return token[:i], sig
}

// BenchmarkFloorEd25519 is the least any verifier of a dev token does:
// decode the signature and check it.
func BenchmarkFloorEd25519(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	token, err := auth.SignDevToken(priv, "dev@runway.local", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	splitToken(b, token)
	b.ReportAllocs()
	for b.Loop() {
		input, sig := splitToken(b, token)
		if !ed25519.Verify(pub, []byte(input), sig) {
			b.Fatal("bad signature")
		}
	}
}

func BenchmarkVerifyNewDevToken(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	sign := func(at time.Time) string {
		token, err := auth.SignDevToken(priv, "dev@runway.local", at, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		return token
	}
	newVerifier := func() *auth.Verifier {
		v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{DevKey: pub})
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	benchmarkVerifyNew(b, newVerifier, sign(time.Now()), distinct(512, sign), "dev@runway.local", nil)
}

func BenchmarkVerifyDevToken(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{DevKey: pub})
	if err != nil {
		b.Fatal(err)
	}
	token, err := auth.SignDevToken(priv, "dev@runway.local", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkVerify(b, v, token, "dev@runway.local", nil)
}

// BenchmarkFloorRS256 is the least any verifier of an RS256 token (Google
// ID tokens, service account tokens) does: decode the signature, hash the
// signing input and check the signature.
func BenchmarkFloorRS256(b *testing.B) {
	ks := newKeyServer(b, 0)
	token := ks.serviceAccountToken(b)
	b.ReportAllocs()
	for b.Loop() {
		input, sig := splitToken(b, token)
		sum := sha256.Sum256([]byte(input))
		if err := rsa.VerifyPKCS1v15(&ks.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyNewServiceAccountToken(b *testing.B) {
	ks := newKeyServer(b, 0)
	sign := func(at time.Time) string { return ks.serviceAccountTokenAt(b, at) }
	newVerifier := func() *auth.Verifier { return ks.serviceAccountVerifier(b) }
	benchmarkVerifyNew(b, newVerifier, ks.serviceAccountToken(b), distinct(128, sign), saEmail, ks)
}

func BenchmarkVerifyServiceAccountToken(b *testing.B) {
	ks := newKeyServer(b, 0)
	benchmarkVerify(b, ks.serviceAccountVerifier(b), ks.serviceAccountToken(b), saEmail, ks)
}

func BenchmarkVerifyNewGoogleIDToken(b *testing.B) {
	ks := newKeyServer(b, 0)
	sign := func(at time.Time) string { return ks.googleIDTokenAt(b, at) }
	newVerifier := func() *auth.Verifier { return ks.googleVerifier(b) }
	benchmarkVerifyNew(b, newVerifier, ks.googleIDToken(b), distinct(128, sign), "alice@example.com", ks)
}

func BenchmarkVerifyGoogleIDToken(b *testing.B) {
	ks := newKeyServer(b, 0)
	benchmarkVerify(b, ks.googleVerifier(b), ks.googleIDToken(b), "alice@example.com", ks)
}

// coldBurst measures fresh verifiers (a new instance's empty key cache)
// each receiving burst concurrent requests, and reports the key fetches
// per burst.
func coldBurst(b *testing.B, newVerifier func() *auth.Verifier, token string, ks *keyServer) {
	var fetches int64
	for b.Loop() {
		v := newVerifier()
		before := ks.fetches.Load()
		var wg sync.WaitGroup
		errs := make(chan error, burst)
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.Verify(context.Background(), token); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		fetches += ks.fetches.Load() - before
	}
	b.ReportMetric(float64(fetches)/float64(b.N), "fetches/burst")
}

func BenchmarkColdBurstServiceAccount16(b *testing.B) {
	ks := newKeyServer(b, 20*time.Millisecond)
	coldBurst(b, func() *auth.Verifier { return ks.serviceAccountVerifier(b) }, ks.serviceAccountToken(b), ks)
}

func BenchmarkColdBurstGoogle16(b *testing.B) {
	ks := newKeyServer(b, 20*time.Millisecond)
	coldBurst(b, func() *auth.Verifier { return ks.googleVerifier(b) }, ks.googleIDToken(b), ks)
}
