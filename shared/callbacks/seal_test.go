package callbacks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func localSealer(t *testing.T) *LocalSealer {
	t.Helper()
	s, err := LoadOrCreateLocalSealer(filepath.Join(t.TempDir(), "callback-key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSealAndOpenSettings: sealed settings keep no secret in plain text,
// open to the same secrets for the same account only, and plain-text
// secrets of documents stored before sealing still work.
func TestSealAndOpenSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sealer := localSealer(t)
	a, _ := NewSecret("x", time.Now())
	b, _ := NewSecret("x", time.Now())
	plain := Settings{AllowedHosts: []string{"hooks.example.com"}, Secrets: []Secret{a, b}}
	sealed, err := plain.Seal(ctx, sealer, "000099")
	if err != nil {
		t.Fatal(err)
	}
	for i, sec := range sealed.Secrets {
		if sec.Value != "" || len(sec.Sealed) == 0 || sec.ID != plain.Secrets[i].ID ||
			bytes.Contains(sec.Sealed, []byte(plain.Secrets[i].Value)) || bytes.Contains(sec.Sealed, []byte(plain.Secrets[i].Value[5:])) {
			t.Errorf("sealed secret %d: %+v", i, sec)
		}
	}
	if plain.Secrets[0].Value != a.Value {
		t.Error("Seal changed the settings it was called on")
	}
	// Sealing again keeps what is sealed as it is.
	again, err := sealed.Seal(ctx, sealer, "000099")
	if err != nil || !bytes.Equal(again.Secrets[0].Sealed, sealed.Secrets[0].Sealed) {
		t.Errorf("sealing sealed settings changed them: %v", err)
	}
	opened, err := sealed.Open(ctx, sealer, "000099")
	if err != nil || opened.Secrets[0].Value != a.Value || opened.Secrets[1].Value != b.Value {
		t.Fatalf("opened %+v, %v", opened.Secrets, err)
	}
	// Bound to the account and the key id.
	if _, err := sealed.Open(ctx, sealer, "000110"); err == nil {
		t.Error("a secret sealed for 000099 opened for 000110")
	}
	swapped := Settings{Secrets: []Secret{{ID: b.ID, Sealed: sealed.Secrets[0].Sealed}}}
	if _, err := swapped.Open(ctx, sealer, "000099"); err == nil {
		t.Error("a sealed secret opened under another key id")
	}
	// A plain-text secret (a document stored before sealing) is used as it is.
	legacy := Settings{Secrets: []Secret{a}}
	if got, err := legacy.Open(ctx, sealer, "000099"); err != nil || got.Secrets[0].Value != a.Value {
		t.Errorf("legacy secret: %+v, %v", got, err)
	}
	if _, err := (Settings{Secrets: []Secret{{ID: "k_x"}}}).Seal(ctx, sealer, "000099"); err == nil {
		t.Error("sealed a secret without a value")
	}
}

func TestLocalSealerRefusesOtherKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	one, other := localSealer(t), localSealer(t)
	sealed, err := one.Seal(ctx, []byte("rwcs_x"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(ctx, sealed, []byte("aad")); !errors.Is(err, ErrWrongSealer) || !strings.Contains(err.Error(), "another local dev key") {
		t.Errorf("another key: %v", err)
	}
	if _, err := one.Open(ctx, append([]byte(tagKMS), sealed...), []byte("aad")); !errors.Is(err, ErrWrongSealer) || !strings.Contains(err.Error(), "Cloud KMS") {
		t.Errorf("a KMS-sealed value: %v", err)
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	if _, err := one.Open(ctx, altered, []byte("aad")); err == nil {
		t.Error("an altered value opened")
	}
	if got, err := one.Open(ctx, sealed, []byte("aad")); err != nil || string(got) != "rwcs_x" {
		t.Errorf("Open = %q, %v", got, err)
	}
}

// TestLocalSealerKeyFile: the key is made once, kept, and shared by
// processes starting at the same time.
func TestLocalSealerKeyFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "callback-key")
	sealers := make([]*LocalSealer, 8)
	var wg sync.WaitGroup
	for i := range sealers {
		wg.Go(func() {
			s, err := LoadOrCreateLocalSealer(path)
			if err != nil {
				t.Error(err)
			}
			sealers[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sealed, _ := sealers[0].Seal(ctx, []byte("rwcs_x"), nil)
	for i, s := range sealers {
		if got, err := s.Open(ctx, sealed, nil); err != nil || string(got) != "rwcs_x" {
			t.Errorf("sealer %d does not have the same key: %v", i, err)
		}
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file %v, %v: want mode 0600", info, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the key's directory holds %d files, want the key alone", len(entries))
	}
	if err := os.WriteFile(path, []byte("not hex"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateLocalSealer(path); err == nil {
		t.Error("a broken key file was accepted")
	}
}

// TestLocalSealerRefusedOnCloudRun: like dev auth mode, the local key is
// never used where the functions are deployed.
func TestLocalSealerRefusedOnCloudRun(t *testing.T) {
	t.Setenv("K_SERVICE", "runway-access")
	if _, err := LoadOrCreateLocalSealer(filepath.Join(t.TempDir(), "callback-key")); err == nil || !strings.Contains(err.Error(), "K_SERVICE") {
		t.Errorf("the local key was accepted on Cloud Run: %v", err)
	}
}
