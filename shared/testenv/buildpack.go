package testenv

// BuildpackMain is the main the Go buildpack of Cloud Functions generates
// for a function source whose package registers its functions
// declaratively (functions.HTTP in init): it imports the package for its
// side effects and starts the framework, which serves FUNCTION_TARGET.
// buildpack_test.go builds it to check every entry point, and the
// benchmarks to measure a function process.
const BuildpackMain = `package main

import (
	"log"
	"os"

	_ "github.com/runwaydata/runway"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	port := "8080"
	if envPort := os.Getenv("PORT"); envPort != "" {
		port = envPort
	}
	hostname := ""
	if os.Getenv("LOCAL_ONLY") == "true" {
		hostname = "127.0.0.1"
	}
	if err := funcframework.StartHostPort(hostname, port); err != nil {
		log.Fatalf("funcframework.StartHostPort: %v\n", err)
	}
}
`
