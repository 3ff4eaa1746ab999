package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/runwaydata/runway/shared/failure"
)

// ClockSkew is how far the issuer's clock may be ahead of ours when we
// check iat and nbf, and behind ours when we check exp. It applies alike
// to every kind of token: Google's, service accounts' own and dev ones.
const ClockSkew = 30 * time.Second

// googleIssuers are the issuers of Google-signed ID tokens.
var googleIssuers = map[string]bool{
	"accounts.google.com":         true,
	"https://accounts.google.com": true,
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Audiences are the API's URLs: a Google ID token must be issued for
	// one of them.
	Audiences []string
	// DevKey, when set, makes tokens signed by the dev key acceptable. It
	// is set only in dev mode.
	DevKey ed25519.PublicKey
	// ServiceAccountKeysURL is where a service account's public keys are
	// published, with {email} in place of the account; empty means
	// DefaultServiceAccountKeysURL. Tests serve keys locally.
	ServiceAccountKeysURL string
	// GoogleCertsURL is where Google's ID token signing keys are
	// published; empty means DefaultGoogleCertsURL.
	GoogleCertsURL string
	// IAPKeysURL is where Identity-Aware Proxy's signing keys are
	// published; empty means DefaultIAPKeysURL. Tests serve keys locally.
	IAPKeysURL string
	// UnknownAccountFetchRate and UnknownAccountFetchBurst bound the key
	// fetches for service accounts whose keys are not cached (per second,
	// after a burst); 0 means DefaultUnknownAccountFetchRate and
	// DefaultUnknownAccountFetchBurst.
	UnknownAccountFetchRate  rate.Limit
	UnknownAccountFetchBurst int
	// HTTPClient fetches Google's public keys. Tests point it at a local
	// server; nil means the default client.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens. One Verifier per process: it caches
// Google's public keys for as long as Google's Cache-Control allows.
//
// Every kind of token is verified the same way, with golang-jwt against
// keys Runway fetches and caches itself: the same clock, the same
// ClockSkew and the same messages for all.
type Verifier struct {
	audiences       map[string]bool
	google          *googleCerts
	iap             *googleCerts // IAP's keys, which sign the board's assertions
	serviceAccounts *serviceAccountKeys
	dev             ed25519.PublicKey
	verified        verifiedTokens
	now             func() time.Time
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{audiences: map[string]bool{}, dev: cfg.DevKey, now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	for _, aud := range cfg.Audiences {
		v.audiences[aud] = true
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	certsURL := cfg.GoogleCertsURL
	if certsURL == "" {
		certsURL = DefaultGoogleCertsURL
	}
	v.google = &googleCerts{url: certsURL, client: client, now: v.now}
	iapURL := cfg.IAPKeysURL
	if iapURL == "" {
		iapURL = DefaultIAPKeysURL
	}
	v.iap = &googleCerts{url: iapURL, client: client, now: v.now}
	keysURL := cfg.ServiceAccountKeysURL
	if keysURL == "" {
		keysURL = DefaultServiceAccountKeysURL
	}
	if !strings.Contains(keysURL, "{email}") {
		return nil, fmt.Errorf("auth: the service account keys URL %q has no {email}", keysURL)
	}
	fetchRate, burst := cfg.UnknownAccountFetchRate, cfg.UnknownAccountFetchBurst
	if fetchRate <= 0 {
		fetchRate = DefaultUnknownAccountFetchRate
	}
	if burst <= 0 {
		burst = DefaultUnknownAccountFetchBurst
	}
	v.serviceAccounts = newServiceAccountKeys(keysURL, client, v.now, fetchRate, burst)
	return v, nil
}

// Authenticate verifies the request's bearer token.
func (v *Verifier) Authenticate(r *http.Request) (Caller, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return Caller{}, &failure.Error{Kind: failure.ErrUnauthenticated, Missing: true,
			Message: "missing Authorization header; send Authorization: Bearer <token>"}
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Caller{}, unauthenticated("the Authorization header must be of the form: Bearer <token>", nil)
	}
	return v.Verify(r.Context(), strings.TrimSpace(token))
}

// Verify checks token and returns the caller it proves. The token's issuer
// says which kind it claims to be: a Google ID token, a token a service
// account signed itself, or a dev token; each kind is then verified in
// full against its own keys.
//
// A token verified once is taken on trust until it expires, for at most
// verifiedAge.
func (v *Verifier) Verify(ctx context.Context, token string) (Caller, error) {
	now := v.now()
	if caller, ok := v.verified.get(token, now); ok {
		return caller, nil
	}
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		return Caller{}, unauthenticated("the bearer token is not a well-formed JWT", err)
	}
	var caller Caller
	iss, _ := claims["iss"].(string)
	switch {
	case googleIssuers[iss]:
		caller, err = v.verifyGoogle(ctx, token, parsed.Header, claims, now, v.audiences, "this API's")
	case serviceAccountEmail.MatchString(iss):
		caller, err = v.verifyServiceAccount(ctx, token, parsed.Header, claims, now)
	case iss == DevIssuer:
		caller, err = v.verifyDev(token, claims, now)
	default:
		err = unauthenticated(fmt.Sprintf("tokens issued by %q are not accepted", truncate(iss, 80)), nil)
	}
	if err != nil {
		return Caller{}, err
	}
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		v.verified.put(token, caller, exp.Time, now)
	}
	return caller, nil
}

