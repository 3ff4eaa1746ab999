// Package testenv gives tests the real Firestore and Pub/Sub emulators and
// an isolated project on them per test. Import it from _test.go files only.
//
// Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// scripts/test.sh starts the emulators once for the whole run and exports
// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST; when they are not set,
// Main starts emulators for the package itself. When it cannot, the tests
// fail with a message saying how to get the emulators: they never skip.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/runwaydata/runway/shared/emulators"
)

// Main runs the package's tests with the emulators and exits.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(emulators.FirestoreHostEnv) == "" || os.Getenv(emulators.PubSubHostEnv) == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		em, err := emulators.Start(ctx, filepath.Join(os.TempDir(), "runway-test-emulators"))
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: these tests need the Firestore and Pub/Sub emulators and could not start them.\n%v\n", err)
			return 1
		}
		defer em.Stop()
		for _, kv := range em.Env() {
			name, value, _ := strings.Cut(kv, "=")
			os.Setenv(name, value)
		}
	}
	return m.Run()
}

// StoreTimeout is the store timeout of tests that are not about timeouts:
// the emulator of a loaded machine can take seconds to answer, and a test
// must not fail for it.
const StoreTimeout = time.Minute

// ProjectsFileEnv names the file, if any, to which Project appends every
// project it makes: scripts/test.sh then checks that every index the whole
// suite's queries used is declared in terraform/firestore.tf.
const ProjectsFileEnv = "RUNWAY_TEST_PROJECTS_FILE"

// Project returns a new project id. The emulators keep each project's data
// apart, so a test with its own project sees only its own documents and
// topics, and tests can run in parallel.
func Project(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	project := "test-" + hex.EncodeToString(b)
	if path := os.Getenv(ProjectsFileEnv); path != "" {
		// One short O_APPEND write per line: lines of parallel test
		// processes do not interleave.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(project + "\n")
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			t.Fatalf("record the project in %s: %v", path, err)
		}
	}
	return project
}

// Firestore returns a client of project on the emulator, closed when the
// test ends.
func Firestore(t testing.TB, project string) *firestore.Client {
	t.Helper()
	requireEmulator(t, emulators.FirestoreHostEnv)
	client, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// PubSub returns a client of project on the emulator, closed when the test
// ends.
func PubSub(t testing.TB, project string) *pubsub.Client {
	t.Helper()
	requireEmulator(t, emulators.PubSubHostEnv)
	client, err := pubsub.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("pubsub client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func requireEmulator(t testing.TB, env string) {
	t.Helper()
	if os.Getenv(env) == "" {
		t.Fatalf("%s is not set: this test needs the emulators; run it through scripts/test.sh, or use testenv.Main as the package's TestMain", env)
	}
}
