package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// ClockSkew is how far the issuer's clock may be ahead of ours when we
// check iat and nbf, and behind ours when we check exp.
const ClockSkew = 30 * time.Second

// googleIssuers are the issuers of Google-signed ID tokens. idtoken does not
// check the issuer, so Verify does.
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
	// HTTPClient fetches Google's public keys. Tests point it at a local
	// server; nil means the default client.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens. One Verifier per process: it caches
// Google's public keys for as long as Google's Cache-Control allows.
type Verifier struct {
	audiences       map[string]bool
	google          *idtoken.Validator
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
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// Wrap the transport so that a failed key fetch is told apart from a
	// bad token (the first is a 503, the second a 401), and so that the
	// requests of a new instance's first burst, which all miss the empty
	// key cache, share one fetch: idtoken's cache does not coalesce them.
	client = &http.Client{Transport: fetchProbe{next: &coalescing{next: client.Transport}}, Timeout: client.Timeout}
	validator, err := idtoken.NewValidator(ctx, option.WithHTTPClient(client))
	if err != nil {
		return nil, fmt.Errorf("auth: new ID token validator: %w", err)
	}
	v.google = validator
	keysURL := cfg.ServiceAccountKeysURL
	if keysURL == "" {
		keysURL = DefaultServiceAccountKeysURL
	}
	if !strings.Contains(keysURL, "{email}") {
		return nil, fmt.Errorf("auth: the service account keys URL %q has no {email}", keysURL)
	}
	v.serviceAccounts = &serviceAccountKeys{url: keysURL, client: client, now: v.now, cache: map[string]keySet{}}
	return v, nil
}

// Authenticate verifies the request's bearer token.
func (v *Verifier) Authenticate(r *http.Request) (Caller, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return Caller{}, &Error{Kind: ErrUnauthenticated, Missing: true,
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
		caller, err = v.verifyGoogle(ctx, token, parsed.Header, claims, func(aud string) bool { return v.audiences[aud] })
	case serviceAccountEmail.MatchString(iss):
		caller, err = v.verifyServiceAccount(ctx, token, parsed.Header, claims)
	case iss == DevIssuer:
		caller, err = v.verifyDev(token)
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

func (v *Verifier) verifyGoogle(ctx context.Context, token string, header map[string]any, claims jwt.MapClaims, acceptAudience func(string) bool) (Caller, error) {
	// Google ID tokens are RS256. idtoken would also accept ES256 (IAP
	// tokens, another issuer), so refuse anything else before it looks.
	if alg, _ := header["alg"].(string); alg != "RS256" {
		return Caller{}, unauthenticated(fmt.Sprintf("Google ID tokens must be signed with RS256, not %q", truncate(alg, 20)), nil)
	}
	aud, _ := claims["aud"].(string)
	if !acceptAudience(aud) {
		return Caller{}, unauthenticated(fmt.Sprintf("the token's audience %q is not this API's", truncate(aud, 200)), nil)
	}
	if exp, err := claims.GetExpirationTime(); err != nil || exp == nil {
		return Caller{}, unauthenticated("the token has no valid exp claim", err)
	} else if v.now().After(exp.Add(ClockSkew)) {
		return Caller{}, unauthenticated("the token expired at "+exp.UTC().Format(time.RFC3339), nil)
	}
	probe := &probeResult{}
	if _, err := v.google.Validate(withProbe(ctx, probe), token, aud); err != nil {
		if probe.err != nil {
			return Caller{}, &Error{Kind: ErrUnavailable, Message: "Google's public keys could not be fetched; retry later", Err: probe.err}
		}
		return Caller{}, unauthenticated("the token's signature is not valid", err)
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

func (v *Verifier) verifyDev(token string) (Caller, error) {
	if v.dev == nil {
		return Caller{}, unauthenticated("dev tokens are accepted only when the API runs in dev mode", nil)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(DevIssuer),
		jwt.WithAudience(DevIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(v.now),
	).ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.dev, nil })
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

// fetchProbe records transport failures and non-200 answers in the probe
// carried by the request's context.
type fetchProbe struct{ next http.RoundTripper }

type probeResult struct{ err error }

type probeKey struct{}

func withProbe(ctx context.Context, p *probeResult) context.Context {
	return context.WithValue(ctx, probeKey{}, p)
}

func (f fetchProbe) RoundTrip(req *http.Request) (*http.Response, error) {
	next := f.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if p, ok := req.Context().Value(probeKey{}).(*probeResult); ok {
		switch {
		case err != nil:
			p.err = err
		case resp.StatusCode != http.StatusOK:
			p.err = fmt.Errorf("GET %s: status %d", req.URL.Redacted(), resp.StatusCode)
		}
	}
	return resp, err
}

// coalescing makes concurrent GETs of one URL a single round trip, each
// caller getting its own copy of the answer.
type coalescing struct {
	next  http.RoundTripper
	group singleflight.Group
}

// maxKeysBytes bounds a key set's body.
const maxKeysBytes = 1 << 20

type fetched struct {
	status int
	header http.Header
	body   []byte
}

func (c *coalescing) RoundTrip(req *http.Request) (*http.Response, error) {
	next := c.next
	if next == nil {
		next = http.DefaultTransport
	}
	if req.Method != http.MethodGet {
		return next.RoundTrip(req)
	}
	ch := c.group.DoChan(req.URL.String(), func() (any, error) {
		// The fetch serves every caller waiting for it, so the first
		// caller's request ending (a client gone away) must not fail the
		// others: it gets a context of its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), fetchTimeout)
		defer cancel()
		resp, err := next.RoundTrip(req.Clone(ctx))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBytes))
		if err != nil {
			return nil, err
		}
		return fetched{status: resp.StatusCode, header: resp.Header, body: body}, nil
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	if res.Err != nil {
		return nil, res.Err
	}
	f := res.Val.(fetched)
	return &http.Response{
		Status: fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)), StatusCode: f.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: f.header.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)), ContentLength: int64(len(f.body)),
		Request: req,
	}, nil
}

