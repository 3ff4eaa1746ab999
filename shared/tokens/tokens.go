// Package tokens makes the bearer tokens Runway accepts, for its clients:
// the runway CLI (cmd/runway) and scripts/token. A token is made in one of
// three ways:
//
//   - a dev token, signed by the local stack's dev key (dev mode only);
//   - a token a service account signs itself with its JSON key file, as the
//     Tailer docs' google-jwt-generator.py makes;
//   - a Google-signed ID token for the application default credentials
//     (gcloud auth, or the runtime's service account).
package tokens

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/api/idtoken"

	"github.com/runwaydata/runway/shared/auth"
)

// DefaultDevKeyFile is where the local stack keeps its dev signing key,
// relative to the repository's root (RUNWAY_DEV_KEY_FILE changes it).
const DefaultDevKeyFile = ".runway/dev-key.pem"

// Source says how to make a token. Exactly one of DevEmail, Credentials
// and Google is set.
type Source struct {
	// DevEmail asks for a dev token for this email, signed by the key in
	// DevKeyFile (created if missing) and valid for DevTTL.
	DevEmail   string
	DevKeyFile string
	DevTTL     time.Duration
	// Credentials is a service account JSON key file: the account signs
	// its own token for Audience, valid for an hour.
	Credentials string
	// Google asks for a Google-signed ID token for Audience, for the
	// application default credentials.
	Google bool
	// Audience is the API's URL, e.g. https://runway.example.com.
	Audience string
}

// Check reports what is missing or contradictory in s.
func (s Source) Check() error {
	modes := 0
	for _, set := range []bool{s.DevEmail != "", s.Credentials != "", s.Google} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return errors.New("choose exactly one of --dev, --credentials and --google")
	}
	if s.DevEmail == "" && s.Audience == "" {
		return errors.New("--audience is required with --credentials and --google")
	}
	return nil
}

// Token makes a token as s says.
func (s Source) Token(ctx context.Context) (string, error) {
	if err := s.Check(); err != nil {
		return "", err
	}
	switch {
	case s.DevEmail != "":
		key, err := auth.LoadOrCreateDevKey(s.DevKeyFile)
		if err != nil {
			return "", err
		}
		return auth.SignDevToken(key, s.DevEmail, time.Now(), s.DevTTL)
	case s.Credentials != "":
		data, err := os.ReadFile(s.Credentials)
		if err != nil {
			return "", err
		}
		key, err := auth.ParseServiceAccountKey(data)
		if err != nil {
			return "", err
		}
		return key.Sign(s.Audience, time.Now())
	default:
		ts, err := idtoken.NewTokenSource(ctx, s.Audience)
		if err != nil {
			return "", fmt.Errorf("google ID token: %w", err)
		}
		tok, err := ts.Token()
		if err != nil {
			return "", fmt.Errorf("google ID token: %w", err)
		}
		return tok.AccessToken, nil
	}
}