// checkTimes checks a token's exp (required), iat and nbf against now,
// allowing ClockSkew either way: one rule, and one message, for every kind
// of token. Verifiers check it before fetching any key, so a stale token
// costs no lookup; the signature check then applies the same rule again.
func checkTimes(claims jwt.MapClaims, now time.Time) error {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return unauthenticated("the token has no valid exp claim", err)
	}
	if now.After(exp.Add(ClockSkew)) {
		return unauthenticated(fmt.Sprintf("the token expired at %s, %s ago (clocks may differ by %s at most)",
			exp.UTC().Format(time.RFC3339), now.Sub(exp.Time).Truncate(time.Second), ClockSkew), jwt.ErrTokenExpired)
	}
	for _, c := range []struct {
		name  string
		get   func() (*jwt.NumericDate, error)
		cause error
	}{
		{"iat", claims.GetIssuedAt, jwt.ErrTokenUsedBeforeIssued},
		{"nbf", claims.GetNotBefore, jwt.ErrTokenNotValidYet},
	} {
		t, err := c.get()
		if err != nil {
			return unauthenticated("the token's "+c.name+" claim is not a time", err)
		}
		if t != nil && t.After(now.Add(ClockSkew)) {
			return unauthenticated(fmt.Sprintf("the token is not valid yet: its %s is %s, %s from now (is the signer's clock ahead? clocks may differ by %s at most)",
				c.name, t.UTC().Format(time.RFC3339), t.Sub(now).Truncate(time.Second), ClockSkew), c.cause)
		}
	}
	return nil
}

// verifyGoogle checks a Google-signed ID token: RS256 with one of Google's
// current keys, issued for one of audiences (whose names them in the
// refusal), within its lifetime give or take ClockSkew, with a verified
// email.
func (v *Verifier) verifyGoogle(ctx context.Context, token string, header map[string]any, claims jwt.MapClaims, now time.Time, audiences map[string]bool, whose string) (Caller, error) {
	// Google ID tokens are RS256 (IAP's are ES256, from another issuer).
	if alg, _ := header["alg"].(string); alg != "RS256" {
		return Caller{}, unauthenticated(fmt.Sprintf("Google ID tokens must be signed with RS256, not %q", truncate(alg, 20)), nil)
	}
	aud, _ := claims["aud"].(string)
	if !audiences[aud] {
		return Caller{}, unauthenticated(fmt.Sprintf("the token's audience %q is not %s", truncate(aud, 200), whose), nil)
	}
	if err := checkTimes(claims, now); err != nil {
		return Caller{}, err
	}
	kid, _ := header["kid"].(string)
	if kid == "" {
		return Caller{}, unauthenticated("the token has no kid header naming Google's key", nil)
	}
	key, err := v.google.key(ctx, kid)
	if err != nil {
		return Caller{}, err
	}
	if err := verifySigned(token, key, "RS256", now, "the token", jwt.WithAudience(aud)); err != nil {
		return Caller{}, err
	}
	email, _ := claims["email"].(string)
	if email == "" {
		return Caller{}, unauthenticated("the token has no email claim; request an ID token that includes the email", nil)
	}
	if !isTrue(claims["email_verified"]) {
		return Caller{}, unauthenticated("the token's email is not verified", nil)
	}
	return Caller{Email: email, Via: "google"}, nil
}

