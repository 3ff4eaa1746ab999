// Package kmstest is a local Cloud KMS for tests: a gRPC server with
// Encrypt and Decrypt of google.cloud.kms.v1.KeyManagementService, which
// the real Cloud KMS client (and so callbacks.KMSSealer) talks to over a
// plain local connection. There is no Cloud KMS emulator; this one keeps
// the parts of the contract the sealer relies on: AES-GCM under a key per
// key name, additional authenticated data, and the CRC32C integrity
// fields. Import it from _test.go files only.
package kmstest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"hash/crc32"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/runwaydata/runway/shared/callbacks"
)

// Key is the name of the key Start makes.
const Key = "projects/runway-test/locations/global/keyRings/runway/cryptoKeys/callback-secrets"

// Server is a local Cloud KMS.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer
	// Addr is where it listens.
	Addr string

	mu   sync.Mutex
	keys map[string]cipher.AEAD
	// Encrypts and Decrypts count the calls answered.
	Encrypts, Decrypts atomic.Int64
	// Corrupt, when set, damages every answer in transit: its ciphertext
	// or plaintext no longer matches the checksum sent with it.
	Corrupt atomic.Bool
	fail    atomic.Pointer[error]
}

// Start starts a server with Key, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: lis.Addr().String(), keys: map[string]cipher.AEAD{}}
	s.AddKey(t, Key)
	g := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(g, s)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return s
}

// AddKey makes a new key named name.
func (s *Server) AddKey(t testing.TB, name string) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = aead
}

// FailWith makes every call answer err (nil: answer again).
func (s *Server) FailWith(err error) {
	if err == nil {
		s.fail.Store(nil)
		return
	}
	s.fail.Store(&err)
}

// ClientOptions point a Cloud KMS client at the server.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Sealer returns a callbacks.KMSSealer of key on the server, closed when
// the test ends.
func (s *Server) Sealer(t testing.TB, key string) *callbacks.KMSSealer {
	t.Helper()
	sealer, err := callbacks.NewKMSSealer(context.Background(), key, s.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sealer.Close() })
	return sealer
}

var table = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) int64 { return int64(crc32.Checksum(b, table)) }

// checked reports whether a checksum sent with a request matches, as
// Cloud KMS does: a mismatch is an error, an absent checksum unchecked.
func checked(sum *wrapperspb.Int64Value, b []byte) (verified bool, err error) {
	if sum == nil {
		return false, nil
	}
	if sum.GetValue() != crc(b) {
		return false, status.Error(codes.InvalidArgument, "checksum mismatch")
	}
	return true, nil
}

func (s *Server) key(name string) (cipher.AEAD, error) {
	if err := s.fail.Load(); err != nil {
		return nil, *err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	aead, ok := s.keys[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found", name)
	}
	return aead, nil
}

// Encrypt implements kmspb.KeyManagementServiceServer.
func (s *Server) Encrypt(_ context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	aead, err := s.key(req.GetName())
	if err != nil {
		return nil, err
	}
	plainOK, err := checked(req.GetPlaintextCrc32C(), req.GetPlaintext())
	if err != nil {
		return nil, err
	}
	aadOK, err := checked(req.GetAdditionalAuthenticatedDataCrc32C(), req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	ciphertext := aead.Seal(nonce, nonce, req.GetPlaintext(), req.GetAdditionalAuthenticatedData())
	s.Encrypts.Add(1)
	resp := &kmspb.EncryptResponse{
		Name: req.GetName() + "/cryptoKeyVersions/1", Ciphertext: ciphertext, CiphertextCrc32C: wrapperspb.Int64(crc(ciphertext)),
		VerifiedPlaintextCrc32C: plainOK, VerifiedAdditionalAuthenticatedDataCrc32C: aadOK,
	}
	if s.Corrupt.Load() {
		resp.Ciphertext[0] ^= 1
	}
	return resp, nil
}

// Decrypt implements kmspb.KeyManagementServiceServer.
func (s *Server) Decrypt(_ context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	aead, err := s.key(req.GetName())
	if err != nil {
		return nil, err
	}
	if _, err := checked(req.GetCiphertextCrc32C(), req.GetCiphertext()); err != nil {
		return nil, err
	}
	if _, err := checked(req.GetAdditionalAuthenticatedDataCrc32C(), req.GetAdditionalAuthenticatedData()); err != nil {
		return nil, err
	}
	c := req.GetCiphertext()
	if len(c) < aead.NonceSize() {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	plaintext, err := aead.Open(nil, c[:aead.NonceSize()], c[aead.NonceSize():], req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	s.Decrypts.Add(1)
	resp := &kmspb.DecryptResponse{Plaintext: plaintext, PlaintextCrc32C: wrapperspb.Int64(crc(plaintext))}
	if s.Corrupt.Load() {
		resp.Plaintext[0] ^= 1
	}
	return resp, nil
}
