package auth

import "github.com/runwaydata/runway/shared/failure"

// unauthenticated and forbidden are the auth failures (shared/failure),
// which shared/api maps to 401 and 403. Their Message says which check
// failed, for the caller, and never holds the token.
func unauthenticated(message string, cause error) error {
	return &failure.Error{Kind: failure.ErrUnauthenticated, Message: message, Err: cause}
}

func forbidden(message string) error {
	return &failure.Error{Kind: failure.ErrForbidden, Message: message}
}
