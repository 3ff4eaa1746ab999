package board

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// Identity says who sends a request to the board.
type Identity interface {
	Identify(r *http.Request) (auth.Caller, error)
}

// IAP identifies people by the assertion of Identity-Aware Proxy, which
// guards the board's backend service where Runway is deployed.
type IAP struct {
	Verifier *auth.Verifier
	// Audience is the backend service, /projects/NUM/global/backendServices/ID.
	Audience string
}

// Identify implements Identity.
func (i IAP) Identify(r *http.Request) (auth.Caller, error) {
	return i.Verifier.AuthenticateIAP(r, i.Audience)
}

// DevSignIn identifies people by the dev token the board's sign-in page
// keeps in a cookie: the local stack's sign-in. The page exists only with
// it, and its Verifier accepts dev tokens only in dev mode.
type DevSignIn struct {
	Verifier *auth.Verifier
}

// Identify implements Identity.
func (d DevSignIn) Identify(r *http.Request) (auth.Caller, error) {
	c, err := r.Cookie(tokenCookie)
	if err != nil {
		return auth.Caller{}, &failure.Error{Kind: failure.ErrUnauthenticated, Missing: true, Message: "not signed in"}
	}
	return d.verify(r, c.Value)
}

func (d DevSignIn) verify(r *http.Request, token string) (auth.Caller, error) {
	who, err := d.Verifier.Verify(r.Context(), token)
	if err == nil && who.Via != "dev" {
		err = &failure.Error{Kind: failure.ErrUnauthenticated, Message: "the board's sign-in takes dev tokens only (go run ./scripts/token --dev EMAIL)"}
	}
	return who, err
}

// The board's cookies: the dev sign-in's token, and the CSRF token its
// forms carry. Both are for the board's pages only, never sent by another
// site's page (SameSite) and never read by a script (HttpOnly).
const (
	tokenCookie = "runway_board_token"
	csrfCookie  = "runway_board_csrf"
	csrfField   = "csrf"
)

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: Root, Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		// Over HTTPS (the load balancer says so), only over HTTPS; the
		// local stack serves plain HTTP.
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
}

// csrfToken returns the CSRF token the page's forms carry: the browser's
// CSRF cookie, set now if it has none.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	token := base64.RawURLEncoding.EncodeToString(b)
	setCookie(w, r, csrfCookie, token, time.Time{})
	return token
}

// checkCSRF refuses a form whose token is not the browser's CSRF cookie:
// a page of another site cannot read the cookie, nor make the browser send
// it (SameSite=Strict).
func checkCSRF(r *http.Request) error {
	c, err := r.Cookie(csrfCookie)
	form := r.PostFormValue(csrfField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		return api.Errorf(http.StatusForbidden, "this form was not sent from a page of the board, or the page is too old: reload it and try again")
	}
	return nil
}

// signInPage is the local stack's sign-in: a dev token, pasted.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if !h.devSignIn() {
		h.fail(w, r, noSignIn())
		return
	}
	h.render(w, r, http.StatusOK, "signin", page{Title: "Sign in", CSRF: csrfToken(w, r), Data: signInView{Next: nextPage(r.URL.Query().Get("next"))}})
}

