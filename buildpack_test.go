package runway_test

import (
	"archive/zip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/testenv"
)

// TestBuildpackMainServesEveryEntryPoint builds the buildpack's main
// against this module, as Cloud Build does, and starts it with each entry
// point of the route table: each must start and answer with Runway's
// handler (an unauthenticated request gets Runway's JSON 401).
func TestBuildpackMainServesEveryEntryPoint(t *testing.T) {
	bin := buildFunctions(t)
	dir := t.TempDir()

	// The reference executor builds an ID token client from the
	// application default credentials at start-up: give it a key.
	credentials := filepath.Join(dir, "credentials.json")
	writeServiceAccountKey(t, credentials)
	env := append(os.Environ(),
		"RUNWAY_PROJECT="+testenv.Project(t),
		"RUNWAY_AUDIENCES=https://runway.test",
		"RUNWAY_API_URL=https://runway.test",
		// Access and CallbackDispatcher seal callback secrets with Cloud KMS;
		// the client is built at start-up, and called only when used.
		"RUNWAY_CALLBACK_KMS_KEY=projects/p/locations/global/keyRings/runway/cryptoKeys/callback-secrets",
		// The board checks IAP's assertions for its backend service.
		"RUNWAY_IAP_AUDIENCE=/projects/1/global/backendServices/2",
		"GOOGLE_APPLICATION_CREDENTIALS="+credentials,
	)
	for _, route := range runway.Routes {
		t.Run(route.Function, func(t *testing.T) {
			port := freePort(t)
			cmd := exec.Command(bin)
			cmd.Env = append(env, "FUNCTION_TARGET="+route.Function, fmt.Sprintf("PORT=%d", port), "LOCAL_ONLY=true")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()

			method, path := http.MethodPost, "/"
			if route.Path != "" {
				method, path = route.Method, route.Path+"x"
			}
			resp := waitForAnswer(t, method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), &out)
			var body struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			decodeErr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			switch {
			case route.Topic != nil || route.IAP:
				// The push endpoint answers Pub/Sub in plain text, the
				// board people with a page.
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s answered %d, want 401", route.Function, resp.StatusCode)
				}
			case resp.StatusCode != http.StatusUnauthorized || decodeErr != nil || body.Code != http.StatusUnauthorized:
				t.Errorf("%s answered %d %+v (%v), want Runway's JSON 401\n%s", route.Function, resp.StatusCode, body, decodeErr, out.String())
			}
		})
	}

	t.Run("an entry point not in the route table", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = append(env, "FUNCTION_TARGET=Nope", fmt.Sprintf("PORT=%d", freePort(t)))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `FUNCTION_TARGET "Nope" is not in the route table`) {
			t.Errorf("the instance started, or said: %v\n%s", err, out)
		}
	})
}

// buildFunctions builds the buildpack's main against the source zip that
// scripts/package makes, as Cloud Build deploys it, and returns the
// binary: a file the functions need and the zip lacks fails the build.
func buildFunctions(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := unzipSource(t, dir)
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.Replace(string(goMod), "module github.com/runwaydata/runway", "module example.com/buildpack", 1) +
		"\nrequire github.com/runwaydata/runway v0.0.0\n\nreplace github.com/runwaydata/runway => " + root + "\n"
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sum, "main.go": []byte(testenv.BuildpackMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "serve")
	build := exec.Command("go", "build", "-mod=mod", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the buildpack's main: %v\n%s", err, out)
	}
	return bin
}

// unzipSource makes the functions' source zip with scripts/package and
// unpacks it under dir; it returns where.
func unzipSource(t *testing.T, dir string) string {
	t.Helper()
	archive := filepath.Join(dir, "function-source.zip")
	if out, err := exec.Command("go", "run", "./scripts/package", "-out", archive).CombinedOutput(); err != nil {
		t.Fatalf("scripts/package: %v\n%s", err, out)
	}
	r, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root := filepath.Join(dir, "source")
	for _, f := range r.File {
		path := filepath.Join(root, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		in, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(in)
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// waitForAnswer sends the request until the function answers it.
func waitForAnswer(t *testing.T, method, url string, out fmt.Stringer) *http.Response {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function did not answer within 30s: %v\n%s", err, out)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeServiceAccountKey(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	data, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "k",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "reference-executor@p.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://oauth2.googleapis.com/token",
	})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
