package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/runwaydata/runway/shared/failure"
)

// Key cache tuning, shared by Google's certs and service accounts' keys.
const (
	defaultKeysTTL  = 5 * time.Minute // when Google sends no max-age
	maxKeysTTL      = 24 * time.Hour
	refetchInterval = time.Minute // an unknown kid refetches the keys at most this often (key rotation)
	fetchTimeout    = 10 * time.Second
	maxKeysBytes    = 1 << 20 // bounds a key set's body
)

// keySet is a JWKS as fetched: the keys by kid (RSA, or EC P-256 for
// IAP's), and how long they may be used.
type keySet struct {
	keys    map[string]crypto.PublicKey
	fetched time.Time
	expires time.Time
}

// errNoKeys is a 404 from a key endpoint: the account has no keys.
var errNoKeys = errors.New("no keys published")

// fetchJWKS reads the JWKS at url. A 404 is errNoKeys; any other failure
// (transport, status, body) is an error of its own: the keys could not be
// read, which says nothing about the token.
func fetchJWKS(ctx context.Context, client *http.Client, url string, now func() time.Time) (keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return keySet{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return keySet{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return keySet{}, errNoKeys
	case resp.StatusCode != http.StatusOK:
		return keySet{}, fmt.Errorf("GET %s: status %d", req.URL.Redacted(), resp.StatusCode)
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxKeysBytes)).Decode(&jwks); err != nil {
		return keySet{}, fmt.Errorf("GET %s: decode JWKS: %w", req.URL.Redacted(), err)
	}
	t := now()
	set := keySet{keys: map[string]crypto.PublicKey{}, fetched: t, expires: t.Add(maxAge(resp.Header))}
	for _, j := range jwks.Keys {
		if j.Kid == "" {
			continue
		}
		switch j.Kty {
		case "RSA":
			n, errN := base64.RawURLEncoding.DecodeString(j.N)
			e, errE := base64.RawURLEncoding.DecodeString(j.E)
			if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
				continue // not a key we can verify RS256 with
			}
			set.keys[j.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			if key := ecKey(j.Crv, j.X, j.Y); key != nil {
				set.keys[j.Kid] = key
			}
		}
	}
	return set, nil
}

// ecKey is the P-256 public key of a JWK's coordinates (IAP signs ES256),
// or nil when they are not one.
func ecKey(crv, x, y string) *ecdsa.PublicKey {
	bx, errX := base64.RawURLEncoding.DecodeString(x)
	by, errY := base64.RawURLEncoding.DecodeString(y)
	if crv != "P-256" || errX != nil || errY != nil || len(bx) != 32 || len(by) != 32 {
		return nil
	}
	// The uncompressed point, which ParseUncompressedPublicKey checks is
	// on the curve.
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, bx...), by...))
	if err != nil {
		return nil
	}
	return key
}

// maxAge reads how long a response may be cached from Cache-Control.
func maxAge(h http.Header) time.Duration {
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		if strings.EqualFold(name, "max-age") {
			if secs, err := strconv.Atoi(value); err == nil && secs >= 0 {
				return min(time.Duration(secs)*time.Second, maxKeysTTL)
			}
		}
	}
	return defaultKeysTTL
}

// shared runs fetch once for every caller asking for key at the same
// time. The fetch serves every caller waiting for it, so it runs on a
// context of its own (bounded by fetchTimeout): the first caller going
// away must not fail the others. A caller whose own ctx ends first gets
// an ErrUnavailable.
func shared[T any](ctx context.Context, group *singleflight.Group, key string, fetch func(context.Context) (T, error)) (T, error) {
	ch := group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return fetch(fctx)
	})
	var zero T
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		return zero, &failure.Error{Kind: failure.ErrUnavailable, Message: "the request ended while signing keys were being fetched", Err: ctx.Err()}
	}
}
