package auth_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// TestClockSkewIsTheSameForEveryKind: each kind of token (Google ID token,
// a service account's own, dev) is accepted up to auth.ClockSkew past its
// exp and before its iat, and refused beyond with a message that says so.
// Google's used to be refused as soon as it expired, as "signature not
// valid".
func TestClockSkewIsTheSameForEveryKind(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	keys := newSAKeyServer(t)
	sa := mustParseKey(t, keys.newKey(t, saEmail, "key-1"))
	devKey, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// The verifier's clock stands still at the real time (Google's library,
	// which verified Google tokens before, read the real clock).
	now := time.Now().Truncate(time.Second)
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Audiences: []string{audience}, DevKey: devKey.Public().(ed25519.PublicKey),
		ServiceAccountKeysURL: keys.server.URL + "/jwk/{email}", HTTPClient: g.client(),
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}

	// Each kind signs a token valid from iat for an hour.
	kinds := map[string]func(iat time.Time) string{
		"google": func(iat time.Time) string { return g.sign(t, idClaims(iat), nil) },
		"service account": func(iat time.Time) string {
			s, err := sa.Sign(audience, iat)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"dev": func(iat time.Time) string {
			s, err := auth.SignDevToken(devKey, "dev@runway.local", iat, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	cases := []struct {
		name string
		iat  time.Time
		want string // part of the refusal; "" when accepted
	}{
		{"expired 10 s ago", now.Add(-time.Hour - 10*time.Second), ""},
		{"expired 40 s ago", now.Add(-time.Hour - 40*time.Second), "expired"},
		{"issued 10 s in the future", now.Add(10 * time.Second), ""},
		{"issued 40 s in the future", now.Add(40 * time.Second), "not valid yet"},
	}
	for kind, sign := range kinds {
		for _, tc := range cases {
			who, err := v.Verify(context.Background(), sign(tc.iat))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s token %s: refused: %v", kind, tc.name, err)
			case tc.want == "" && who.Email == "":
				t.Errorf("%s token %s: no caller", kind, tc.name)
			case tc.want != "" && (!errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s token %s: %v, want unauthenticated saying %q", kind, tc.name, err, tc.want)
			}
		}
	}
	// A stale token costs no key fetch.
	if n := g.fetches.Load(); n != 1 {
		t.Errorf("%d fetches of Google's keys, want 1", n)
	}
}

// TestGoogleTokenTimesAreCheckedBeforeKeys: an expired Google token is
// refused as expired even while Google's keys are unreachable (a 401, not
// a 503), and a valid one then is a 503.
func TestGoogleTokenTimesAreCheckedBeforeKeys(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	now := time.Now()
	stale := idClaims(now.Add(-2 * time.Hour))
	expired, valid := g.sign(t, stale, nil), g.sign(t, idClaims(now), nil)
	g.server.Close()
	v := newVerifier(t, g, nil)
	if _, err := v.Verify(context.Background(), expired); !errors.Is(err, failure.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired token with Google's keys unreachable: %v, want unauthenticated saying it expired", err)
	}
	if _, err := v.Verify(context.Background(), valid); !errors.Is(err, failure.ErrUnavailable) {
		t.Errorf("a valid token with Google's keys unreachable: %v, want unavailable", err)
	}
}
