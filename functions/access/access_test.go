package access_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const path = "/v1/access"

func members(t *testing.T, s *stacktest.Stack, token string) map[string]string {
	t.Helper()
	var got api.MembersResponse
	s.Do(t, http.MethodPost, path, token, `{"action": "list_members", "account": "000099"}`).Decode(t, &got)
	out := map[string]string{}
	for _, m := range got.Members {
		out[m.Email] = m.Role
	}
	return out
}

func TestAddChangeAndRemoveMembers(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	admin := s.Token(t, stacktest.Admin)

	var added api.MemberResponse
	s.Post(t, path, `{"action": "add_member", "account": "000099", "email": "Alice@Example.com", "role": "viewer"}`).Decode(t, &added)
	if added.Member.Email != "alice@example.com" || added.Member.Role != "viewer" || added.Member.UpdatedBy != stacktest.Admin || added.Member.UpdatedAt == "" {
		t.Errorf("add_member = %+v", added)
	}
	s.Post(t, path, `{"action": "add_member", "account": "000099", "email": "alice@example.com", "role": "editor"}`).Decode(t, &added)
	want := map[string]string{stacktest.Admin: "admin", stacktest.Executor: "executer", "alice@example.com": "editor"}
	if diff := cmp.Diff(want, members(t, s, admin)); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}

	// The new role takes effect at once: alice, an editor, may launch but
	// not manage members.
	alice := s.Token(t, "alice@example.com")
	s.Do(t, http.MethodPost, path, alice, `{"action": "list_members", "account": "000099"}`).WantError(t, http.StatusForbidden)

	var ok api.OK
	s.Post(t, path, `{"action": "remove_member", "account": "000099", "email": "alice@example.com"}`).Decode(t, &ok)
	if ok.Message != "ok" {
		t.Errorf("remove_member = %+v", ok)
	}
	s.Post(t, path, `{"action": "remove_member", "account": "000099", "email": "alice@example.com"}`).WantError(t, http.StatusNotFound)
	s.Do(t, http.MethodPost, "/v1/dag/status", alice, `{"action": "get_by_status", "account": "000099", "configuration_type": "table-to-table"}`).
		WantError(t, http.StatusForbidden)
}

func TestTheLastAdminStays(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	e := s.Post(t, path, `{"action": "remove_member", "account": "000099", "email": "`+stacktest.Admin+`"}`).WantError(t, http.StatusConflict)
	if e.Message != stacktest.Admin+" is the last admin of account 000099; make another member admin first" {
		t.Errorf("message %q", e.Message)
	}
	s.Post(t, path, `{"action": "add_member", "account": "000099", "email": "`+stacktest.Admin+`", "role": "viewer"}`).WantError(t, http.StatusConflict)

	// With a second admin, the first may go.
	s.Post(t, path, `{"action": "add_member", "account": "000099", "email": "second@example.com", "role": "admin"}`).Decode(t, &api.MemberResponse{})
	s.Post(t, path, `{"action": "remove_member", "account": "000099", "email": "`+stacktest.Admin+`"}`).Decode(t, &api.OK{})
	if got := members(t, s, s.Token(t, "second@example.com")); len(got) != 2 || got["second@example.com"] != "admin" || got[stacktest.Admin] != "" {
		t.Errorf("members = %v", got)
	}
}

// Two admins demoting each other at the same moment must not leave the
// account without an admin.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	ctx := context.Background()
	// Each round deadlocks two transactions, which the emulator resolves by
	// timing one out after about two seconds: three rounds are enough.
	for range 3 {
		for _, email := range []string{"a@example.com", "b@example.com"} {
			if _, err := s.Env.Store.PutMember(ctx, "000099", email, auth.RoleAdmin, "test"); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, pair := range [][2]string{{"a@example.com", "b@example.com"}, {"b@example.com", "a@example.com"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Do(t, http.MethodPost, path, s.Token(t, pair[0]),
					`{"action": "add_member", "account": "000099", "email": "`+pair[1]+`", "role": "viewer"}`)
			}()
		}
		wg.Wait()
		list, err := s.Env.Store.ListMembers(ctx, "000099")
		if err != nil {
			t.Fatal(err)
		}
		admins := 0
		for _, m := range list {
			if m.Role == auth.RoleAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("%d admins after two concurrent demotions, want exactly 1: %+v", admins, list)
		}
	}
}

