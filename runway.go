// Package runway registers Runway's Cloud Functions with the Functions
// Framework. Every function is deployed from this same source with its own
// entry point; the Go buildpack needs this package at the source root.
//
// An instance builds only the function it runs (FUNCTION_TARGET), once, at
// start-up; if its configuration or clients cannot be built, the instance
// fails to start rather than serve errors.
package runway

import (
	"context"
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/logging"
)

func init() {
	target := os.Getenv("FUNCTION_TARGET")
	if target == "" {
		return // not a Cloud Function instance: tests and tools build what they need
	}
	route, ok := RouteFor(target)
	if !ok {
		log.Fatalf("runway: FUNCTION_TARGET %q is not in the route table", target)
	}
	cfg, err := config.FromEnv()
	if err != nil {
		log.Fatalf("runway: %v", err)
	}
	env, err := NewEnv(context.Background(), cfg)
	if err != nil {
		log.Fatalf("runway: %v", err)
	}
	handler, err := route.Handler(env)
	if err != nil {
		log.Fatalf("runway: %s: %v", route.Function, err)
	}
	functions.HTTP(route.Function, logging.Middleware(env.Logger, cfg.Project, handler).ServeHTTP)
}
