package runway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/stacktest"
)

// TestSystemCallersNeedTheirFunctionsOwnURL: each Pub/Sub-fed or scheduled
// function takes the system callers' Google ID tokens issued for its own
// URL in RUNWAY_PUSH_AUDIENCES, and refuses those issued for another
// function's; with system callers but no URL for it, it does not start.
func TestSystemCallersNeedTheirFunctionsOwnURL(t *testing.T) {
	s := stacktest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	certs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	defer certs.Close()
	const caller = "push@p.iam.gserviceaccount.com"
	token := func(aud string) string {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": "https://accounts.google.com", "aud": aud, "sub": "1", "email": caller, "email_verified": true,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		tok.Header["kid"] = "k1"
		signed, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	url := func(function string) string {
		return "https://europe-west1-p.cloudfunctions.net/runway-" + strings.ToLower(function)
	}

	env := *s.Env
	env.Config.SystemCallers = []string{caller}
	if env.Verifier, err = auth.NewVerifier(context.Background(), auth.VerifierConfig{GoogleCertsURL: certs.URL}); err != nil {
		t.Fatal(err)
	}
	var system []runway.Route
	env.Config.PushAudiences = map[string][]string{}
	for _, r := range runway.Routes {
		if r.Topic != nil || r.Schedule != "" {
			system = append(system, r)
			env.Config.PushAudiences[r.Function] = []string{url(r.Function)}
		}
	}
	if len(system) < 2 {
		t.Fatalf("%d Pub/Sub-fed or scheduled functions, want at least 2", len(system))
	}
	for i, r := range system {
		h, err := r.Handler(&env)
		if err != nil {
			t.Fatalf("%s: %v", r.Function, err)
		}
		call := func(aud string) int {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+token(aud))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w.Code
		}
		other := system[(i+1)%len(system)].Function
		if code := call(url(other)); code != http.StatusUnauthorized {
			t.Errorf("%s with a token for %s's URL: %d, want 401", r.Function, other, code)
		}
		if code := call(url(r.Function)); code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Errorf("%s with a token for its own URL: %d", r.Function, code)
		}
	}

	none := env
	none.Config.PushAudiences = nil
	for _, r := range system {
		if _, err := r.Handler(&none); err == nil || !strings.Contains(err.Error(), "RUNWAY_PUSH_AUDIENCES") {
			t.Errorf("%s with system callers but no URL: %v, want an error naming RUNWAY_PUSH_AUDIENCES", r.Function, err)
		}
	}
}
