// Package access is the Access function, POST /v1/access: account admins
// list, add and remove the account's members (actions list_members,
// add_member, remove_member).
package access

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/logging"
)

// Members is the member storage the function needs; shared/store
// implements it.
type Members interface {
	PutMember(ctx context.Context, account, email string, role auth.Role, by string) (auth.Member, error)
	RemoveMember(ctx context.Context, account, email string) error
	ListMembers(ctx context.Context, account string) ([]auth.Member, error)
}

// Deps are the Access function's dependencies.
type Deps struct {
	Members Members
	Authn   api.Authenticator
	Authz   api.Authorizer
}

// Handler serves Access.
type Handler struct {
	*api.Endpoint
	members Members
}

// New returns the Access handler.
func New(deps Deps) (*Handler, error) {
	if deps.Members == nil {
		return nil, errors.New("access: missing members store")
	}
	h := &Handler{members: deps.Members}
	endpoint, err := api.NewEndpoint("access", deps.Authn, deps.Authz,
		api.NewAction("list_members", h.listMembers),
		api.NewAction("add_member", h.addMember),
		api.NewAction("remove_member", h.removeMember),
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