// RequireCaller returns the check of functions that only Google calls on
// Runway's behalf (Pub/Sub push subscriptions, Cloud Scheduler): the
// request's token must be a Google ID token of one of emails.
//
// Such tokens are issued for the function's own URL, which Cloud Run's
// invoker check requires (and checks exactly, before the request reaches
// Runway); so besides the API's audiences, the URL of a Cloud Run service
// or Cloud Function is accepted here.
func (v *Verifier) RequireCaller(emails []string) func(*http.Request) error {
	allowed := map[string]bool{}
	for _, e := range emails {
		allowed[strings.ToLower(e)] = true
	}
	acceptAudience := func(aud string) bool { return v.audiences[aud] || isFunctionURL(aud) }
	return func(r *http.Request) error {
		header := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(header, " ")
		if header == "" || !strings.EqualFold(scheme, "Bearer") {
			return &Error{Kind: ErrUnauthenticated, Missing: header == "", Message: "this function takes a Google ID token: Authorization: Bearer <token>"}
		}
		claims := jwt.MapClaims{}
		parsed, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(token), claims)
		if err != nil {
			return unauthenticated("the bearer token is not a well-formed JWT", err)
		}
		if iss, _ := claims["iss"].(string); !googleIssuers[iss] {
			return forbidden("this function takes Google ID tokens of RUNWAY_SYSTEM_CALLERS only")
		}
		who, err := v.verifyGoogle(r.Context(), strings.TrimSpace(token), parsed.Header, claims, acceptAudience)
		if err != nil {
			return err
		}
		if !allowed[strings.ToLower(who.Email)] {
			return forbidden(who.Email + " may not call this function: it is not one of RUNWAY_SYSTEM_CALLERS")
		}
		return nil
	}
}

// isFunctionURL reports whether aud is the https URL of a Cloud Run service
// or a Cloud Function.
func isFunctionURL(aud string) bool {
	u, err := url.Parse(aud)
	return err == nil && u.Scheme == "https" &&
		(strings.HasSuffix(u.Hostname(), ".run.app") || strings.HasSuffix(u.Hostname(), ".cloudfunctions.net"))
}
