package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// MemberRole implements auth.Members.
func (s *Store) MemberRole(ctx context.Context, account, email string) (auth.Role, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.memberRef(account, email).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return auth.RoleNone, auth.ErrNotMember
	}
	if err != nil {
		return auth.RoleNone, classify("store.MemberRole", err)
	}
	return roleOf(snap), nil
}

// PutMember gives email role on account, adding the member or changing its
// role. Demoting the account's last admin is refused, in the same
// transaction that would do it, so two admins demoting each other at once
// cannot leave the account without one.
func (s *Store) PutMember(ctx context.Context, account, email string, role auth.Role, by string) (auth.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	member := memberDoc{Email: strings.ToLower(email), Role: role.String(), UpdatedBy: by, UpdatedAt: time.Now().UTC()}
	ref := s.memberRef(account, email)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if role != auth.RoleAdmin {
			if err := s.keepAnAdmin(tx, account, ref); err != nil {
				return err
			}
		}
		return tx.Set(ref, member)
	})
	if err != nil {
		return auth.Member{}, classifyTx("store.PutMember", err)
	}
	return member.member(), nil
}

// RemoveMember removes email from account. Removing the last admin is
// refused; removing someone who is not a member is ErrNotFound.
func (s *Store) RemoveMember(ctx context.Context, account, email string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ref := s.memberRef(account, email)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(ref); err != nil {
			if status.Code(err) == codes.NotFound {
				return failure.NotFound("%s is not a member of account %s", strings.ToLower(email), account)
			}
			return err
		}
		if err := s.keepAnAdmin(tx, account, ref); err != nil {
			return err
		}
		return tx.Delete(ref)
	})
	return classifyTx("store.RemoveMember", err)
}

// keepAnAdmin refuses, within tx, to take the admin role from ref if ref is
// the account's only admin.
func (s *Store) keepAnAdmin(tx *firestore.Transaction, account string, ref *firestore.DocumentRef) error {
	admins, err := tx.Documents(s.members(account).Where("role", "==", auth.RoleAdmin.String()).Limit(2)).GetAll()
	if err != nil {
		return err
	}
	if len(admins) == 1 && admins[0].Ref.ID == ref.ID {
		return failure.Conflict("%s is the last admin of account %s; make another member admin first", ref.ID, account)
	}
	return nil
}

// ListMembers returns the members of account, by email.
func (s *Store) ListMembers(ctx context.Context, account string) ([]auth.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.members(account).OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.ListMembers", err)
	}
	members := make([]auth.Member, 0, len(snaps))
	for _, snap := range snaps {
		var d memberDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store.ListMembers: decode %s: %w", snap.Ref.Path, err)
		}
		members = append(members, d.member())
	}
	return members, nil
}
