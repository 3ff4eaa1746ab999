package failure

import (
	"fmt"
	"strings"
)

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
