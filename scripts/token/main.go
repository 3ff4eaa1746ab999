// Command token prints a bearer token for Runway, in one of three ways:
//
//	token --dev EMAIL                                a dev token, signed by the local dev key (local stack only)
//	token --credentials KEY.json --audience URL      a token the service account signs itself,
//	                                                 as the Tailer docs' google-jwt-generator.py makes
//	token --google --audience URL                    a Google-signed ID token for the application
//	                                                 default credentials (gcloud auth, or the runtime's
//	                                                 service account)
//
// It is `runway token` (cmd/runway) for those who have not installed the
// CLI: both make their tokens with shared/tokens.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/runwaydata/runway/shared/tokens"
)

func main() {
	keyFile := tokens.DefaultDevKeyFile
	if v := os.Getenv("RUNWAY_DEV_KEY_FILE"); v != "" {
		keyFile = v
	}
	var s tokens.Source
	flag.StringVar(&s.DevEmail, "dev", "", "print a dev token for this email")
	flag.StringVar(&s.DevKeyFile, "key", keyFile, "with --dev: the dev signing key (created if missing)")
	flag.DurationVar(&s.DevTTL, "ttl", 12*time.Hour, "with --dev: how long the token is valid")
	flag.StringVar(&s.Credentials, "credentials", "", "print a token signed by this service account JSON key file")
	flag.BoolVar(&s.Google, "google", false, "print a Google-signed ID token for the application default credentials")
	flag.StringVar(&s.Audience, "audience", "", "with --credentials or --google: the API's URL, e.g. https://runway.example.com")
	flag.Parse()

	token, err := s.Token(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		fmt.Fprintln(os.Stderr, "usage: token --dev EMAIL | --credentials KEY.json --audience URL | --google --audience URL")
		os.Exit(2)
	}
	fmt.Println(token)
}
