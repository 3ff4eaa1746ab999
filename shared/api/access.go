package api

import (
	"net/mail"
	"strings"

	"github.com/runwaydata/runway/shared/auth"
)

// ListMembersRequest is the body of list_members on /v1/access.
type ListMembersRequest struct {
	Action  string `json:"action"`
	Account string `json:"account"`
}

// AccountID implements Request.
func (r ListMembersRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r ListMembersRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	return p
}

// AddMemberRequest is the body of add_member on /v1/access: it gives email
// a role on the account, adding the member or changing its role.
type AddMemberRequest struct {
	Action  string `json:"action"`
	Account string `json:"account"`
	Email   string `json:"email"`
	Role    string `json:"role"`
}

// AccountID implements Request.
func (r AddMemberRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r AddMemberRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.email(r.Email)
	if role, ok := auth.ParseRole(r.Role); !ok || role == auth.RoleNone {
		p.add("role", "must be viewer, executer, editor or admin")
	}
	return p
}

// RemoveMemberRequest is the body of remove_member on /v1/access.
type RemoveMemberRequest struct {
	Action  string `json:"action"`
	Account string `json:"account"`
	Email   string `json:"email"`
}

// AccountID implements Request.
func (r RemoveMemberRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r RemoveMemberRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.email(r.Email)
	return p
}

func (p *problems) email(value string) {
	addr, err := mail.ParseAddress(value)
	switch {
	case value == "":
		p.add("email", "is required")
	case err != nil || addr.Address != value || len(value) > 254 || strings.ContainsAny(value, "/"):
		p.add("email", "must be a plain email address, such as alice@example.com or executor@project.iam.gserviceaccount.com")
	}
}

// MemberResult is a member as /v1/access returns it.
type MemberResult struct {
	Email     string `json:"email"`
	Role      string `json:"role"`
	UpdatedBy string `json:"updated_by"`
	UpdatedAt string `json:"updated_at"`
}

// NewMemberResult converts a member.
func NewMemberResult(m auth.Member) MemberResult {
	return MemberResult{Email: m.Email, Role: m.Role.String(), UpdatedBy: m.UpdatedBy, UpdatedAt: FormatTime(m.UpdatedAt)}
}

// MemberResponse is the answer to add_member.
type MemberResponse struct {
	Member MemberResult `json:"member"`
}

// MembersResponse is the answer to list_members, by email.
type MembersResponse struct {
	Members []MemberResult `json:"members"`
}

// OK is the answer of actions that only change something: {"message":"ok"},
// as the Tailer API's set_configuration_status.
type OK struct {
	Message string `json:"message"`
}
