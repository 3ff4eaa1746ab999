// Package access is the Access function, POST /v1/access: account admins
// list, add and remove the account's members (actions list_members,
// add_member, remove_member) and manage its completion callbacks: the
// hosts launches may call back and the secrets that sign the callbacks
// (get_callback_settings, set_callback_settings, rotate_callback_secret).
package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/logging"
)

// Members is the member storage the function needs; shared/store
// implements it.
type Members interface {
	PutMember(ctx context.Context, account, email string, role auth.Role, by string) (auth.Member, error)
	RemoveMember(ctx context.Context, account, email string) error
	ListMembers(ctx context.Context, account string) ([]auth.Member, error)
}

// CallbackSettings is the callback settings storage the function needs;
// shared/store implements it.
type CallbackSettings interface {
	CallbackSettings(ctx context.Context, account string) (callbacks.Settings, error)
	UpdateCallbackSettings(ctx context.Context, account, by string, change func(*callbacks.Settings) error) (callbacks.Settings, error)
}

// Deps are the Access function's dependencies.
type Deps struct {
	Members   Members
	Callbacks CallbackSettings
	// Sealer seals the signing secrets before they are stored: Access
	// only seals, it never opens one.
	Sealer callbacks.Sealer
	Authn  api.Authenticator
	Authz  api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
	// Now is the clock new secrets are dated with; nil means time.Now.
	Now func() time.Time
}

// Handler serves Access.
type Handler struct {
	*api.Endpoint
	members   Members
	callbacks CallbackSettings
	sealer    callbacks.Sealer
	now       func() time.Time
}

// New returns the Access handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Members == nil:
		return nil, errors.New("access: missing members store")
	case deps.Callbacks == nil:
		return nil, errors.New("access: missing callback settings store")
	case deps.Sealer == nil:
		return nil, errors.New("access: missing callback secret sealer")
	}
	h := &Handler{members: deps.Members, callbacks: deps.Callbacks, sealer: deps.Sealer, now: deps.Now}
	if h.now == nil {
		h.now = time.Now
	}
	endpoint, err := api.NewEndpoint("access", deps.Authn, deps.Authz, deps.Limits,
		api.NewAction("list_members", h.listMembers),
		api.NewAction("add_member", h.addMember),
		api.NewAction("remove_member", h.removeMember),
		api.NewAction("get_callback_settings", h.getCallbackSettings),
		api.NewAction("set_callback_settings", h.setCallbackSettings),
		api.NewAction("rotate_callback_secret", h.rotateCallbackSecret),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

func (h *Handler) listMembers(ctx context.Context, _ auth.Caller, req api.ListMembersRequest) (api.MembersResponse, error) {
	members, err := h.members.ListMembers(ctx, req.Account)
	if err != nil {
		return api.MembersResponse{}, err
	}
	out := api.MembersResponse{Members: make([]api.MemberResult, 0, len(members))}
	for _, m := range members {
		out.Members = append(out.Members, api.NewMemberResult(m))
	}
	return out, nil
}

func (h *Handler) addMember(ctx context.Context, who auth.Caller, req api.AddMemberRequest) (api.MemberResponse, error) {
	role, _ := auth.ParseRole(req.Role)
	member, err := h.members.PutMember(ctx, req.Account, strings.ToLower(req.Email), role, who.Email)
	if err != nil {
		return api.MemberResponse{}, err
	}
	logging.Annotate(ctx, slog.String("member", member.Email), slog.String("role", req.Role))
	return api.MemberResponse{Member: api.NewMemberResult(member)}, nil
}

func (h *Handler) removeMember(ctx context.Context, _ auth.Caller, req api.RemoveMemberRequest) (api.OK, error) {
	if err := h.members.RemoveMember(ctx, req.Account, strings.ToLower(req.Email)); err != nil {
		return api.OK{}, err
	}
	logging.Annotate(ctx, slog.String("member", strings.ToLower(req.Email)))
	return api.OK{Message: "ok"}, nil
}

func (h *Handler) getCallbackSettings(ctx context.Context, _ auth.Caller, req api.GetCallbackSettingsRequest) (api.CallbackSettingsResponse, error) {
	settings, err := h.callbacks.CallbackSettings(ctx, req.Account)
	if err != nil {
		return api.CallbackSettingsResponse{}, err
	}
	return api.NewCallbackSettingsResponse(req.Account, settings), nil
}

func (h *Handler) setCallbackSettings(ctx context.Context, who auth.Caller, req api.SetCallbackSettingsRequest) (api.CallbackSettingsResponse, error) {
	hosts := slices.Compact(slices.Sorted(slices.Values(req.AllowedHosts)))
	settings, err := h.callbacks.UpdateCallbackSettings(ctx, req.Account, who.Email, func(s *callbacks.Settings) error {
		s.AllowedHosts = hosts
		return h.sealAll(ctx, req.Account, s)
	})
	if err != nil {
		return api.CallbackSettingsResponse{}, err
	}
	logging.Annotate(ctx, slog.Any("allowed_hosts", hosts))
	return api.NewCallbackSettingsResponse(req.Account, settings), nil
}

func (h *Handler) rotateCallbackSecret(ctx context.Context, who auth.Caller, req api.RotateCallbackSecretRequest) (api.RotateCallbackSecretResponse, error) {
	secret, err := callbacks.NewSecret(who.Email, h.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return api.RotateCallbackSecretResponse{}, fmt.Errorf("access: new secret: %w", err)
	}
	// The new secret is sealed before the transaction, which may run
	// more than once; it is shown in this answer, and stored sealed only.
	sealed, err := callbacks.Settings{Secrets: []callbacks.Secret{secret}}.Seal(ctx, h.sealer, req.Account)
	if err != nil {
		return api.RotateCallbackSecretResponse{}, err
	}
	settings, err := h.callbacks.UpdateCallbackSettings(ctx, req.Account, who.Email, func(s *callbacks.Settings) error {
		*s = s.Rotate(sealed.Secrets[0], req.RetirePrevious)
		return h.sealAll(ctx, req.Account, s)
	})
	if err != nil {
		return api.RotateCallbackSecretResponse{}, err
	}
	// The key id is logged, the secret never.
	logging.Annotate(ctx, slog.String("key_id", secret.ID), slog.Bool("retire_previous", req.RetirePrevious))
	shown := api.CallbackSecret{KeyID: secret.ID, Secret: secret.Value, CreatedAt: api.FormatTime(secret.CreatedAt), CreatedBy: secret.CreatedBy}
	return api.RotateCallbackSecretResponse{Secret: shown, Settings: api.NewCallbackSettingsResponse(req.Account, settings)}, nil
}

// sealAll seals the secrets of s still in plain text: those of a document
// stored before secrets were sealed, which every change of the settings
// thus migrates.
func (h *Handler) sealAll(ctx context.Context, account string, s *callbacks.Settings) error {
	sealed, err := s.Seal(ctx, h.sealer, account)
	if err != nil {
		return err
	}
	*s = sealed
	return nil
}
