package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/runwaydata/runway/shared/failure"
)

// Error is the body of every failed request:
//
//	{"code":400,"message":"what is wrong, for a person","errors":[{"field":"limit","problem":"must be at most 1000"}]}
//
// Message is always safe to show to the caller; internal details are logged,
// never returned.
type Error struct {
	Code    int          `json:"code"`
	Message string       `json:"message"`
	Errors  []FieldError `json:"errors,omitempty"`
	// CurrentStatus is, on a 409 about a run, the status that forbade the
	// change.
	CurrentStatus string `json:"current_status,omitempty"`

	// Header holds response headers that belong to the error, such as
	// WWW-Authenticate on a 401 or Allow on a 405.
	Header http.Header `json:"-"`
	// cause is the underlying error, logged but never sent.
	cause error
}

// FieldError names one problem with one field of the request.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Errorf returns an Error with the given HTTP status and message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a 400 listing every field problem. The message names the
// fields so that a person reading only the message knows what to fix.
func Invalid(problems []FieldError) *Error {
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
	parts := make([]string, len(problems))
	for i, p := range problems {
		parts[i] = p.Field + ": " + p.Problem
	}
	return &Error{
		Code:    http.StatusBadRequest,
		Message: "invalid request: " + strings.Join(parts, "; "),
		Errors:  problems,
	}
}

// FromError maps any error returned by a handler to the Error sent to the
// caller. It is the one place where domain and auth errors become HTTP
// statuses; anything it does not recognise is a 500 whose details are only
// logged.
func FromError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var invalid failure.Invalid
	if errors.As(err, &invalid) {
		problems := make([]FieldError, len(invalid))
		for i, p := range invalid {
			problems[i] = FieldError{Field: p.Field, Problem: p.Problem}
		}
		return Invalid(problems)
	}
	var f *failure.Error
	if errors.As(err, &f) {
		return fromFailure(f, err)
	}
	return &Error{
		Code:    http.StatusInternalServerError,
		Message: "internal error; it has been logged, retry later or contact the Runway operators",
		cause:   err,
	}
}

// fromFailure is the answer to f, which err wraps.
func fromFailure(f *failure.Error, err error) *Error {
	e := &Error{Code: statusOf(f.Kind), Message: f.Message, CurrentStatus: f.CurrentStatus, cause: err}
	if f.Field != "" {
		e.Errors = []FieldError{{Field: f.Field, Problem: f.Message}}
	}
	switch e.Code {
	case http.StatusUnauthorized:
		e.Header = http.Header{}
		if f.Missing {
			// RFC 6750 §3.1: no error code when the request had no credentials.
			e.Header.Set("WWW-Authenticate", `Bearer realm="runway"`)
		} else {
			e.Header.Set("WWW-Authenticate",
				fmt.Sprintf(`Bearer realm="runway", error="invalid_token", error_description=%q`, f.Message))
		}
	case http.StatusServiceUnavailable:
		if f.RetryAfter > 0 {
			e.Header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds())))}}
		}
	case http.StatusInternalServerError:
		e.Message = "internal error; it has been logged, retry later or contact the Runway operators"
	}
	return e
}

// statuses are the HTTP statuses of the kinds of failure.
var statuses = []struct {
	kind error
	code int
}{
	{failure.ErrInvalid, http.StatusBadRequest},
	{failure.ErrUnauthenticated, http.StatusUnauthorized},
	{failure.ErrForbidden, http.StatusForbidden},
	{failure.ErrNotFound, http.StatusNotFound},
	{failure.ErrConflict, http.StatusConflict},
	{failure.ErrUnavailable, http.StatusServiceUnavailable},
}

// statusOf is the HTTP status of a kind of failure.
func statusOf(kind error) int {
	for _, s := range statuses {
		if errors.Is(kind, s.kind) {
			return s.code
		}
	}
	return http.StatusInternalServerError
}