func TestBadMemberRequests(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	before := s.Snapshot(t, "000099")
	for name, tc := range map[string]struct {
		body   string
		fields []string
	}{
		"no email":            {`{"action": "add_member", "account": "000099", "role": "viewer"}`, []string{"email"}},
		"display name":        {`{"action": "add_member", "account": "000099", "email": "Alice <alice@example.com>", "role": "viewer"}`, []string{"email"}},
		"not an email":        {`{"action": "remove_member", "account": "000099", "email": "alice"}`, []string{"email"}},
		"slash in the email":  {`{"action": "remove_member", "account": "000099", "email": "a/b@example.com"}`, []string{"email"}},
		"role none":           {`{"action": "add_member", "account": "000099", "email": "a@example.com", "role": "none"}`, []string{"role"}},
		"unknown role":        {`{"action": "add_member", "account": "000099", "email": "a@example.com", "role": "owner"}`, []string{"role"}},
		"role in upper case":  {`{"action": "add_member", "account": "000099", "email": "a@example.com", "role": "ADMIN"}`, []string{"role"}},
		"unknown field":       {`{"action": "list_members", "account": "000099", "page": 2}`, []string{"page"}},
		"missing the account": {`{"action": "list_members"}`, []string{"account"}},
	} {
		t.Run(name, func(t *testing.T) {
			s.Post(t, path, tc.body).WantError(t, http.StatusBadRequest, tc.fields...)
		})
	}
	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Errorf("refused requests changed the account:\n%s", diff)
	}
}

// TestCallbackSettings: admins set the allowed hosts and rotate the
// signing secret, which is shown once and never again; the previous
// secret keeps signing until retired.
func TestCallbackSettings(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	var settings api.CallbackSettingsResponse
	s.Post(t, path, `{"action": "get_callback_settings", "account": "000099"}`).Decode(t, &settings)
	if len(settings.AllowedHosts) != 0 || len(settings.Secrets) != 0 {
		t.Errorf("new account's settings %+v", settings)
	}
	s.Post(t, path, `{"action": "set_callback_settings", "account": "000099",
		"allowed_hosts": ["hooks.example.com", "*.ci.example.com", "hooks.example.com"]}`).Decode(t, &settings)
	if diff := cmp.Diff([]string{"*.ci.example.com", "hooks.example.com"}, settings.AllowedHosts); diff != "" {
		t.Errorf("allowed hosts (-want +got):\n%s", diff)
	}

	var first, second, third api.RotateCallbackSecretResponse
	s.Post(t, path, `{"action": "rotate_callback_secret", "account": "000099"}`).Decode(t, &first)
	s.Post(t, path, `{"action": "rotate_callback_secret", "account": "000099"}`).Decode(t, &second)
	if first.Secret.Secret == "" || first.Secret.KeyID == second.Secret.KeyID || second.Secret.CreatedBy != stacktest.Admin {
		t.Fatalf("rotations %+v, %+v", first.Secret, second.Secret)
	}
	keys := func(r api.CallbackSettingsResponse) []string {
		var ids []string
		for _, sec := range r.Secrets {
			if sec.Secret != "" {
				t.Errorf("settings show secret %s", sec.KeyID)
			}
			ids = append(ids, sec.KeyID)
		}
		return ids
	}
	if got := keys(second.Settings); !cmp.Equal(got, []string{second.Secret.KeyID, first.Secret.KeyID}) {
		t.Errorf("after two rotations: %v", got)
	}
	s.Post(t, path, `{"action": "rotate_callback_secret", "account": "000099", "retire_previous": true}`).Decode(t, &third)
	s.Post(t, path, `{"action": "get_callback_settings", "account": "000099"}`).Decode(t, &settings)
	if got := keys(settings); !cmp.Equal(got, []string{third.Secret.KeyID}) || len(settings.AllowedHosts) != 2 {
		t.Errorf("after retire_previous: %v, %v", got, settings.AllowedHosts)
	}
	for _, hosts := range []string{`["https://hooks.example.com"]`, `["*"]`, `null`, `"hooks.example.com"`} {
		s.Post(t, path, `{"action": "set_callback_settings", "account": "000099", "allowed_hosts": `+hosts+`}`).
			WantError(t, http.StatusBadRequest, "allowed_hosts")
	}
	if strings.Contains(s.Logs(), third.Secret.Secret) {
		t.Error("a secret was logged")
	}
	// Firestore holds the secrets sealed, never in plain text.
	raw := rawSettings(t, s)
	for _, secret := range []string{first.Secret.Secret, second.Secret.Secret, third.Secret.Secret} {
		if strings.Contains(raw, secret) || strings.Contains(raw, strings.TrimPrefix(secret, "rwcs_")) {
			t.Errorf("the stored settings hold a secret in plain text: %s", raw)
		}
	}
	if !strings.Contains(raw, `"sealed"`) {
		t.Errorf("the stored settings have no sealed secret: %s", raw)
	}
}