type signInView struct {
	Next    string
	Problem string
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	dev, ok := h.deps.Identity.(DevSignIn)
	if !ok {
		h.fail(w, r, noSignIn())
		return
	}
	if err := checkCSRF(r); err != nil {
		h.fail(w, r, err)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := nextPage(r.PostFormValue("next"))
	who, err := dev.verify(r, token)
	if err != nil {
		view := signInView{Next: next, Problem: api.FromError(err).Message}
		h.render(w, r, http.StatusUnauthorized, "signin", page{Title: "Sign in", CSRF: csrfToken(w, r), Data: view})
		return
	}
	logging.Annotate(r.Context(), slog.String("caller", who.Email))
	// The cookie lasts as long as the token, which Verify found has an exp.
	var claims jwt.RegisteredClaims
	var expires time.Time
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err == nil && claims.ExpiresAt != nil {
		expires = claims.ExpiresAt.Time
	}
	setCookie(w, r, tokenCookie, token, expires)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if !h.devSignIn() {
		h.fail(w, r, noSignIn())
		return
	}
	if err := checkCSRF(r); err != nil {
		h.fail(w, r, err)
		return
	}
	setCookie(w, r, tokenCookie, "", time.Unix(1, 0))
	http.Redirect(w, r, Root+"signin", http.StatusSeeOther)
}

func (h *Handler) devSignIn() bool {
	_, ok := h.deps.Identity.(DevSignIn)
	return ok
}

func noSignIn() error {
	return api.Errorf(http.StatusNotFound, "the board has no sign-in page here: Identity-Aware Proxy signs people in")
}

// nextPage is where to go after signing in: a page of the board, never
// another site.
func nextPage(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, Root) || strings.Contains(next, "\\") {
		return Root
	}
	return u.RequestURI()
}

// identify returns who sends r, or answers: a person not signed in on the
// local stack is sent to the sign-in page (but for htmx's refresh of a
// row, which keeps the row it has on an error). A form must carry the
// CSRF token.
func (h *Handler) identify(w http.ResponseWriter, r *http.Request) (auth.Caller, bool) {
	who, err := h.deps.Identity.Identify(r)
	if err != nil && h.devSignIn() && r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" && errors.Is(err, failure.ErrUnauthenticated) {
		http.Redirect(w, r, Root+"signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return auth.Caller{}, false
	}
	if err == nil && r.Method == http.MethodPost {
		err = checkCSRF(r)
	}
	if err != nil {
		h.fail(w, r, err)
		return auth.Caller{}, false
	}
	logging.Annotate(r.Context(), slog.String("caller", who.Email))
	return who, true
}

// authorize checks the request of an account's page or form as the API
// checks the action of the same name: its fields (400), the caller's rate
// (429) and role (403, auth.Policy). It returns the page, with the
// caller's role to show the actions it allows.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, who auth.Caller, req api.Request, action string) (page, bool) {
	ctx := r.Context()
	logging.Annotate(ctx, slog.String("action", action), slog.String("account", req.AccountID()))
	if problems := req.Validate(); len(problems) > 0 {
		h.fail(w, r, api.Invalid(problems))
		return page{}, false
	}
	if err := h.deps.Limits.Allow(action, who.Email); err != nil {
		h.fail(w, r, err)
		return page{}, false
	}
	role, err := h.deps.Members.MemberRole(ctx, req.AccountID(), who.Email)
	if err != nil && !errors.Is(err, auth.ErrNotMember) {
		h.fail(w, r, &failure.Error{Kind: failure.ErrUnavailable, Message: "access rules are temporarily unavailable; retry later", Err: err})
		return page{}, false
	}
	if err := h.deps.Authz.Check(who, req.AccountID(), role, auth.Required(action)); err != nil {
		h.fail(w, r, err)
		return page{}, false
	}
	p := page{Who: who, Role: role, Account: req.AccountID(), DevSignIn: h.devSignIn(), Done: doneMessages[r.URL.Query().Get("done")]}
	if r.Method == http.MethodGet {
		p.CSRF = csrfToken(w, r)
	}
	return p, true
}

// may reports whether the page's caller may do action.
func (h *Handler) may(p page, action string) bool {
	return h.deps.Authz.Check(p.Who, p.Account, p.Role, auth.Required(action)) == nil
}

// doneMessages say what an action did, on the page it returns to
// (?done=key).
var doneMessages = map[string]string{
	"checked":     "The run is CHECKED.",
	"canceled":    "The run is canceled.",
	"activated":   "The configuration is activated.",
	"deactivated": "The configuration is deactivated.",
	"reset":       "The workflow is reset: a new cycle began.",
}
