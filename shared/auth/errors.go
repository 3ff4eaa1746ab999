package auth

import "github.com/runwaydata/runway/shared/failure"

// The kinds of auth failure (shared/failure); shared/api maps them to 401,
// 403 and 503.
var (
	ErrUnauthenticated = failure.ErrUnauthenticated
	ErrForbidden       = failure.ErrForbidden
	ErrUnavailable     = failure.ErrUnavailable
)

// Error is an authentication or authorization failure: shared/failure's.
// Its Message says which check failed, for the caller, and never holds the
// token.
type Error = failure.Error

func unauthenticated(message string, cause error) error {
	return &Error{Kind: ErrUnauthenticated, Message: message, Err: cause}
}

func forbidden(message string) error {
	return &Error{Kind: ErrForbidden, Message: message}
}
