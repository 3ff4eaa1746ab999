// Command token prints a bearer token for Runway, in one of three ways:
//
//	token --dev EMAIL                                a dev token, signed by the local dev key (local stack only)
//	token --credentials KEY.json --audience URL      a token the service account signs itself,
//	                                                 as the Tailer docs' google-jwt-generator.py makes
//	token --google --audience URL                    a Google-signed ID token for the application
//	                                                 default credentials (gcloud auth, or the runtime's
//	                                                 service account)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/api/idtoken"

	"github.com/runwaydata/runway/shared/auth"
)

func main() {
	dev := flag.String("dev", "", "print a dev token for this email")
	keyFile := flag.String("key", envOr("RUNWAY_DEV_KEY_FILE", ".runway/dev-key.pem"), "with --dev: the dev signing key (created if missing)")
	ttl := flag.Duration("ttl", 12*time.Hour, "with --dev: how long the token is valid")
	credentials := flag.String("credentials", "", "print a token signed by this service account JSON key file")
	google := flag.Bool("google", false, "print a Google-signed ID token for the application default credentials")
	audience := flag.String("audience", "", "with --credentials or --google: the API's URL, e.g. https://runway.example.com")
	flag.Parse()

	token, err := run(*dev, *keyFile, *ttl, *credentials, *google, *audience)
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		fmt.Fprintln(os.Stderr, "usage: token --dev EMAIL | --credentials KEY.json --audience URL | --google --audience URL")
		os.Exit(2)
	}
	fmt.Println(token)
}

func run(dev, keyFile string, ttl time.Duration, credentials string, google bool, audience string) (string, error) {
	modes := 0
	for _, set := range []bool{dev != "", credentials != "", google} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return "", errors.New("choose exactly one of --dev, --credentials and --google")
	}
	if dev == "" && audience == "" {
		return "", errors.New("--audience is required with --credentials and --google")
	}
	switch {
	case dev != "":
		key, err := auth.LoadOrCreateDevKey(keyFile)
		if err != nil {
			return "", err
		}
		return auth.SignDevToken(key, dev, time.Now(), ttl)
	case credentials != "":
		data, err := os.ReadFile(credentials)
		if err != nil {
			return "", err
		}
		key, err := auth.ParseServiceAccountKey(data)
		if err != nil {
			return "", err
		}
		return key.Sign(audience, time.Now())
	default:
		ts, err := idtoken.NewTokenSource(context.Background(), audience)
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

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
