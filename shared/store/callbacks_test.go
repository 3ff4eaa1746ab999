package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/testenv"
)

// TestCallbackSecretsAreStoredSealedOnly: the store keeps the sealed value
// of a secret and refuses to write one in plain text, whatever its caller
// forgot; it still reads the plain-text secrets of documents written before
// secrets were sealed.
func TestCallbackSecretsAreStoredSealedOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := testenv.Firestore(t, testenv.Project(t))
	s, err := store.New(client, testenv.StoreTimeout)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := callbacks.NewSecret("admin@example.com", t0)
	plain := func(cs *callbacks.Settings) error {
		*cs = cs.Rotate(secret, false)
		return nil
	}
	if _, err := s.UpdateCallbackSettings(ctx, "000099", "admin@example.com", plain); err == nil {
		t.Fatal("a secret in plain text was stored")
	}
	if got, err := s.CallbackSettings(ctx, "000099"); err != nil || len(got.Secrets) != 0 {
		t.Fatalf("after the refusal: %+v, %v", got, err)
	}

	sealed := secret
	sealed.Value, sealed.Sealed = "", []byte("rwloc1:opaque")
	if _, err := s.UpdateCallbackSettings(ctx, "000099", "admin@example.com", func(cs *callbacks.Settings) error {
		*cs = cs.Rotate(sealed, false)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.CallbackSettings(ctx, "000099")
	if err != nil || len(got.Secrets) != 1 || got.Secrets[0].Value != "" || !bytes.Equal(got.Secrets[0].Sealed, sealed.Sealed) ||
		got.Secrets[0].ID != secret.ID || !got.Secrets[0].CreatedAt.Equal(t0) {
		t.Fatalf("read back %+v, %v", got.Secrets, err)
	}

	// A document of before sealing: its secret reads as plain text.
	if _, err := client.Doc("accounts/000110/settings/callbacks").Set(ctx, map[string]any{
		"allowed_hosts": []string{"hooks.example.com"}, "updated_by": "admin@example.com", "updated_at": time.Now(),
		"secrets": []map[string]any{{"id": secret.ID, "value": secret.Value, "created_at": t0, "created_by": "admin@example.com"}},
	}); err != nil {
		t.Fatal(err)
	}
	legacy, err := s.CallbackSettings(ctx, "000110")
	if err != nil || len(legacy.Secrets) != 1 || legacy.Secrets[0].Value != secret.Value || legacy.Secrets[0].Sealed != nil {
		t.Fatalf("plain-text secret read as %+v, %v", legacy.Secrets, err)
	}
}
