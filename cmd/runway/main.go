// Command runway is Runway's command-line interface: it launches jobs and
// waits for them with a live progress line, lists runs as tables, fixes
// their statuses, deploys configurations from their JSON files, and makes
// the tokens the API accepts. It calls the HTTP API only, so it works
// against any deployment (docs/cli.md).
//
//	go install github.com/runwaydata/runway/cmd/runway@latest
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Answers come within a minute (wait_seconds is at most 60): a request
	// that hangs longer is given up.
	a := &app{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now, http: &http.Client{Timeout: 2 * time.Minute}}
	os.Exit(a.run(ctx, os.Args[1:]))
}
