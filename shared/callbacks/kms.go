package callbacks

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/runwaydata/runway/shared/failure"
)

// kmsKeyName is the form of a Cloud KMS key's resource name.
var kmsKeyName = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// ValidKMSKeyName explains what is wrong with a Cloud KMS key name, or
// returns nil.
func ValidKMSKeyName(name string) error {
	if !kmsKeyName.MatchString(name) {
		return fmt.Errorf("%q is not a Cloud KMS key name such as projects/P/locations/L/keyRings/R/cryptoKeys/K", name)
	}
	return nil
}

// KMSSealer seals secrets by envelope encryption under a Cloud KMS key: a
// new random data key per secret encrypts it (AES-256-GCM), and Cloud KMS
// encrypts the data key, both bound to the secret's account and key id.
// Sealing needs roles/cloudkms.cryptoKeyEncrypter on the key, opening
// roles/cloudkms.cryptoKeyDecrypter: the Terraform grants the first to the
// Access function only and the second to the CallbackDispatcher only.
type KMSSealer struct {
	client *kms.KeyManagementClient
	key    string
}

// NewKMSSealer returns a sealer using key, the resource name of a Cloud
// KMS symmetric key; opts are for tests (a local endpoint).
func NewKMSSealer(ctx context.Context, key string, opts ...option.ClientOption) (*KMSSealer, error) {
	if err := ValidKMSKeyName(key); err != nil {
		return nil, fmt.Errorf("callbacks: %w", err)
	}
	client, err := kms.NewKeyManagementClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("callbacks: Cloud KMS client: %w", err)
	}
	return &KMSSealer{client: client, key: key}, nil
}

// Close closes the Cloud KMS client.
func (k *KMSSealer) Close() error { return k.client.Close() }

// kmsTimeout bounds each call to Cloud KMS, retries included, so that an
// outage answers 503 rather than holding the request: the client retries
// an unavailable Cloud KMS for a minute otherwise.
const kmsTimeout = 10 * time.Second

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, castagnoli)))
}

// errIntegrity is a Cloud KMS request or answer damaged in transit.
var errIntegrity = errors.New("callbacks: Cloud KMS request or answer corrupted in transit (CRC32C mismatch)")

// Seal implements Sealer: "rwkms1:", the length of the wrapped data key
// (two bytes, big-endian), the wrapped data key, then the secret sealed
// under the data key.
func (k *KMSSealer) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	body, err := gcmSeal(dataKey, plaintext, aad)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, kmsTimeout)
	defer cancel()
	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name: k.key, Plaintext: dataKey, PlaintextCrc32C: crc32c(dataKey),
		AdditionalAuthenticatedData: aad, AdditionalAuthenticatedDataCrc32C: crc32c(aad),
	})
	if err != nil {
		return nil, kmsError("encrypt", k.key, err)
	}
	// The integrity checks Google recommends for every KMS call.
	if !resp.GetVerifiedPlaintextCrc32C() || !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() ||
		resp.GetCiphertextCrc32C().GetValue() != crc32c(resp.GetCiphertext()).GetValue() {
		return nil, errIntegrity
	}
	wrapped := resp.GetCiphertext()
	if len(wrapped) == 0 || len(wrapped) > 0xffff {
		return nil, fmt.Errorf("callbacks: Cloud KMS returned a wrapped key of %d bytes", len(wrapped))
	}
	out := make([]byte, 0, len(tagKMS)+2+len(wrapped)+len(body))
	out = append(out, tagKMS...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	return append(out, body...), nil
}

// Open implements Sealer.
func (k *KMSSealer) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < len(tagKMS)+2 || string(sealed[:len(tagKMS)]) != tagKMS {
		return nil, fmt.Errorf("%w: the secret was sealed by %s, not by Cloud KMS", ErrWrongSealer, describeTag(sealed))
	}
	rest := sealed[len(tagKMS):]
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) < 2+n {
		return nil, errors.New("callbacks: sealed value too short")
	}
	wrapped, body := rest[2:2+n], rest[2+n:]
	ctx, cancel := context.WithTimeout(ctx, kmsTimeout)
	defer cancel()
	resp, err := k.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name: k.key, Ciphertext: wrapped, CiphertextCrc32C: crc32c(wrapped),
		AdditionalAuthenticatedData: aad, AdditionalAuthenticatedDataCrc32C: crc32c(aad),
	})
	if err != nil {
		return nil, kmsError("decrypt", k.key, err)
	}
	if resp.GetPlaintextCrc32C().GetValue() != crc32c(resp.GetPlaintext()).GetValue() {
		return nil, errIntegrity
	}
	return gcmOpen(resp.GetPlaintext(), body, aad)
}

// kmsError makes what Cloud KMS answered an error: its being unreachable
// or overloaded is failure.Unavailable (503, retry), anything else (the key
// or the role missing, a value it did not seal) an error of the setup.
func kmsError(op, key string, err error) error {
	err = fmt.Errorf("callbacks: Cloud KMS %s with %s: %w", op, key, err)
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return failure.Unavailable("Cloud KMS", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return failure.Unavailable("Cloud KMS", err)
	}
	return err
}