// rawSettings is account 000099's callback settings document as Firestore
// holds it, printed.
func rawSettings(t *testing.T, s *stacktest.Stack) string {
	t.Helper()
	snap, err := s.Env.Firestore.Doc("accounts/000099/settings/callbacks").Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%q", snap.Data())
}

// TestAllowedHostPorts: an allowed host may name its port; without one it
// allows 443 only (docs/callbacks.md).
func TestAllowedHostPorts(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	var settings api.CallbackSettingsResponse
	s.Post(t, path, `{"action": "set_callback_settings", "account": "000099",
		"allowed_hosts": ["hooks.example.com:8443", "hooks.example.com", "*.ci.example.com:9000"]}`).Decode(t, &settings)
	if diff := cmp.Diff([]string{"*.ci.example.com:9000", "hooks.example.com", "hooks.example.com:8443"}, settings.AllowedHosts); diff != "" {
		t.Errorf("allowed hosts (-want +got):\n%s", diff)
	}
	for _, host := range []string{"hooks.example.com:", "hooks.example.com:0", "hooks.example.com:65536", "hooks.example.com:08443",
		"hooks.example.com:https", ":8443", "hooks.example.com:8443/x", "hooks.example.com:1:2"} {
		s.Post(t, path, `{"action": "set_callback_settings", "account": "000099", "allowed_hosts": ["`+host+`"]}`).
			WantError(t, http.StatusBadRequest, "allowed_hosts")
	}
}

// TestPlainTextSecretsAreSealedOnTheNextChange: the secrets of a settings
// document stored before secrets were sealed are sealed by the next
// change of the settings, and still open to the same value.
func TestPlainTextSecretsAreSealedOnTheNextChange(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	legacy, _ := callbacks.NewSecret(stacktest.Admin, time.Now().UTC().Truncate(time.Microsecond))
	_, err := s.Env.Firestore.Doc("accounts/000099/settings/callbacks").Set(ctx, map[string]any{
		"allowed_hosts": []string{"hooks.example.com"},
		"secrets":       []map[string]any{{"id": legacy.ID, "value": legacy.Value, "created_at": legacy.CreatedAt, "created_by": legacy.CreatedBy}},
		"updated_by":    stacktest.Admin, "updated_at": time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var settings api.CallbackSettingsResponse
	s.Post(t, path, `{"action": "get_callback_settings", "account": "000099"}`).Decode(t, &settings)
	if len(settings.Secrets) != 1 || settings.Secrets[0].KeyID != legacy.ID {
		t.Fatalf("the plain-text secret is not read: %+v", settings)
	}
	var rotated api.RotateCallbackSecretResponse
	s.Post(t, path, `{"action": "rotate_callback_secret", "account": "000099"}`).Decode(t, &rotated)
	raw := rawSettings(t, s)
	if strings.Contains(raw, legacy.Value) || strings.Contains(raw, rotated.Secret.Secret) || strings.Count(raw, `"sealed"`) != 2 {
		t.Errorf("after the rotation, the stored settings are %s: want both secrets sealed, neither in plain text", raw)
	}
	stored, err := s.Env.Store.CallbackSettings(ctx, "000099")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := s.Env.CallbackSealer()
	if err != nil {
		t.Fatal(err)
	}
	opened, err := stored.Open(ctx, sealer, "000099")
	if err != nil || len(opened.Secrets) != 2 || opened.Secrets[0].Value != rotated.Secret.Secret || opened.Secrets[1].Value != legacy.Value {
		t.Errorf("the sealed secrets open to %+v (%v): want the new one, then the plain-text one", opened.Secrets, err)
	}
}
