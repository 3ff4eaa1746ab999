package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.New(testenv.Firestore(t, testenv.Project(t)), testenv.StoreTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutMember(ctx, "000099", "ed@example.com", auth.RoleEditor, "test"); err != nil {
		t.Fatal(err)
	}
	authz, err := auth.NewAuthorizer(st, []string{"root@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		email, account string
		need           auth.Role
		want           string // part of the 403 message; "" when allowed
	}{
		{"ed@example.com", "000099", auth.RoleViewer, ""},
		{"ed@example.com", "000099", auth.RoleEditor, ""},
		{"ed@example.com", "000099", auth.RoleAdmin, "needs the admin role on account 000099; ed@example.com has editor"},
		{"ed@example.com", "000110", auth.RoleViewer, "ed@example.com has no access to account 000110"},
		{"root@example.com", "000110", auth.RoleAdmin, ""}, // a platform admin, member of nothing
		{"nobody@example.com", "000099", auth.RoleViewer, "has no access"},
	}
	for _, tt := range tests {
		err := authz.Authorize(ctx, auth.Caller{Email: tt.email}, tt.account, tt.need)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s on %s needing %s: %v", tt.email, tt.account, tt.need, err)
		case tt.want != "" && (!errors.Is(err, failure.ErrForbidden) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s on %s needing %s: %v, want forbidden mentioning %q", tt.email, tt.account, tt.need, err, tt.want)
		}
	}
	if _, err := auth.NewAuthorizer(nil, nil); err == nil {
		t.Error("NewAuthorizer accepted a missing members store")
	}
}
