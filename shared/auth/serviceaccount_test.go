package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

const saEmail = "executor@data-platform.iam.gserviceaccount.com"

// saKeyServer publishes service accounts' public keys the way Google does,
// one JWKS per account, and counts fetches per account.
type saKeyServer struct {
	mu      sync.Mutex
	keys    map[string]map[string]*rsa.PublicKey // email → kid → key
	fetches map[string]int
	status  atomic.Int64 // when not 0, every answer has this status
	server  *httptest.Server
}

func newSAKeyServer(t testing.TB) *saKeyServer {
	t.Helper()
	s := &saKeyServer{keys: map[string]map[string]*rsa.PublicKey{}, fetches: map[string]int{}}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := strings.TrimPrefix(r.URL.Path, "/jwk/")
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fetches[email]++
		if code := s.status.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		keys, ok := s.keys[email]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var jwks []map[string]string
		for kid, k := range keys {
			jwks = append(jwks, map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		w.Header().Set("Cache-Control", "public, max-age=600")
		json.NewEncoder(w).Encode(map[string]any{"keys": jwks})
	}))
	t.Cleanup(s.server.Close)
	return s
}

// newKey makes a key for email, publishes it, and returns the account's
// JSON key file.
func (s *saKeyServer) newKey(t testing.TB, email, kid string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	if s.keys[email] == nil {
		s.keys[email] = map[string]*rsa.PublicKey{}
	}
	s.keys[email][kid] = &key.PublicKey
	s.mu.Unlock()
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	file, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "data-platform", "private_key_id": kid,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1234", "token_uri": "https://oauth2.googleapis.com/token",
	})
	return file
}

func (s *saKeyServer) fetchesOf(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[email]
}

func newSAVerifier(t *testing.T, s *saKeyServer, now func() time.Time) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Audiences: []string{audience}, ServiceAccountKeysURL: s.server.URL + "/jwk/{email}", Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustParseKey(t testing.TB, file []byte) auth.ServiceAccountKey {
	t.Helper()
	key, err := auth.ParseServiceAccountKey(file)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestServiceAccountTokens(t *testing.T) {
	t.Parallel()
	keys := newSAKeyServer(t)
	key := mustParseKey(t, keys.newKey(t, saEmail, "key-1"))
	other := mustParseKey(t, keys.newKey(t, "other@data-platform.iam.gserviceaccount.com", "key-9"))
	v := newSAVerifier(t, keys, nil)
	now := time.Now()

	sign := func(claims jwt.MapClaims, method jwt.SigningMethod, signKey any, edit func(*jwt.Token)) string {
		tok := jwt.NewWithClaims(method, claims)
		tok.Header["kid"] = "key-1"
		if edit != nil {
			edit(tok)
		}
		s, err := tok.SignedString(signKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": saEmail, "sub": saEmail, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	rs256 := func(c jwt.MapClaims) string { return sign(c, jwt.SigningMethodRS256, key.PrivateKey, nil) }
	pub, _ := x509.MarshalPKIXPublicKey(&key.PrivateKey.PublicKey)
	made, err := key.Sign(audience, now)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		want  string // part of the error; "" for valid
	}{
		{"made by ServiceAccountKey.Sign", made, ""},
		{"valid", rs256(claims(nil)), ""},
		{"issued 20s in the future (clock skew)", rs256(claims(func(c jwt.MapClaims) { c["iat"] = now.Add(20 * time.Second).Unix() })), ""},
		{"alg none", sign(claims(nil), jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), "RS256"},
		{"HS256 keyed with the public key", sign(claims(nil), jwt.SigningMethodHS256, pub, nil), "RS256"},
		{"no kid", sign(claims(nil), jwt.SigningMethodRS256, key.PrivateKey, func(tk *jwt.Token) { delete(tk.Header, "kid") }), "kid"},
		{"unknown kid", sign(claims(nil), jwt.SigningMethodRS256, key.PrivateKey, func(tk *jwt.Token) { tk.Header["kid"] = "key-2" }), "not one of"},
		{"signed by another account's key", sign(claims(nil), jwt.SigningMethodRS256, other.PrivateKey, nil), "signature is not valid"},
		{"expired", rs256(claims(func(c jwt.MapClaims) { c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix() })), "expired"},
		{"not yet valid", rs256(claims(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(10*time.Minute).Unix(), now.Add(20*time.Minute).Unix()
		})), "not valid yet"},
		{"lives more than an hour", rs256(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(2 * time.Hour).Unix() })), "at most one hour"},
		{"no iat", rs256(claims(func(c jwt.MapClaims) { delete(c, "iat") })), "iat and exp"},
		{"wrong audience", rs256(claims(func(c jwt.MapClaims) { c["aud"] = "https://evil.example.com" })), "audience"},
		{"sub is not iss", rs256(claims(func(c jwt.MapClaims) { c["sub"] = "someone@example.com" })), "sub"},
		{"not a service account issuer", rs256(claims(func(c jwt.MapClaims) { c["iss"], c["sub"] = "alice@example.com", "alice@example.com" })), "not accepted"},
		{"tampered payload", func() string {
			parts := strings.Split(rs256(claims(nil)), ".")
			p, _ := json.Marshal(claims(func(c jwt.MapClaims) { c["aud"] = audience + "/" }))
			parts[1] = base64.RawURLEncoding.EncodeToString(p)
			return strings.Join(parts, ".")
		}(), "audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			who, err := v.Verify(context.Background(), tt.token)
			if tt.want == "" {
				if err != nil || who.Email != saEmail || who.Via != "service-account" {
					t.Fatalf("Verify = %+v, %v", who, err)
				}
				return
			}
			if !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify = %v, want unauthenticated mentioning %q", err, tt.want)
			}
		})
	}
}

