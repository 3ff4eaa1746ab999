package api

import (
	"net/url"
	"strings"

	"github.com/runwaydata/runway/shared/callbacks"
)

// GetCallbackSettingsRequest is the body of get_callback_settings on
// /v1/access.
type GetCallbackSettingsRequest struct {
	Action  string `json:"action"`
	Account string `json:"account"`
}

// AccountID implements Request.
func (r GetCallbackSettingsRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r GetCallbackSettingsRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	return p
}

// SetCallbackSettingsRequest is the body of set_callback_settings on
// /v1/access: the hosts launches may name in callback_url.
type SetCallbackSettingsRequest struct {
	Action       string   `json:"action"`
	Account      string   `json:"account"`
	AllowedHosts []string `json:"allowed_hosts"`
}

// AccountID implements Request.
func (r SetCallbackSettingsRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r SetCallbackSettingsRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	if r.AllowedHosts == nil {
		p.add("allowed_hosts", "is required: a list of host names, such as hooks.example.com or *.example.com; [] allows none")
	}
	if len(r.AllowedHosts) > callbacks.MaxAllowedHosts {
		p.add("allowed_hosts", "must list at most %d hosts", callbacks.MaxAllowedHosts)
	}
	for _, h := range r.AllowedHosts {
		if err := callbacks.ValidHostPattern(h); err != nil {
			p.add("allowed_hosts", "%v", err)
			break
		}
	}
	return p
}

// RotateCallbackSecretRequest is the body of rotate_callback_secret on
// /v1/access: it makes a new signing secret, which signs from now on. The
// previous one keeps signing too, so that receivers can switch over,
// unless retire_previous is true; older ones are retired.
type RotateCallbackSecretRequest struct {
	Action         string `json:"action"`
	Account        string `json:"account"`
	RetirePrevious bool   `json:"retire_previous,omitempty"`
}

// AccountID implements Request.
func (r RotateCallbackSecretRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r RotateCallbackSecretRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	return p
}

// CallbackSettingsResponse is an account's callback settings. Secrets are
// listed by key id, never by value.
type CallbackSettingsResponse struct {
	Account      string           `json:"account"`
	AllowedHosts []string         `json:"allowed_hosts"`
	Secrets      []CallbackSecret `json:"secrets"`
}

// CallbackSecret describes a signing secret; Secret is set only in the
// answer to rotate_callback_secret, the one time it is shown.
type CallbackSecret struct {
	KeyID     string `json:"key_id"`
	Secret    string `json:"secret,omitempty"`
	CreatedAt string `json:"created_at"`
	CreatedBy string `json:"created_by"`
}

// RotateCallbackSecretResponse is the answer to rotate_callback_secret:
// the new secret, shown this once, and the settings after the rotation.
type RotateCallbackSecretResponse struct {
	Secret   CallbackSecret           `json:"secret"`
	Settings CallbackSettingsResponse `json:"settings"`
}

// NewCallbackSettingsResponse converts an account's settings.
func NewCallbackSettingsResponse(account string, s callbacks.Settings) CallbackSettingsResponse {
	out := CallbackSettingsResponse{Account: account, AllowedHosts: s.AllowedHosts, Secrets: []CallbackSecret{}}
	if out.AllowedHosts == nil {
		out.AllowedHosts = []string{}
	}
	for _, sec := range s.Secrets {
		out.Secrets = append(out.Secrets, CallbackSecret{KeyID: sec.ID, CreatedAt: FormatTime(sec.CreatedAt), CreatedBy: sec.CreatedBy})
	}
	return out
}

// callbackURL checks the shape of launch_job's callback_url; whether its
// host is allowed is the account's settings' to say.
func (p *problems) callbackURL(value string) {
	if value == "" {
		return
	}
	u, err := url.Parse(value)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		p.add("callback_url", "must be an absolute URL, such as https://hooks.example.com/runway")
	case len(value) > 2048 || strings.ContainsFunc(value, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		p.add("callback_url", "must be at most 2048 printable ASCII characters")
	case u.User != nil:
		p.add("callback_url", "must not carry credentials: the callback is signed instead")
	case u.Scheme != "https" && u.Scheme != "http":
		p.add("callback_url", "must be an https URL")
	}
}
