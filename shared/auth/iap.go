package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/failure"
)

// Identity-Aware Proxy signs people in to the board where Runway is
// deployed: the load balancer lets through only the people IAP admits, and
// passes each of their requests on with an assertion of who they are, a
// JWT that IAP signs (ES256) for the backend service it guards.
const (
	// IAPAssertionHeader carries IAP's assertion.
	IAPAssertionHeader = "X-Goog-Iap-Jwt-Assertion"
	// IAPIssuer is the issuer of IAP's assertions.
	IAPIssuer = "https://cloud.google.com/iap"
	// DefaultIAPKeysURL is where IAP publishes the keys that sign its
	// assertions, as a JWKS.
	DefaultIAPKeysURL = "https://www.gstatic.com/iap/verify/public_key-jwk"
)

// AuthenticateIAP verifies the IAP assertion of r, which must be issued for
// audience: "/projects/NUMBER/global/backendServices/ID", the backend
// service that IAP guards (RUNWAY_IAP_AUDIENCE). An assertion for another
// backend service, or a token of another kind, is refused: only IAP in
// front of this very service vouches for the person.
func (v *Verifier) AuthenticateIAP(r *http.Request, audience string) (Caller, error) {
	token := r.Header.Get(IAPAssertionHeader)
	if token == "" {
		return Caller{}, &failure.Error{Kind: failure.ErrUnauthenticated, Missing: true,
			Message: "the request has no " + IAPAssertionHeader + " header: the board is reached through Identity-Aware Proxy only"}
	}
	if audience == "" {
		return Caller{}, unauthenticated("no IAP audience is configured (RUNWAY_IAP_AUDIENCE): no assertion can be accepted", nil)
	}
	return v.verifyIAP(r.Context(), token, audience, v.now())
}

// verifyIAP checks an IAP assertion: ES256 with one of IAP's current keys,
// issued by IAP for audience, within its lifetime give or take ClockSkew,
// with an email. Assertions are not cached as bearer tokens are: each one
// is checked for its audience.
func (v *Verifier) verifyIAP(ctx context.Context, token, audience string, now time.Time) (Caller, error) {
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		return Caller{}, unauthenticated("the IAP assertion is not a well-formed JWT", err)
	}
	if alg, _ := parsed.Header["alg"].(string); alg != jwt.SigningMethodES256.Alg() {
		return Caller{}, unauthenticated(fmt.Sprintf("IAP assertions are signed with ES256, not %q", truncate(alg, 20)), nil)
	}
	if iss, _ := claims["iss"].(string); iss != IAPIssuer {
		return Caller{}, unauthenticated(fmt.Sprintf("the assertion's issuer %q is not IAP (%s)", truncate(iss, 80), IAPIssuer), nil)
	}
	if aud, _ := claims["aud"].(string); aud != audience {
		return Caller{}, unauthenticated(fmt.Sprintf("the assertion's audience %q is not this backend service (%s)", truncate(aud, 200), audience), nil)
	}
	if err := checkTimes(claims, now); err != nil {
		return Caller{}, err
	}
	kid, _ := parsed.Header["kid"].(string)
	if kid == "" {
		return Caller{}, unauthenticated("the assertion has no kid header naming IAP's key", nil)
	}
	key, err := v.iap.key(ctx, kid)
	if err != nil {
		return Caller{}, err
	}
	err = verifySigned(token, key, jwt.SigningMethodES256.Alg(), now, "the assertion", jwt.WithIssuer(IAPIssuer), jwt.WithAudience(audience))
	if err != nil {
		return Caller{}, err
	}
	email, _ := claims["email"].(string)
	if email == "" {
		return Caller{}, unauthenticated("the assertion has no email claim", nil)
	}
	return Caller{Email: email, Via: "iap"}, nil
}
