package stacktest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// keyServer publishes service accounts' public keys as Google does: one
// JWKS per account at /jwk/{email}.
type keyServer struct {
	mu     sync.Mutex
	keys   map[string]map[string]string // email → kid → JWK n
	server *httptest.Server
}

func newKeyServer(t testing.TB) *keyServer {
	k := &keyServer{keys: map[string]map[string]string{}}
	k.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		defer k.mu.Unlock()
		keys, ok := k.keys[strings.TrimPrefix(r.URL.Path, "/jwk/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var jwks []map[string]string
		for kid, n := range keys {
			jwks = append(jwks, map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n,
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(65537).Bytes())})
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks})
	}))
	t.Cleanup(k.server.Close)
	return k
}

// ServiceAccountKeyFile makes a key for the service account email,
// publishes its public half to the stack, and writes the account's JSON key
// file (what `gcloud iam service-accounts keys create` downloads) into a
// temporary directory. It returns the file's path.
func (s *Stack) ServiceAccountKeyFile(t testing.TB, email string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid := "key-" + email[:strings.Index(email, "@")]
	s.saKeys.mu.Lock()
	if s.saKeys.keys[email] == nil {
		s.saKeys.keys[email] = map[string]string{}
	}
	s.saKeys.keys[email][kid] = base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	s.saKeys.mu.Unlock()

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "data-platform", "private_key_id": kid,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "109876543210", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
		"token_uri": "https://oauth2.googleapis.com/token",
	}, "", "  ")
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
