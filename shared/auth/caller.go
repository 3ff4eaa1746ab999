// Package auth verifies who is calling (bearer tokens) and what they may do
// (roles per account).
//
// Accepted tokens are Google-signed ID tokens and, in dev mode only, tokens
// signed by the local dev key that scripts/token makes; the board takes
// Identity-Aware Proxy's assertions (iap.go). Roles are stored per account
// and checked by Authorizer.
package auth

// Caller is an authenticated caller.
type Caller struct {
	// Email identifies the caller in access rules, logs and run events.
	Email string
	// Via says which kind of token proved it: "google", "dev", "iap".
	Via string
}
