package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runwaydata/runway/shared/failure"
)

// Role is a caller's level of access to one account. Each role includes the
// rights of the roles before it.
type Role int

// The roles, weakest first.
const (
	RoleNone     Role = iota // not a member
	RoleViewer               // reads runs and configurations
	RoleExecuter             // launches jobs and sets run statuses
	RoleEditor               // changes configurations and resets workflows
	RoleAdmin                // manages members
)

var roleNames = map[Role]string{
	RoleNone:     "none",
	RoleViewer:   "viewer",
	RoleExecuter: "executer",
	RoleEditor:   "editor",
	RoleAdmin:    "admin",
}

func (r Role) String() string {
	if name, ok := roleNames[r]; ok {
		return name
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole parses a role name as stored on a member document.
func ParseRole(s string) (Role, bool) {
	for role, name := range roleNames {
		if name == s && role != RoleNone {
			return role, true
		}
	}
	return RoleNone, false
}

// ErrNotMember is returned by Members when the caller is not a member of
// the account.
var ErrNotMember = errors.New("not a member")

// Members looks up a caller's role on an account. The Firestore adapter in
// shared/store implements it.
type Members interface {
	// MemberRole returns the role of email on account, or ErrNotMember.
	MemberRole(ctx context.Context, account, email string) (Role, error)
}

// Authorizer decides whether a caller may act on an account.
type Authorizer struct {
	members Members
	admins  map[string]bool
}

// NewAuthorizer returns an Authorizer that reads roles from members and
// treats the given emails as admins of every account.
func NewAuthorizer(members Members, platformAdmins []string) (*Authorizer, error) {
	if members == nil {
		return nil, errors.New("auth: missing members store")
	}
	admins := make(map[string]bool, len(platformAdmins))
	for _, email := range platformAdmins {
		admins[email] = true
	}
	return &Authorizer{members: members, admins: admins}, nil
}

// Authorize returns nil if who holds at least role need on account, and an
// ErrForbidden error saying what is missing otherwise.
func (a *Authorizer) Authorize(ctx context.Context, who Caller, account string, need Role) error {
	if a.admins[who.Email] {
		return nil
	}
	role, err := a.members.MemberRole(ctx, account, who.Email)
	if err != nil && !errors.Is(err, ErrNotMember) {
		return &failure.Error{Kind: failure.ErrUnavailable, Message: "access rules are temporarily unavailable; retry later", Err: err}
	}
	return a.Check(who, account, role, need)
}

// Check is Authorize for a caller whose role was already read, for callers
// that read the member document together with other documents.
func (a *Authorizer) Check(who Caller, account string, role, need Role) error {
	if a.admins[who.Email] || role >= need {
		return nil
	}
	if role == RoleNone {
		return forbidden(fmt.Sprintf("%s has no access to account %s", who.Email, account))
	}
	return forbidden(fmt.Sprintf("this action needs the %s role on account %s; %s has %s", need, account, who.Email, role))
}

// Member is a person or service account with a role on an account.
type Member struct {
	Email     string
	Role      Role
	UpdatedBy string
	UpdatedAt time.Time
}
