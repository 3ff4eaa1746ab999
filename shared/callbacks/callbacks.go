// Package callbacks is what Runway's completion callbacks need: an
// account's settings (the hosts launches may call back, the signing
// secrets), the checks of a callback URL, the signature receivers verify,
// the sealing of the secrets where they are stored (seal.go), and an HTTP
// client that cannot be pointed at private addresses.
package callbacks

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/failure"
)

// Settings are an account's callback settings.
type Settings struct {
	// AllowedHosts are the host names launches may call back: exact
	// names, or *.example.com for the names under example.com, on the
	// scheme's default port (443 for https) unless the entry names
	// another: hooks.example.com:8443.
	AllowedHosts []string
	// Secrets sign callbacks, newest first: the first is the current one,
	// the second, if any, the previous one, kept while receivers switch.
	Secrets []Secret
}

// Secret is a signing secret.
type Secret struct {
	ID string // the key id, sent in X-Runway-Key-Id with the current secret
	// Value is the secret in plain text: a new one, one Settings.Open
	// opened, or one stored before secrets were sealed. Only Sign needs it.
	Value string
	// Sealed is the secret as stored, sealed by a Sealer (see
	// Settings.Seal); nil when it was never sealed.
	Sealed    []byte
	CreatedAt time.Time
	CreatedBy string
}

// MaxAllowedHosts bounds an account's allowed hosts.
const MaxAllowedHosts = 50

var hostPattern = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidHostPattern explains what is wrong with an allowed host, or
// returns nil: a lower-case host name or *. pattern, optionally followed
// by :port (1 to 65535, without leading zeros).
func ValidHostPattern(h string) error {
	host, port, hasPort := strings.Cut(h, ":")
	if len(host) > 253 || !hostPattern.MatchString(host) || (hasPort && !validPort(port)) {
		return fmt.Errorf("%q is not a lower-case host name such as hooks.example.com, or a pattern such as *.example.com, "+
			"optionally with a port such as hooks.example.com:8443", h)
	}
	return nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == p
}

// defaultPorts are the ports an allowed host without a port allows.
var defaultPorts = map[string]string{"https": "443", "http": "80"}

// Allows reports whether the settings allow callbacks to u: its host
// must match an allowed host, and its port be the one the entry names,
// or, for an entry without a port, the scheme's default port (443 for
// https).
func (s Settings) Allows(u *url.URL) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = defaultPorts[u.Scheme]
	}
	for _, allowed := range s.AllowedHosts {
		pattern, allowedPort, named := strings.Cut(allowed, ":")
		if !named {
			allowedPort = defaultPorts[u.Scheme]
		}
		if port != "" && port == allowedPort && hostMatches(pattern, host) {
			return true
		}
	}
	return false
}

// allowsHost reports whether an allowed host matches host, on any port.
func (s Settings) allowsHost(host string) bool {
	for _, allowed := range s.AllowedHosts {
		pattern, _, _ := strings.Cut(allowed, ":")
		if hostMatches(pattern, strings.ToLower(host)) {
			return true
		}
	}
	return false
}

func hostMatches(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return host == pattern
}

// ErrNotAllowed is why a callback URL is refused by the account's
// settings or by the network policy.
var ErrNotAllowed = errors.New("callback URL not allowed")

// CheckURL explains why the account's settings, and the network policy,
// forbid calling raw back, or returns nil. allowPrivate (the local dev
// stack) also allows http and private addresses.
func (s Settings) CheckURL(raw string, allowPrivate bool) error {
	return s.check(raw, allowPrivate, true)
}

// CheckHost is CheckURL for a URL Runway calls without signing (an
// alert's Slack or PagerDuty URL): the account needs no secret.
func (s Settings) CheckHost(raw string, allowPrivate bool) error {
	return s.check(raw, allowPrivate, false)
}

func (s Settings) check(raw string, allowPrivate, signed bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrNotAllowed, RedactURL(raw))
	}
	if u.Scheme != "https" && !(allowPrivate && u.Scheme == "http") {
		return fmt.Errorf("%w: callbacks are sent over https only", ErrNotAllowed)
	}
	if signed && len(s.Secrets) == 0 {
		return fmt.Errorf("%w: the account has no callback secret to sign with; an admin makes one with rotate_callback_secret", ErrNotAllowed)
	}
	if !s.Allows(u) {
		host := strings.ToLower(u.Hostname())
		if port := cmp.Or(u.Port(), defaultPorts[u.Scheme]); s.allowsHost(host) {
			return fmt.Errorf("%w: port %s of host %s is not allowed: an entry of allowed_hosts without a port allows port %s only; "+
				"an admin allows this one with %s:%s in allowed_hosts (set_callback_settings)",
				ErrNotAllowed, port, host, defaultPorts[u.Scheme], host, port)
		}
		return fmt.Errorf("%w: host %s is not in the account's allowed_hosts; an admin adds it with set_callback_settings", ErrNotAllowed, u.Hostname())
	}
	if !allowPrivate {
		if err := checkLiteral(u.Hostname()); err != nil {
			return fmt.Errorf("%w: %w", ErrNotAllowed, err)
		}
	}
	return nil
}

// RedactURL is a callback URL as Runway shows it to the account's
// members: its query, where receivers often keep a token, is replaced by
// REDACTED, and its fragment dropped. Only the dispatcher uses the URL as
// it was given.
func RedactURL(raw string) string {
	i := strings.IndexAny(raw, "?#")
	switch {
	case i < 0:
		return raw
	case raw[i] == '#':
		return raw[:i]
	}
	return raw[:i] + "?REDACTED"
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
		return failure.InvalidField("callback_url", "%v", err)
	}
	return nil
}
