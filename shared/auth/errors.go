package auth

import (
	"errors"
	"time"
)

// The kinds of auth failure; shared/api maps them to 401, 403 and 503.
var (
	ErrUnauthenticated = errors.New("unauthenticated") // 401: no token, or one we do not accept
	ErrForbidden       = errors.New("forbidden")       // 403: a known caller without the role needed
	ErrUnavailable     = errors.New("unavailable")     // 503: keys or members could not be read
)

// Error is an authentication or authorization failure. Message says which
// check failed, for the caller, and never contains the token.
type Error struct {
	Kind    error
	Message string
	// Missing is true when the request carried no credentials at all, which
	// changes the WWW-Authenticate challenge (RFC 6750 §3.1).
	Missing bool
	// RetryAfter, on an ErrUnavailable, is when the request may succeed
	// again (the Retry-After of the 503); 0 when unknown.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap lets errors.Is match both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func unauthenticated(message string, cause error) error {
	return &Error{Kind: ErrUnauthenticated, Message: message, Err: cause}
}

func forbidden(message string) error {
	return &Error{Kind: ErrForbidden, Message: message}
}
