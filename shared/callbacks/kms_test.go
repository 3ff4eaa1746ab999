package callbacks_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/callbacks/kmstest"
	"github.com/runwaydata/runway/shared/failure"
)

// TestKMSSealer runs the real Cloud KMS client against a local
// KeyManagementService: envelope encryption, each secret under a data key
// of its own that only Cloud KMS can unwrap, bound to the account and key
// id.
func TestKMSSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := kmstest.Start(t)
	sealer := srv.Sealer(t, kmstest.Key)

	secret, _ := callbacks.NewSecret("admin@example.com", time.Now())
	settings := callbacks.Settings{Secrets: []callbacks.Secret{secret}}
	one, err := settings.Seal(ctx, sealer, "000099")
	if err != nil {
		t.Fatal(err)
	}
	two, err := settings.Seal(ctx, sealer, "000099")
	if err != nil {
		t.Fatal(err)
	}
	a, b := one.Secrets[0].Sealed, two.Secrets[0].Sealed
	if !bytes.HasPrefix(a, []byte("rwkms1:")) || bytes.Contains(a, []byte(secret.Value)) || bytes.Contains(a, []byte(secret.Value[5:])) || bytes.Equal(a, b) {
		t.Errorf("sealed values %x and %x: want tagged, without the secret, and different data keys", a, b)
	}
	if srv.Encrypts.Load() != 2 {
		t.Errorf("%d Encrypt calls, want one per secret sealed", srv.Encrypts.Load())
	}
	opened, err := one.Open(ctx, sealer, "000099")
	if err != nil || opened.Secrets[0].Value != secret.Value || srv.Decrypts.Load() != 1 {
		t.Fatalf("Open = %+v, %v after %d Decrypt calls", opened.Secrets, err, srv.Decrypts.Load())
	}

	// Another account, or a sealed value altered, does not open.
	if _, err := one.Open(ctx, sealer, "000110"); err == nil {
		t.Error("a secret sealed for 000099 opened for 000110")
	}
	altered := callbacks.Settings{Secrets: []callbacks.Secret{{ID: secret.ID, Sealed: bytes.Clone(a)}}}
	altered.Secrets[0].Sealed[len(a)-1] ^= 1
	if _, err := altered.Open(ctx, sealer, "000099"); err == nil {
		t.Error("an altered sealed value opened")
	}

	// Another key of the same Cloud KMS cannot unwrap the data key.
	srv.AddKey(t, kmstest.Key+"-other")
	if _, err := one.Open(ctx, srv.Sealer(t, kmstest.Key+"-other"), "000099"); err == nil {
		t.Error("another key opened the secret")
	}

	// A value the local dev key sealed is named as such.
	local, err := callbacks.LoadOrCreateLocalSealer(filepath.Join(t.TempDir(), "callback-key"))
	if err != nil {
		t.Fatal(err)
	}
	locallySealed, _ := settings.Seal(ctx, local, "000099")
	if _, err := locallySealed.Open(ctx, sealer, "000099"); !errors.Is(err, callbacks.ErrWrongSealer) || !strings.Contains(err.Error(), "local dev key") {
		t.Errorf("a locally sealed value: %v", err)
	}
}

// TestKMSSealerFailures: Cloud KMS unreachable is a 503 to retry; a key
// that does not exist is an error of the setup; an answer damaged in
// transit is caught by its checksum.
func TestKMSSealerFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := kmstest.Start(t)
	sealer := srv.Sealer(t, kmstest.Key)
	secret, _ := callbacks.NewSecret("admin@example.com", time.Now())
	settings := callbacks.Settings{Secrets: []callbacks.Secret{secret}}
	sealed, err := settings.Seal(ctx, sealer, "000099")
	if err != nil {
		t.Fatal(err)
	}

	// The client retries an unavailable Cloud KMS until the context
	// ends (a minute by default): the request's deadline bounds it.
	srv.FailWith(status.Error(codes.Unavailable, "down"))
	sealCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, sealErr := settings.Seal(sealCtx, sealer, "000099")
	openCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, openErr := sealed.Open(openCtx, sealer, "000099")
	for what, err := range map[string]error{"seal": sealErr, "open": openErr} {
		var e *failure.Error
		if !errors.As(err, &e) || e.Kind != failure.ErrUnavailable {
			t.Errorf("%s with Cloud KMS down: %v, want failure.ErrUnavailable", what, err)
		}
	}
	srv.FailWith(nil)

	_, err = settings.Seal(ctx, srv.Sealer(t, "projects/p/locations/global/keyRings/r/cryptoKeys/missing"), "000099")
	var e *failure.Error
	if err == nil || errors.As(err, &e) || status.Code(errors.Unwrap(errors.Unwrap(err))) != codes.NotFound {
		t.Errorf("a missing key: %v, want NotFound, not unavailable", err)
	}

	srv.Corrupt.Store(true)
	if _, err := settings.Seal(ctx, sealer, "000099"); err == nil || !strings.Contains(err.Error(), "CRC32C") {
		t.Errorf("Seal with a corrupted answer: %v", err)
	}
	if _, err := sealed.Open(ctx, sealer, "000099"); err == nil || !strings.Contains(err.Error(), "CRC32C") {
		t.Errorf("Open with a corrupted answer: %v", err)
	}
	srv.Corrupt.Store(false)

	if _, err := callbacks.NewKMSSealer(ctx, "callback-secrets", srv.ClientOptions()...); err == nil {
		t.Error("a key name that is not a resource name was accepted")
	}
}
