package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/logging"
)

// Authenticator proves who sent a request. *auth.Verifier implements it.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Caller, error)
}

// Authorizer decides whether a caller holds a role on an account.
// *auth.Authorizer implements it.
type Authorizer interface {
	Authorize(ctx context.Context, who auth.Caller, account string, need auth.Role) error
}

// Request is implemented by every action's request type.
type Request interface {
	// Validate returns every problem with the request's fields.
	Validate() []FieldError
	// AccountID is the account the request acts on.
	AccountID() string
}

// Action is one action of an Endpoint: its name, the role it needs, and how
// its body is decoded and acted upon.
type Action struct {
	Name string
	// Role is the least role on the request's account that the action
	// needs, from auth.Policy.
	Role auth.Role
	// SelfAuthorized marks an action whose act checks Role itself, because
	// it reads the caller's role in the same round trip as other documents.
	// The role-matrix test holds such actions to the same table.
	SelfAuthorized bool

	requestType reflect.Type
	fields      map[string]bool
	decode      func(body []byte) (Request, *Error)
	// fromURL, set for an action served on GET, reads the request from
	// the URL instead of a body.
	fromURL func(r *http.Request) (Request, *Error)
	act     func(ctx context.Context, who auth.Caller, req Request) (any, error)
}

// NewAction returns the action name, carried out by act, with the role
// auth.Policy gives it. Its request body is decoded strictly into Req and
// validated before act sees it.
func NewAction[Req Request, Resp any](name string, act func(context.Context, auth.Caller, Req) (Resp, error)) Action {
	t := reflect.TypeFor[Req]()
	fields := jsonFields(t)
	return Action{
		Name:        name,
		Role:        auth.Required(name),
		requestType: t,
		fields:      fields,
		decode: func(body []byte) (Request, *Error) {
			var req Req
			if err := decodeInto(body, &req); err != nil {
				return nil, err
			}
			if problems := req.Validate(); len(problems) > 0 {
				return nil, Invalid(problems)
			}
			return req, nil
		},
		act: func(ctx context.Context, who auth.Caller, req Request) (any, error) {
			return act(ctx, who, req.(Req))
		},
	}
}

// NewGetAction returns the action name served on GET, carried out by act,
// with the role auth.Policy gives it. read takes its request from the URL
// (path and query); the request is then validated and acted upon as a
// body's would be. ETLWorks' flow status is one: its callers send GET.
func NewGetAction[Req Request, Resp any](name string, read func(*http.Request) (Req, *Error), act func(context.Context, auth.Caller, Req) (Resp, error)) Action {
	a := NewAction(name, act)
	a.decode = nil
	a.fromURL = func(r *http.Request) (Request, *Error) {
		req, err := read(r)
		if err != nil {
			return nil, err
		}
		if problems := req.Validate(); len(problems) > 0 {
			return nil, Invalid(problems)
		}
		return req, nil
	}
	return a
}

// RequestType is the Go type the action's body decodes into.
func (a Action) RequestType() reflect.Type { return a.requestType }

// Endpoint is one HTTP function: it accepts POST requests whose JSON body
// names one of its actions, or GET requests for its one GET action, and
// runs each request through the same steps: authenticate → decode →
// validate → rate limit → authorize → act → encode.
type Endpoint struct {
	name    string
	actions map[string]Action // by name, served on POST
	get     *Action           // served on GET, if the endpoint has one
	authn   Authenticator
	authz   Authorizer
	limits  *Limits
}

// NewEndpoint returns an Endpoint serving actions, to callers within
// limits (nil for none).
func NewEndpoint(name string, authn Authenticator, authz Authorizer, limits *Limits, actions ...Action) (*Endpoint, error) {
	switch {
	case authn == nil:
		return nil, fmt.Errorf("%s: missing authenticator", name)
	case authz == nil:
		return nil, fmt.Errorf("%s: missing authorizer", name)
	case len(actions) == 0:
		return nil, fmt.Errorf("%s: no actions", name)
	}
	e := &Endpoint{name: name, actions: map[string]Action{}, authn: authn, authz: authz, limits: limits}
	for _, a := range actions {
		if _, dup := e.actions[a.Name]; dup || (e.get != nil && e.get.Name == a.Name) {
			return nil, fmt.Errorf("%s: action %q declared twice", name, a.Name)
		}
		if a.Role == auth.RoleNone {
			return nil, fmt.Errorf("%s: action %q has no role in auth.Policy", name, a.Name)
		}
		if a.fromURL != nil {
			if e.get != nil {
				return nil, fmt.Errorf("%s: two GET actions, %q and %q", name, e.get.Name, a.Name)
			}
			e.get = &a
			continue
		}
		if !a.fields["action"] {
			return nil, fmt.Errorf("%s: request type of %q has no action field", name, a.Name)
		}
		e.actions[a.Name] = a
	}
	return e, nil
}

