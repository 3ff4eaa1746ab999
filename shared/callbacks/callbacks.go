// Package callbacks is what Runway's completion callbacks need: an
// account's settings (the hosts launches may call back, the signing
// secrets), the checks of a callback URL, the signature receivers verify,
// and an HTTP client that cannot be pointed at private addresses.
package callbacks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/runs"
)

// Settings are an account's callback settings.
type Settings struct {
	// AllowedHosts are the host names launches may call back: exact
	// names, or *.example.com for the names under example.com.
	AllowedHosts []string
	// Secrets sign callbacks, newest first: the first is the current one,
	// the second, if any, the previous one, kept while receivers switch.
	Secrets []Secret
}

// Secret is a signing secret.
type Secret struct {
	ID        string // the key id, sent in X-Runway-Key-Id with the current secret
	Value     string
	CreatedAt time.Time
	CreatedBy string
}

// MaxAllowedHosts bounds an account's allowed hosts.
const MaxAllowedHosts = 50

var hostPattern = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidHostPattern explains what is wrong with an allowed host, or
// returns nil.
func ValidHostPattern(h string) error {
	if len(h) > 253 || !hostPattern.MatchString(h) {
		return fmt.Errorf("%q is not a lower-case host name such as hooks.example.com, or a pattern such as *.example.com", h)
	}
	return nil
}

// Allows reports whether the settings allow callbacks to host.
func (s Settings) Allows(host string) bool {
	host = strings.ToLower(host)
	for _, allowed := range s.AllowedHosts {
		if suffix, ok := strings.CutPrefix(allowed, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if host == allowed {
			return true
		}
	}
	return false
}

// ErrNotAllowed is why a callback URL is refused by the account's
// settings or by the network policy.
var ErrNotAllowed = errors.New("callback URL not allowed")

// CheckURL explains why the account's settings, and the network policy,
// forbid calling raw back, or returns nil. allowPrivate (the local dev
// stack) also allows http and private addresses.
func (s Settings) CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrNotAllowed, raw)
	}
	if u.Scheme != "https" && !(allowPrivate && u.Scheme == "http") {
		return fmt.Errorf("%w: callbacks are sent over https only", ErrNotAllowed)
	}
	if len(s.Secrets) == 0 {
		return fmt.Errorf("%w: the account has no callback secret to sign with; an admin makes one with rotate_callback_secret", ErrNotAllowed)
	}
	if !s.Allows(u.Hostname()) {
		return fmt.Errorf("%w: host %s is not in the account's allowed_hosts; an admin adds it with set_callback_settings", ErrNotAllowed, u.Hostname())
	}
	if !allowPrivate {
		if err := checkLiteral(u.Hostname()); err != nil {
			return fmt.Errorf("%w: %w", ErrNotAllowed, err)
		}
	}
	return nil
}

// NewSecret returns a new random secret, made by who at now.
func NewSecret(who string, now time.Time) (Secret, error) {
	id, value := make([]byte, 6), make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return Secret{}, err
	}
	if _, err := rand.Read(value); err != nil {
		return Secret{}, err
	}
	return Secret{ID: "k_" + hex.EncodeToString(id), Value: "rwcs_" + hex.EncodeToString(value), CreatedAt: now, CreatedBy: who}, nil
}

// Rotate returns the settings with secret as the current one, the current
// one kept as previous unless retirePrevious, and older ones retired.
func (s Settings) Rotate(secret Secret, retirePrevious bool) Settings {
	kept := []Secret{secret}
	if !retirePrevious && len(s.Secrets) > 0 {
		kept = append(kept, s.Secrets[0])
	}
	s.Secrets = kept
	return s
}

// SettingsStore reads accounts' callback settings; shared/store
// implements it.
type SettingsStore interface {
	CallbackSettings(ctx context.Context, account string) (Settings, error)
}

// Policy implements runs.CallbackPolicy with the account's settings.
type Policy struct {
	Settings SettingsStore
	// AllowPrivate allows http and private addresses: the local dev stack.
	AllowPrivate bool
}

// CheckCallbackURL implements runs.CallbackPolicy.
func (p Policy) CheckCallbackURL(ctx context.Context, account, url string) error {
	settings, err := p.Settings.CallbackSettings(ctx, account)
	if err != nil {
		return fmt.Errorf("callbacks: settings of %s: %w", account, err)
	}
	if err := settings.CheckURL(url, p.AllowPrivate); err != nil {
		return runs.InvalidField("callback_url", "%v", err)
	}
	return nil
}