// verifySigned checks token's signature, made with alg, with key, and its
// exp and iat as checkTimes does, plus what opts ask (an audience, an
// issuer); what names the token in the refusal.
func verifySigned(token string, key any, alg string, now time.Time, what string, opts ...jwt.ParserOption) error {
	_, err := jwt.NewParser(append([]jwt.ParserOption{
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	}, opts...)...).Parse(token, func(*jwt.Token) (any, error) { return key, nil })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthenticated(what+"'s signature is not valid", err)
	}
	return unauthenticated(what+" is not valid: "+claimsProblem(err), err)
}

func (v *Verifier) verifyDev(token string, claims jwt.MapClaims, now time.Time) (Caller, error) {
	if v.dev == nil {
		return Caller{}, unauthenticated("dev tokens are accepted only when the API runs in dev mode", nil)
	}
	if err := checkTimes(claims, now); err != nil {
		var authErr *failure.Error
		if errors.Is(err, jwt.ErrTokenExpired) && errors.As(err, &authErr) {
			authErr.Message += "; make a new one with scripts/token --dev EMAIL"
		}
		return Caller{}, err
	}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(DevIssuer),
		jwt.WithAudience(DevIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	).Parse(token, func(*jwt.Token) (any, error) { return v.dev, nil })
	if err != nil {
		problem := claimsProblem(err)
		if errors.Is(err, jwt.ErrTokenExpired) {
			problem += "; make a new one with scripts/token --dev EMAIL"
		} else if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			problem += " (was it made with this machine's dev key?)"
		}
		return Caller{}, unauthenticated("the dev token is not valid: "+problem, err)
	}
	email, _ := claims["email"].(string)
	if email == "" {
		return Caller{}, unauthenticated("the dev token has no email claim", nil)
	}
	return Caller{Email: email, Via: "dev"}, nil
}

func isTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RequireCaller returns the check of a function that only Google calls on
// Runway's behalf (a Pub/Sub push subscription, Cloud Scheduler): the
// request's token must be a Google ID token of one of emails, issued for
// exactly one of audiences.
//
// audiences are the function's own URL(s), as configured
// (RUNWAY_PUSH_AUDIENCES): the value its push subscription or scheduler job
// sets as the OIDC token's audience. Cloud Run's invoker check verifies the
// audience too, before the request reaches Runway: it accepts the URLs of
// the service (its run.app URLs and, for a function made with the Cloud
// Functions v2 API, its cloudfunctions.net URL, the audience Google's
// Cloud Functions samples use) and its custom audiences. Checking it here
// as well keeps out a token minted for another function or another
// project's, should the invoker grants or ingress ever be wider than they
// are. The API's audiences are not accepted: those tokens are callers'.
func (v *Verifier) RequireCaller(emails, audiences []string) func(*http.Request) error {
	allowed := map[string]bool{}
	for _, e := range emails {
		allowed[strings.ToLower(e)] = true
	}
	accepted := map[string]bool{}
	for _, aud := range audiences {
		accepted[aud] = true
	}
	return func(r *http.Request) error {
		header := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(header, " ")
		if header == "" || !strings.EqualFold(scheme, "Bearer") {
			return &failure.Error{Kind: failure.ErrUnauthenticated, Missing: header == "", Message: "this function takes a Google ID token: Authorization: Bearer <token>"}
		}
		token = strings.TrimSpace(token)
		claims := jwt.MapClaims{}
		parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
		if err != nil {
			return unauthenticated("the bearer token is not a well-formed JWT", err)
		}
		if iss, _ := claims["iss"].(string); !googleIssuers[iss] {
			return forbidden("this function takes Google ID tokens of RUNWAY_SYSTEM_CALLERS only")
		}
		who, err := v.verifyGoogle(r.Context(), token, parsed.Header, claims, v.now(), accepted, "this function's URL (RUNWAY_PUSH_AUDIENCES)")
		if err != nil {
			return err
		}
		if !allowed[strings.ToLower(who.Email)] {
			return forbidden(who.Email + " may not call this function: it is not one of RUNWAY_SYSTEM_CALLERS")
		}
		return nil
	}
}
