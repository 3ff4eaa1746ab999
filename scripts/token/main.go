// Command token prints a bearer token for Runway.
//
//	token --dev EMAIL    a dev token, signed by the local dev key (the local stack only)
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/runwaydata/runway/shared/auth"
)

func main() {
	dev := flag.String("dev", "", "print a dev token for this email")
	keyFile := flag.String("key", envOr("RUNWAY_DEV_KEY_FILE", ".runway/dev-key.pem"), "the dev signing key (created if missing)")
	ttl := flag.Duration("ttl", 12*time.Hour, "how long the token is valid")
	flag.Parse()
	if *dev == "" {
		fmt.Fprintln(os.Stderr, "usage: token --dev EMAIL [--key FILE] [--ttl 12h]")
		os.Exit(2)
	}
	key, err := auth.LoadOrCreateDevKey(*keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	token, err := auth.SignDevToken(key, *dev, time.Now(), *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(token)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
