package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevIssuer is the issuer and audience of tokens signed by the local dev
// key. Such tokens are accepted only when the API runs in dev mode.
const DevIssuer = "runway-dev"

// LoadOrCreateDevKey reads the dev signing key at path, creating it (and its
// directory, readable only by the owner) when it does not exist yet.
func LoadOrCreateDevKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadDevKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate dev key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: encode dev key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: create dev key directory: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// O_EXCL: when two processes race to create the key, one wins and the
	// other reads the winner's key instead of overwriting it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	return key, nil
}

// LoadDevKey reads the dev signing key at path.
func LoadDevKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read dev key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: dev key %s is not a PEM private key", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: parse dev key %s: %w", path, err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: dev key %s is not an Ed25519 key", path)
	}
	return key, nil
}

// SignDevToken returns a dev token for email, valid for ttl from now.
func SignDevToken(key ed25519.PrivateKey, email string, now time.Time, ttl time.Duration) (string, error) {
	claims := jwt.MapClaims{
		"iss":            DevIssuer,
		"aud":            DevIssuer,
		"sub":            email,
		"email":          email,
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(ttl).Unix(),
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign dev token: %w", err)
	}
	return token, nil
}
