package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/failure"
)

func TestVerifiedTokens(t *testing.T) {
	var c verifiedTokens
	now := time.Now()
	alice := Caller{Email: "alice@example.com", Via: "google"}
	c.put("token-a", alice, now.Add(time.Minute), now)
	c.put("token-b", alice, now.Add(time.Hour), now)
	for name, tc := range map[string]struct {
		token string
		at    time.Time
		want  bool
	}{
		"remembered":               {"token-a", now.Add(30 * time.Second), true},
		"expired":                  {"token-a", now.Add(time.Minute), false},
		"at most verifiedAge":      {"token-b", now.Add(verifiedAge), false},
		"within verifiedAge":       {"token-b", now.Add(verifiedAge - time.Second), true},
		"another token":            {"token-c", now, false},
		"a token differing by one": {"token-", now, false},
	} {
		if got, ok := c.get(tc.token, tc.at); ok != tc.want || (ok && got != alice) {
			t.Errorf("%s: get = %+v, %v; want %v", name, got, ok, tc.want)
		}
	}
	// Past the bound, expired entries go first, then everything.
	for i := range maxVerified + 10 {
		c.put(fmt.Sprint("flood-", i), alice, now.Add(time.Minute), now)
	}
	if n := len(c.callers); n > maxVerified {
		t.Errorf("%d tokens remembered, at most %d", n, maxVerified)
	}
}

// TestVerifyRemembersOnlyValidTokens: a refused token is verified again
// each time, and a remembered one is refused once expired.
func TestVerifyRemembersOnlyValidTokens(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	v, err := NewVerifier(context.Background(), VerifierConfig{DevKey: pub, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := SignDevToken(key, "dev@runway.local", now, time.Minute)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.verified.get(token, now); !ok {
		t.Error("a valid token was not remembered")
	}
	now = now.Add(time.Minute + ClockSkew + time.Second)
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, failure.ErrUnauthenticated) {
		t.Errorf("an expired remembered token: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := SignDevToken(other, "dev@runway.local", now, time.Minute)
	for range 2 {
		if _, err := v.Verify(context.Background(), forged); !errors.Is(err, failure.ErrUnauthenticated) {
			t.Errorf("a forged token: %v", err)
		}
	}
	if _, ok := v.verified.get(forged, now); ok {
		t.Error("a refused token was remembered")
	}
}
