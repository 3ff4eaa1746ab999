package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

const iapAudience = "/projects/123456789/global/backendServices/987654321"

// iapKeys serves a JWKS in the format of IAP's public_key-jwk, and counts
// the fetches.
type iapKeys struct {
	key     *ecdsa.PrivateKey
	kid     string
	fetches atomic.Int64
	server  *httptest.Server
}

func newIAPKeys(t *testing.T) *iapKeys {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &iapKeys{key: key, kid: "iap-kid-1"}
	point, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	k.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fetches.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"alg": "ES256", "crv": "P-256", "kid": k.kid, "kty": "EC", "use": "sig",
			"x": base64.RawURLEncoding.EncodeToString(point[1:33]),
			"y": base64.RawURLEncoding.EncodeToString(point[33:]),
		}}})
	}))
	t.Cleanup(k.server.Close)
	return k
}

// assertion is the claims of a valid assertion for iapAudience at now.
func iapClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": auth.IAPIssuer, "aud": iapAudience, "sub": "accounts.google.com:1234",
		"email": "ada@example.com", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

func (k *iapKeys) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticateIAP(t *testing.T) {
	now := time.Now()
	keys := newIAPKeys(t)
	v, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{Audiences: []string{audience}, IAPKeysURL: keys.server.URL,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) string {
		claims := iapClaims(now)
		change(claims)
		return keys.sign(t, claims)
	}
	signedWith := func(method jwt.SigningMethod, key any, kid string) string {
		tok := jwt.NewWithClaims(method, iapClaims(now))
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name      string
		assertion string // "" for no header
		want      string // the caller's email, or a part of the refusal
		missing   bool
	}{
		{name: "valid", assertion: with(func(jwt.MapClaims) {}), want: "ada@example.com"},
		{name: "within the clock skew after exp", assertion: with(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() }), want: "ada@example.com"},
		{name: "missing header", want: "no X-Goog-Iap-Jwt-Assertion header", missing: true},
		{name: "wrong audience", assertion: with(func(c jwt.MapClaims) { c["aud"] = "/projects/123456789/global/backendServices/1" }), want: "is not this backend service"},
		{name: "an API audience", assertion: with(func(c jwt.MapClaims) { c["aud"] = audience }), want: "is not this backend service"},
		{name: "wrong issuer", assertion: with(func(c jwt.MapClaims) { c["iss"] = "https://accounts.google.com" }), want: "is not IAP"},
		{name: "expired", assertion: with(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), want: "expired"},
		{name: "not valid yet", assertion: with(func(c jwt.MapClaims) { c["iat"] = now.Add(5 * time.Minute).Unix() }), want: "not valid yet"},
		{name: "no exp", assertion: with(func(c jwt.MapClaims) { delete(c, "exp") }), want: "no valid exp"},
		{name: "no email", assertion: with(func(c jwt.MapClaims) { delete(c, "email") }), want: "no email"},
		{name: "signed by another key", assertion: signedWith(jwt.SigningMethodES256, other, keys.kid), want: "signature is not valid"},
		{name: "an unknown key", assertion: signedWith(jwt.SigningMethodES256, keys.key, "kid-2"), want: "is not one of Google's"},
		{name: "RS256", assertion: signedWith(jwt.SigningMethodRS256, rsaKey, keys.kid), want: "signed with ES256"},
		{name: "not a JWT", assertion: "not.a.jwt", want: "not a well-formed JWT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/board/", nil)
			if tc.assertion != "" {
				r.Header.Set(auth.IAPAssertionHeader, tc.assertion)
			}
			who, err := v.AuthenticateIAP(r, iapAudience)
			if !strings.Contains(tc.want, "@") {
				var authErr *failure.Error
				if !errors.As(err, &authErr) || !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(authErr.Message, tc.want) {
					t.Fatalf("AuthenticateIAP = %+v, %v; want a refusal saying %q", who, err, tc.want)
				}
				if authErr.Missing != tc.missing {
					t.Errorf("Missing = %v, want %v", authErr.Missing, tc.missing)
				}
				return
			}
			if err != nil || who.Email != tc.want || who.Via != "iap" {
				t.Fatalf("AuthenticateIAP = %+v, %v; want %s via iap", who, err, tc.want)
			}
		})
	}
	if n := keys.fetches.Load(); n != 1 {
		t.Errorf("IAP's keys were fetched %d times, want once (cached)", n)
	}
}

// TestAuthenticateIAPKeysUnavailable: when IAP's keys cannot be fetched,
// the answer says to retry (503), not that the assertion is bad.
func TestAuthenticateIAPKeysUnavailable(t *testing.T) {
	keys := newIAPKeys(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	v, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{IAPKeysURL: down.URL})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/board/", nil)
	r.Header.Set(auth.IAPAssertionHeader, keys.sign(t, iapClaims(time.Now())))
	if _, err := v.AuthenticateIAP(r, iapAudience); !errors.Is(err, failure.ErrUnavailable) {
		t.Fatalf("AuthenticateIAP = %v, want ErrUnavailable", err)
	}
	// A bearer token in the assertion header is no assertion.
	r.Header.Set(auth.IAPAssertionHeader, "Bearer x")
	if _, err := v.AuthenticateIAP(r, ""); !errors.Is(err, failure.ErrUnauthenticated) {
		t.Fatalf("AuthenticateIAP without an audience = %v, want ErrUnauthenticated", err)
	}
}
