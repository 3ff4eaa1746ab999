package runs

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of failure the domain reports. The API maps each to one HTTP
// status in shared/api.FromError.
var (
	ErrInvalid     = errors.New("invalid")     // 400: the request cannot be carried out as written
	ErrForbidden   = errors.New("forbidden")   // 403: the caller may not do this to this run
	ErrNotFound    = errors.New("not found")   // 404
	ErrConflict    = errors.New("conflict")    // 409: the current state forbids it
	ErrUnavailable = errors.New("unavailable") // 503: a dependency is down; retrying may succeed
)

// Error is a failure the caller can act on. Message is written for the
// person who made the request and never contains internal details.
type Error struct {
	Kind    error  // one of the Err* kinds above
	Message string // safe to show to the caller
	Field   string // the request field at fault, if one is
	// CurrentStatus is the run's status when a change was refused because
	// of it, so that a script can decide what to do without a second read.
	CurrentStatus Status
	Err           error // the underlying cause, for logs
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

// NotFound returns an ErrNotFound error with a message for the caller.
func NotFound(format string, args ...any) error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

// Forbidden returns an ErrForbidden error with a message for the caller.
func Forbidden(format string, args ...any) error {
	return &Error{Kind: ErrForbidden, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns an ErrConflict error with a message for the caller.
func Conflict(format string, args ...any) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf(format, args...)}
}

// StatusConflict returns an ErrConflict error about run, which is in a
// status that forbids the change; field names the request field at fault,
// if one is.
func StatusConflict(run Run, field, format string, args ...any) error {
	return &Error{Kind: ErrConflict, Field: field, CurrentStatus: run.Status, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an ErrInvalid error that names the field at fault.
func InvalidField(field, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unavailable wraps err, from a dependency that is down, as ErrUnavailable.
func Unavailable(what string, err error) error {
	return &Error{
		Kind:    ErrUnavailable,
		Message: what + " is temporarily unavailable; retry later",
		Err:     err,
	}
}

// Invalid lists every problem found with the fields of a request, for a
// 400 that names them all at once.
type Invalid []FieldProblem

// FieldProblem is one problem with one field.
type FieldProblem struct {
	Field   string
	Problem string
}

func (v Invalid) Error() string {
	parts := make([]string, len(v))
	for i, p := range v {
		parts[i] = p.Field + ": " + p.Problem
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Add appends a problem.
func (v *Invalid) Add(field, format string, args ...any) {
	*v = append(*v, FieldProblem{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Err returns v as an error, or nil when there is no problem.
func (v Invalid) Err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}
