package callbacks

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer seals the signing secrets before they are stored, and opens them
// where callbacks are signed, so that a secret is never stored in plain
// text where every function's service account can read it. The Access
// function seals (it never needs to open); the CallbackDispatcher opens.
// KMSSealer is the deployments' sealer, LocalSealer the dev stack's.
type Sealer interface {
	// Seal encrypts plaintext bound to aad: Open needs the same aad.
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	// Open decrypts what Seal returned for the same aad.
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
}

// secretAAD binds a sealed secret to its account and key id: a sealed
// value copied into another account's settings, or under another key id,
// does not open.
func secretAAD(account, keyID string) []byte {
	return []byte("runway/callback-secret/v1\x00" + account + "\x00" + keyID)
}

// Seal returns the settings with every secret sealed by sealer, for
// account: Value cleared, Sealed set. Secrets already sealed stay as they
// are, so that only new secrets, and the plain-text ones of documents
// stored before secrets were sealed, cost a call to the sealer.
func (s Settings) Seal(ctx context.Context, sealer Sealer, account string) (Settings, error) {
	sealed := make([]Secret, len(s.Secrets))
	for i, sec := range s.Secrets {
		if sec.Sealed == nil {
			if sec.Value == "" {
				return Settings{}, fmt.Errorf("callbacks: secret %s has no value to seal", sec.ID)
			}
			out, err := sealer.Seal(ctx, []byte(sec.Value), secretAAD(account, sec.ID))
			if err != nil {
				return Settings{}, fmt.Errorf("callbacks: seal secret %s: %w", sec.ID, err)
			}
			sec.Sealed = out
		}
		sec.Value = ""
		sealed[i] = sec
	}
	s.Secrets = sealed
	return s, nil
}

// Open returns the settings with the Value of every secret, opened by
// sealer, for account. A secret stored in plain text, before secrets were
// sealed, is used as it is (the Access function seals it at the account's
// next change of settings).
func (s Settings) Open(ctx context.Context, sealer Sealer, account string) (Settings, error) {
	opened := make([]Secret, len(s.Secrets))
	for i, sec := range s.Secrets {
		if sec.Sealed != nil {
			value, err := sealer.Open(ctx, sec.Sealed, secretAAD(account, sec.ID))
			if err != nil {
				return Settings{}, fmt.Errorf("callbacks: open secret %s: %w", sec.ID, err)
			}
			sec.Value = string(value)
		}
		opened[i] = sec
	}
	s.Secrets = opened
	return s, nil
}

// ErrWrongSealer is returned by Open for a value another kind of sealer,
// or another key, sealed.
var ErrWrongSealer = errors.New("callbacks: sealed by another sealer or key")

// sealer tags: the first bytes of every sealed value say what sealed it.
const (
	tagKMS   = "rwkms1:" // KMSSealer: a data key wrapped by Cloud KMS, then the secret under it
	tagLocal = "rwloc1:" // LocalSealer: the secret under the local key
)

// describeTag names what sealed a value, for errors.
func describeTag(sealed []byte) string {
	switch {
	case len(sealed) >= len(tagKMS) && string(sealed[:len(tagKMS)]) == tagKMS:
		return "Cloud KMS"
	case len(sealed) >= len(tagLocal) && string(sealed[:len(tagLocal)]) == tagLocal:
		return "a local dev key"
	}
	return "an unknown sealer"
}

// gcmSeal encrypts plaintext under key with AES-256-GCM and a random
// nonce, bound to aad, and returns nonce || ciphertext || tag.
func gcmSeal(key, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

// gcmOpen reverses gcmSeal.
func gcmOpen(key, sealed, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("callbacks: sealed value too short")
	}
	plaintext, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("callbacks: sealed value does not open (another key, another account or key id, or altered): %w", err)
	}
	return plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("callbacks: a sealing key has 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
