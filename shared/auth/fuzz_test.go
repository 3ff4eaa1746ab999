package auth_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// FuzzVerify feeds arbitrary bearer tokens to a Verifier that accepts
// every kind (Google ID tokens, service account tokens, dev tokens), with
// keys served locally: nothing panics, nothing but the seeded valid tokens
// passes, and every refusal is a failure.Error that never echoes the token.
func FuzzVerify(f *testing.F) {
	g := newGoogleKeys(f)
	keys := newSAKeyServer(f)
	sa := mustParseKey(f, keys.newKey(f, saEmail, "key-1"))
	devKey, err := auth.LoadOrCreateDevKey(filepath.Join(f.TempDir(), "dev.pem"))
	if err != nil {
		f.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Audiences: []string{audience}, DevKey: devKey.Public().(ed25519.PublicKey),
		ServiceAccountKeysURL: keys.server.URL + "/jwk/{email}", HTTPClient: g.client(),
	})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	valid := map[string]bool{}
	google := g.sign(f, idClaims(now), nil)
	self, _ := sa.Sign(audience, now)
	dev, _ := auth.SignDevToken(devKey, "dev@runway.local", now, time.Hour)
	for _, token := range []string{google, self, dev} {
		valid[token] = true
		f.Add(token)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, idClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, token := range []string{none, "", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", strings.Repeat("A", 5000)} {
		f.Add(token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		who, err := v.Verify(context.Background(), token)
		if valid[token] && err != nil {
			t.Fatalf("a seeded valid token was refused: %v", err)
		}
		if err == nil {
			if !valid[token] || who.Email == "" {
				t.Fatalf("%q verified as %+v", token, who)
			}
			return
		}
		var authErr *failure.Error
		if !errors.As(err, &authErr) || !(errors.Is(err, failure.ErrUnauthenticated) || errors.Is(err, failure.ErrUnavailable)) {
			t.Fatalf("%q: %T %v is not an authentication error", token, err, err)
		}
		if len(token) > 16 && strings.Contains(authErr.Message, token) {
			t.Fatalf("the message echoes the token: %q", authErr.Message)
		}
	})
}
