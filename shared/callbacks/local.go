package callbacks

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LocalSealer seals secrets with AES-256-GCM under a key kept in a file:
// the local dev stack's and the tests' sealer, as the dev signing key is
// their token signer. It is refused on Cloud Run/Functions.
type LocalSealer struct {
	key []byte
	id  []byte // the first 8 bytes of the key's SHA-256: tells a value another key sealed
}

// NewLocalSealer returns a sealer with a 32-byte key.
func NewLocalSealer(key []byte) (*LocalSealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("callbacks: a local sealing key has 32 bytes, not %d", len(key))
	}
	sum := sha256.Sum256(key)
	return &LocalSealer{key: bytes.Clone(key), id: sum[:8]}, nil
}

// LoadOrCreateLocalSealer returns the sealer of the key in path (64 hex
// digits), making the key if the file does not exist. It refuses to run
// where K_SERVICE is set (Cloud Run/Functions): deployments seal with
// Cloud KMS, never with a key on a disk.
func LoadOrCreateLocalSealer(path string) (*LocalSealer, error) {
	if k := os.Getenv("K_SERVICE"); k != "" {
		return nil, errors.New("callbacks: the local sealing key is refused on Cloud Run/Functions (K_SERVICE is set); set RUNWAY_CALLBACK_KMS_KEY")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("callbacks: local sealing key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("callbacks: local sealing key %s is not 64 hex digits", path)
	}
	return NewLocalSealer(key)
}

// createKeyFile writes a new key to path, unless another process made one
// first, and returns what path holds: the new key is written to a file of
// its own, then linked to path, which fails if path exists, so that two
// processes starting at once end up with the same key and none reads a
// half-written file.
func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".callback-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err = errors.Join(err, tmp.Chmod(0o600), tmp.Close()); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return os.ReadFile(path)
}

// Seal implements Sealer: "rwloc1:", the key's id, then the secret sealed
// under the key.
func (l *LocalSealer) Seal(_ context.Context, plaintext, aad []byte) ([]byte, error) {
	body, err := gcmSeal(l.key, plaintext, aad)
	if err != nil {
		return nil, err
	}
	out := append([]byte(tagLocal), l.id...)
	return append(out, body...), nil
}

// Open implements Sealer.
func (l *LocalSealer) Open(_ context.Context, sealed, aad []byte) ([]byte, error) {
	header := len(tagLocal) + len(l.id)
	switch {
	case len(sealed) < header || string(sealed[:len(tagLocal)]) != tagLocal:
		return nil, fmt.Errorf("%w: the secret was sealed by %s, not by a local dev key", ErrWrongSealer, describeTag(sealed))
	case !bytes.Equal(sealed[len(tagLocal):header], l.id):
		return nil, fmt.Errorf("%w: the secret was sealed by another local dev key (was the key file replaced?)", ErrWrongSealer)
	}
	return gcmOpen(l.key, sealed[header:], aad)
}