func TestServiceAccountKeysAreCachedByMaxAge(t *testing.T) {
	t.Parallel()
	keys := newSAKeyServer(t)
	key := mustParseKey(t, keys.newKey(t, saEmail, "key-1"))
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	v := newSAVerifier(t, keys, now)
	verify := func() {
		t.Helper()
		token, _ := key.Sign(audience, now())
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}

	// Concurrent first requests share one fetch.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); verify() }()
	}
	wg.Wait()
	for range 20 {
		verify()
	}
	if n := keys.fetchesOf(saEmail); n != 1 {
		t.Fatalf("%d fetches for 40 verifications within max-age, want 1", n)
	}
	clock.Add(601) // past max-age=600
	verify()
	if n := keys.fetchesOf(saEmail); n != 2 {
		t.Errorf("%d fetches after max-age, want 2", n)
	}
}

func TestUnknownServiceAccountsAreRememberedBriefly(t *testing.T) {
	t.Parallel()
	keys := newSAKeyServer(t)
	stranger := "ghost@data-platform.iam.gserviceaccount.com"
	file := newSAKeyServer(t).newKey(t, stranger, "key-1") // published on another server only
	key := mustParseKey(t, file)
	v := newSAVerifier(t, keys, nil)
	for range 5 {
		token, _ := key.Sign(audience, time.Now())
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), "no public keys") {
			t.Fatalf("Verify for an account without keys = %v", err)
		}
	}
	if n := keys.fetchesOf(stranger); n != 1 {
		t.Errorf("%d fetches for 5 tokens of an unknown account, want 1", n)
	}
}

func TestServiceAccountKeyOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	keys := newSAKeyServer(t)
	key := mustParseKey(t, keys.newKey(t, saEmail, "key-1"))
	keys.status.Store(http.StatusInternalServerError)
	v := newSAVerifier(t, keys, nil)
	token, _ := key.Sign(audience, time.Now())
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, failure.ErrUnavailable) {
		t.Fatalf("Verify while Google's keys answer 500 = %v, want ErrUnavailable", err)
	}
	keys.status.Store(0)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("a failed fetch was cached: %v", err)
	}
}

func TestParseServiceAccountKeyRejectsOtherFiles(t *testing.T) {
	t.Parallel()
	for _, file := range []string{`{}`, `{"type":"authorized_user","client_id":"x"}`, `{"type":"service_account","private_key_id":"k","client_email":"a@b.iam.gserviceaccount.com","private_key":"nope"}`, `not json`} {
		if _, err := auth.ParseServiceAccountKey([]byte(file)); err == nil {
			t.Errorf("ParseServiceAccountKey(%s) succeeded", file)
		}
	}
}
