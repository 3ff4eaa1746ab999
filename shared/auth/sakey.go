package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ServiceAccountKey is the part of a service account's JSON key file (the
// "credentials" the reference's google-jwt-generator.py reads) that signs
// tokens.
type ServiceAccountKey struct {
	Email      string
	KeyID      string
	PrivateKey *rsa.PrivateKey
}

// ParseServiceAccountKey reads a service account JSON key file.
func ParseServiceAccountKey(data []byte) (ServiceAccountKey, error) {
	var f struct {
		Type         string `json:"type"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		ClientEmail  string `json:"client_email"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return ServiceAccountKey{}, fmt.Errorf("auth: service account key: %w", err)
	}
	if f.Type != "service_account" || f.PrivateKeyID == "" || f.ClientEmail == "" {
		return ServiceAccountKey{}, errors.New("auth: not a service account key file (need type service_account, private_key_id, private_key, client_email)")
	}
	block, _ := pem.Decode([]byte(f.PrivateKey))
	if block == nil {
		return ServiceAccountKey{}, errors.New("auth: service account key: private_key is not PEM")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if err != nil {
		return ServiceAccountKey{}, fmt.Errorf("auth: service account key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return ServiceAccountKey{}, errors.New("auth: service account key: not an RSA key")
	}
	return ServiceAccountKey{Email: f.ClientEmail, KeyID: f.PrivateKeyID, PrivateKey: key}, nil
}

// Sign returns a token the service account signs itself for audience,
// valid for an hour from now: the token google-jwt-generator.py makes.
func (k ServiceAccountKey) Sign(audience string, now time.Time) (string, error) {
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": k.Email,
		"sub": k.Email,
		"aud": audience,
		"iat": now.Unix(),
		"exp": now.Add(MaxServiceAccountTokenLifetime).Unix(),
	})
	token.Header["kid"] = k.KeyID
	signed, err := token.SignedString(k.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("auth: sign service account token: %w", err)
	}
	return signed, nil
}