// Actions lists the endpoint's actions, sorted by name.
func (e *Endpoint) Actions() []Action {
	list := make([]Action, 0, len(e.actions)+1)
	for _, a := range e.actions {
		list = append(list, a)
	}
	if e.get != nil {
		list = append(list, *e.get)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

func (e *Endpoint) actionNames() string {
	names := make([]string, 0, len(e.actions))
	for _, a := range e.Actions() {
		if a.fromURL == nil {
			names = append(names, a.Name)
		}
	}
	return strings.Join(names, ", ")
}

// ServeHTTP implements http.Handler.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer recoverPanic(w, r)
	ctx := r.Context()
	decode := e.decode
	switch {
	case r.Method == http.MethodPost && len(e.actions) > 0:
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && e.get != nil:
		decode = e.decodeURL
	default:
		WriteError(ctx, w, e.methodNotAllowed(r))
		return
	}
	who, err := e.authn.Authenticate(r)
	if err != nil {
		WriteError(ctx, w, err)
		return
	}
	logging.Annotate(ctx, slog.String("caller", who.Email))

	action, req, apiErr := decode(w, r)
	if apiErr != nil {
		WriteError(ctx, w, apiErr)
		return
	}
	logging.Annotate(ctx, slog.String("account", req.AccountID()))
	// Before authorizing, which reads the store: a caller past its rate
	// costs nothing more.
	if err := e.limits.Allow(action.Name, who.Email); err != nil {
		WriteError(ctx, w, err)
		return
	}
	if !action.SelfAuthorized {
		if err := e.authz.Authorize(ctx, who, req.AccountID(), action.Role); err != nil {
			WriteError(ctx, w, err)
			return
		}
	}
	resp, err := action.act(ctx, who, req)
	if err != nil {
		WriteError(ctx, w, err)
		return
	}
	WriteJSON(ctx, w, http.StatusOK, resp)
}

// decode reads the body, finds its action and decodes and validates the
// action's request.
func (e *Endpoint) decode(w http.ResponseWriter, r *http.Request) (Action, Request, *Error) {
	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		return Action{}, nil, err
	}
	fields, err := decodeObject(body)
	if err != nil {
		return Action{}, nil, err
	}
	var name string
	if raw, ok := fields["action"]; !ok {
		return Action{}, nil, Invalid([]FieldError{{Field: "action", Problem: "is required; one of " + e.actionNames()}})
	} else if json.Unmarshal(raw, &name) != nil {
		return Action{}, nil, Invalid([]FieldError{{Field: "action", Problem: "must be a string; one of " + e.actionNames()}})
	}
	action, ok := e.actions[name]
	if !ok {
		return Action{}, nil, Invalid([]FieldError{{Field: "action", Problem: fmt.Sprintf("unknown action %q for %s; one of %s", truncate(name, 64), r.URL.Path, e.actionNames())}})
	}
	logging.Annotate(r.Context(), slog.String("action", name))
	if err := checkFields(fields, action.fields); err != nil {
		return Action{}, nil, err
	}
	req, err := action.decode(body)
	if err != nil {
		return Action{}, nil, err
	}
	return action, req, nil
}

// decodeURL reads and validates the request of the GET action.
func (e *Endpoint) decodeURL(_ http.ResponseWriter, r *http.Request) (Action, Request, *Error) {
	logging.Annotate(r.Context(), slog.String("action", e.get.Name))
	req, err := e.get.fromURL(r)
	if err != nil {
		return Action{}, nil, err
	}
	return *e.get, req, nil
}

// methodNotAllowed is the 405 for a method the endpoint does not serve.
func (e *Endpoint) methodNotAllowed(r *http.Request) *Error {
	var allow []string
	if e.get != nil {
		allow = append(allow, http.MethodGet)
	}
	if len(e.actions) > 0 {
		allow = append(allow, http.MethodPost)
	}
	err := Errorf(http.StatusMethodNotAllowed, "%s accepts %s only, not %s", r.URL.Path, strings.Join(allow, " or "), r.Method)
	err.Header = http.Header{"Allow": {strings.Join(allow, ", ")}}
	return err
}

// WriteJSON writes v as the JSON response. It encodes into a buffer first,
// so that an encoding failure becomes a clean 500 instead of half a body.
func WriteJSON(ctx context.Context, w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		WriteError(ctx, w, fmt.Errorf("api.WriteJSON: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// WriteError writes err as a JSON error and adds it to the request's log
// line: the message for 4xx, the full cause for 5xx.
func WriteError(ctx context.Context, w http.ResponseWriter, err error) {
	apiErr := FromError(err)
	if apiErr.Code >= 500 {
		logging.Annotate(ctx, slog.String("error", err.Error()))
	} else {
		logging.Annotate(ctx, slog.String("error", apiErr.Message))
	}
	for k, v := range apiErr.Header {
		w.Header()[k] = v
	}
	WriteJSON(ctx, w, apiErr.Code, apiErr)
}

// recoverPanic turns a panic into a logged 500, so one bad request cannot
// take the instance down with the others it is serving.
func recoverPanic(w http.ResponseWriter, r *http.Request) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		logging.FromContext(r.Context()).ErrorContext(r.Context(), "panic serving request",
			slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		WriteError(r.Context(), w, errors.New("panic"))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AuthorizedByAct returns a copy of a marked SelfAuthorized.
func (a Action) AuthorizedByAct() Action {
	a.SelfAuthorized = true
	return a
}
