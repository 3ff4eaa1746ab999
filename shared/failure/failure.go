// Package failure is the error every package reports to a caller: the
// kind of failure, which shared/api maps to one HTTP status, a message
// for the person who made the request, and the cause, for the logs. It
// depends on nothing of Runway's, so that any package may use it.
package failure

import (
	"errors"
	"time"
)

// The kinds of failure.
var (
	ErrInvalid         = errors.New("invalid")         // 400: the request cannot be carried out as written
	ErrUnauthenticated = errors.New("unauthenticated") // 401: no token, or one Runway does not accept
	ErrForbidden       = errors.New("forbidden")       // 403: the caller may not do this
	ErrNotFound        = errors.New("not found")       // 404
	ErrConflict        = errors.New("conflict")        // 409: the current state forbids it
	ErrUnavailable     = errors.New("unavailable")     // 503: a dependency is down; retrying may succeed
)

// Error is a failure the caller can act on. Message is written for the
// person who made the request, and never holds internal details or a
// token.
type Error struct {
	Kind    error  // one of the Err* kinds above
	Message string // safe to show to the caller
	Field   string // the request field at fault, if one is
	// CurrentStatus is the run's status when a change was refused because
	// of it, so that a script can decide what to do without a second read.
	CurrentStatus string
	// Missing is true when the request carried no credentials at all,
	// which changes the WWW-Authenticate challenge (RFC 6750 §3.1).
	Missing bool
	// RetryAfter, on an ErrUnavailable, is when the request may succeed
	// again (the Retry-After of the 503); 0 when unknown.
	RetryAfter time.Duration
	Err        error // the underlying cause, for logs
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
