package board_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/functions/board"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/stacktest"
)

const iapAudience = "/projects/123456789/global/backendServices/987654321"

// TestIAP: behind Identity-Aware Proxy the board takes IAP's assertion
// for its backend service, and nothing else; it has no sign-in page.
func TestIAP(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		point, _ := key.PublicKey.Bytes()
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
			"x": base64.RawURLEncoding.EncodeToString(point[1:33]), "y": base64.RawURLEncoding.EncodeToString(point[33:])}}})
	}))
	t.Cleanup(keys.Close)
	verifier, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{IAPKeysURL: keys.URL})
	if err != nil {
		t.Fatal(err)
	}
	env := s.Env
	h, err := board.New(board.Deps{Runs: env.Runs, Configs: env.Configs, Workflows: env.Workflows, Members: env.Store,
		Authz: env.Authorizer, Identity: board.IAP{Verifier: verifier, Audience: iapAudience}})
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(change map[string]any) string {
		now := time.Now()
		claims := jwt.MapClaims{"iss": auth.IAPIssuer, "aud": iapAudience, "email": stacktest.Admin,
			"sub": "accounts.google.com:1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		maps.Copy(claims, change)
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = "k1"
		signed, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	serve := func(method, path, assertion string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if assertion != "" {
			r.Header.Set(auth.IAPAssertionHeader, assertion)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve(http.MethodGet, "/board/000099/runs", assertion(nil)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), stacktest.Admin) {
		t.Errorf("with IAP's assertion: %d\n%s", w.Code, w.Body)
	}
	for name, a := range map[string]string{
		"no assertion":               "",
		"another backend service's":  assertion(map[string]any{"aud": "/projects/123456789/global/backendServices/1"}),
		"an expired one":             assertion(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
		"a dev token in their stead": s.Token(t, stacktest.Admin),
		"one of another issuer":      assertion(map[string]any{"iss": "https://accounts.google.com"}),
	} {
		if w := serve(http.MethodGet, "/board/000099/runs", a); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d\n%s", name, w.Code, w.Body)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if w := serve(method, "/board/signin", assertion(nil)); w.Code != http.StatusNotFound {
			t.Errorf("%s /board/signin behind IAP: %d", method, w.Code)
		}
	}
}

// TestBoardRoute: outside dev mode the Board function signs people in
// with IAP only, and does not start without the audience to check.
func TestBoardRoute(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	route, ok := runway.RouteFor("Board")
	if !ok || !route.IAP || route.Path != board.Root {
		t.Fatalf("the Board route: %+v", route)
	}
	env := *s.Env
	env.Config.AuthMode = config.AuthGoogle
	if _, err := route.Handler(&env); err == nil || !strings.Contains(err.Error(), "RUNWAY_IAP_AUDIENCE") {
		t.Fatalf("without RUNWAY_IAP_AUDIENCE: %v", err)
	}
	env.Config.IAPAudience = iapAudience
	h, err := route.Handler(&env)
	if err != nil {
		t.Fatal(err)
	}
	// The dev sign-in page is refused, whatever the token.
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := httptest.NewRequest(method, "/board/signin", strings.NewReader("token="+s.Token(t, stacktest.Admin)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s /board/signin in google mode: %d %v", method, w.Code, w.Header())
		}
	}
	// A dev token in the board's cookie is no sign-in either.
	r := httptest.NewRequest(http.MethodGet, "/board/000099/runs", nil)
	r.AddCookie(&http.Cookie{Name: "runway_board_token", Value: s.Token(t, stacktest.Admin)})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("a dev token cookie in google mode: %d", w.Code)
	}
}
