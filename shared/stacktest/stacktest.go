// Package stacktest runs the whole Runway stack in-process for tests: every
// HTTP function on one httptest server, on a project of its own on the
// Firestore and Pub/Sub emulators, with dev-mode tokens.
//
// The package's TestMain must be testenv.Main, which provides the emulators.
package stacktest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/demo"
	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/testenv"
)

// Admin is the email of the dev user that Seed makes admin of the demo
// accounts.
const Admin = "dev@runway.local"

// Executor is the identity the reference executor reports with; Seed makes
// it an executer of the demo accounts.
const Executor = "reference-executor@runway.local"

// Audience is the API URL the stack accepts in service account tokens.
const Audience = "https://runway.test"

// Stack is a running in-process Runway.
type Stack struct {
	Project string
	Env     *runway.Env
	Server  *httptest.Server
	// DevKeyFile is the dev key the stack's tokens are signed with: a
	// function process started on the same project with it accepts them.
	DevKeyFile string
	devKey     ed25519.PrivateKey
	saKeys     *keyServer
	logs       *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logs returns what the stack has logged so far.
func (s *Stack) Logs() string { return s.logs.String() }

// Option changes how a stack is made.
type Option func(*options)

type options struct {
	firestoreVia, pubsubVia *testenv.Proxy
	firestoreDial           []grpc.DialOption
	config                  map[string]string // RUNWAY_* variables
}

// WithFirestoreVia makes the stack reach Firestore through p, which the
// test can cut.
func WithFirestoreVia(p *testenv.Proxy) Option { return func(o *options) { o.firestoreVia = p } }

// WithFirestoreDialOptions makes the stack's Firestore client with opts,
// say an interceptor that records the stack's writes.
func WithFirestoreDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.firestoreDial = opts }
}

// WithPubSubVia makes the stack reach Pub/Sub through p, which the test
// can cut.
func WithPubSubVia(p *testenv.Proxy) Option { return func(o *options) { o.pubsubVia = p } }

// WithPublishTimeout sets RUNWAY_PUBLISH_TIMEOUT (5s by default).
func WithPublishTimeout(d string) Option { return WithConfig("RUNWAY_PUBLISH_TIMEOUT", d) }

// WithStoreTimeout sets RUNWAY_STORE_TIMEOUT (30s by default: the
// emulator of a loaded machine is slow, and only outage tests want 503s
// sooner).
func WithStoreTimeout(d string) Option { return WithConfig("RUNWAY_STORE_TIMEOUT", d) }

// WithConfig sets a RUNWAY_* variable of the stack's configuration. By
// default the stack sets no rate limits and caps no waits: tests send
// bursts.
func WithConfig(name, value string) Option { return func(o *options) { o.config[name] = value } }

// New starts a stack on a new project. It is stopped when the test ends.
func New(t testing.TB, opts ...Option) *Stack {
	t.Helper()
	o := options{config: map[string]string{
		"RUNWAY_PUBLISH_TIMEOUT":      "5s",
		"RUNWAY_STORE_TIMEOUT":        "30s",
		"RUNWAY_RATE_LIMIT":           "0",
		"RUNWAY_LAUNCH_RATE_LIMIT":    "0",
		"RUNWAY_REPORT_RATE_LIMIT":    "0",
		"RUNWAY_MAX_WAITS":            "10000",
		"RUNWAY_MAX_WAITS_PER_CALLER": "10000",
	}}
	for _, opt := range opts {
		opt(&o)
	}
	ctx := context.Background()
	project := testenv.Project(t)
	// Creating the clients checks the emulators are reachable; topics are
	// made directly on the emulator, whatever the stack goes through.
	testenv.Firestore(t, project)
	if err := bus.EnsureTopics(ctx, testenv.PubSub(t, project), "runway-launch", "runway-run-events"); err != nil {
		t.Fatal(err)
	}
	saKeys := newKeyServer(t)
	vars := map[string]string{
		"RUNWAY_PROJECT":      project,
		"RUNWAY_AUTH_MODE":    config.AuthDev,
		"RUNWAY_DEV_KEY_FILE": filepath.Join(t.TempDir(), "dev-key.pem"),
		"RUNWAY_AUDIENCES":    Audience,
		"RUNWAY_SA_KEYS_URL":  saKeys.server.URL + "/jwk/{email}",
	}
	maps.Copy(vars, o.config)
	cfg, err := config.Load(mapLookup(vars))
	if err != nil {
		t.Fatal(err)
	}
	var clients runway.Clients
	switch {
	case o.firestoreVia != nil:
		clients.Firestore = testenv.FirestoreVia(t, project, o.firestoreVia.Addr(), o.firestoreDial...)
	case len(o.firestoreDial) > 0:
		clients.Firestore = testenv.FirestoreVia(t, project, os.Getenv(emulators.FirestoreHostEnv), o.firestoreDial...)
	}
	if o.pubsubVia != nil {
		clients.PubSub = testenv.PubSubVia(t, project, o.pubsubVia.Addr())
	}
	env, err := runway.NewEnvWith(ctx, cfg, clients)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	logs := &syncBuffer{}
	env.Logger = logging.New(io.MultiWriter(t.Output(), logs), cfg.LogLevel)
	mux, err := runway.NewMux(env)
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	key, err := auth.LoadDevKey(cfg.DevKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{Project: project, Env: env, Server: server, DevKeyFile: cfg.DevKeyFile, devKey: key, saKeys: saKeys, logs: logs}
	// The reference executor reports to this stack, as Executor.
	env.Config.APIURL = server.URL
	env.ExecutorHTTP = &http.Client{Transport: bearer{token: s.Token(t, Executor)}}
	return s
}

// bearer adds a bearer token to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// StartDelivery feeds the Pub/Sub functions named (WorkflowTrigger,
// ReferenceExecutor), or all, from the emulator, as the dev server does,
// until the test ends.
func (s *Stack) StartDelivery(t testing.TB, functions ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := runway.StartDelivery(ctx, s.Env, functions...); err != nil {
		t.Fatal(err)
	}
}

// Seed loads the demo data and makes Admin an admin of its accounts.
func (s *Stack) Seed(t testing.TB) demo.Data {
	t.Helper()
	d, err := demo.Load(context.Background(), s.Env.Configs, s.Env.Store,
		auth.Member{Email: Admin, Role: auth.RoleAdmin}, auth.Member{Email: Executor, Role: auth.RoleExecuter})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Token returns a dev token for email.
func (s *Stack) Token(t testing.TB, email string) string {
	t.Helper()
	token, err := auth.SignDevToken(s.devKey, email, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// Response is an HTTP response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// Do sends a request to the stack. token may be empty for none; a
// content-type of application/json is set when body is not empty.
func (s *Stack) Do(t testing.TB, method, path, token, body string) Response {
	t.Helper()
	req, err := http.NewRequest(method, s.Server.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.Send(t, req)
}

// Send sends req and reads the response.
func (s *Stack) Send(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := s.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Post sends a JSON body to path as the admin.
func (s *Stack) Post(t testing.TB, path, body string) Response {
	t.Helper()
	return s.Do(t, http.MethodPost, path, s.Token(t, Admin), body)
}

// Subscribe creates a subscription to topic and returns it; messages
// published after it exists are kept for it. It talks to the emulator
// directly, not through the stack's proxies.
func (s *Stack) Subscribe(t testing.TB, topic string) *pubsub.Subscriber {
	t.Helper()
	ps := testenv.PubSub(t, s.Project)
	name := fmt.Sprintf("projects/%s/subscriptions/%s-%d", s.Project, topic, time.Now().UnixNano())
	_, err := ps.SubscriptionAdminClient.CreateSubscription(context.Background(), &pubsubpb.Subscription{
		Name:  name,
		Topic: fmt.Sprintf("projects/%s/topics/%s", s.Project, topic),
	})
	if err != nil {
		t.Fatalf("create subscription: %v", err)
	}
	return ps.Subscriber(name)
}

// WantError checks that r is a JSON error with the given status, a message,
// and problems with exactly the given fields (in any order).
func (r Response) WantError(t testing.TB, status int, fields ...string) api.Error {
	t.Helper()
	var e api.Error
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("response %s is not a JSON error: %v", r, err)
	}
	if r.Status != status || e.Code != status || e.Message == "" {
		t.Fatalf("response %s, want a %d error with a message", r, status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got []string
	for _, fe := range e.Errors {
		got = append(got, fe.Field)
	}
	sort.Strings(got)
	sort.Strings(fields)
	if len(fields) == 0 {
		fields = nil
	}
	if !reflect.DeepEqual(got, fields) {
		t.Fatalf("fields at fault = %v, want %v (%s)", got, fields, r.Body)
	}
	return e
}

// Decode decodes a 200 response's body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("response %s, want 200", r)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %s: %v", r, err)
	}
}

// RunCount returns how many run documents account has.
func (s *Stack) RunCount(t testing.TB, account string) int {
	t.Helper()
	snaps, err := s.Env.Firestore.Collection("accounts/" + account + "/runs").Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(snaps)
}

// Receive waits up to a minute for n messages on sub, then 2s more for any
// extra one, and returns all it received: what a test that counts the
// messages published compares with n, without betting on how soon a
// loaded emulator delivers them. n = 0 checks that nothing arrives.
func Receive(t testing.TB, sub *pubsub.Subscriber, n int) []*pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu  sync.Mutex
		got []*pubsub.Message
	)
	enough := make(chan struct{})
	if n == 0 {
		close(enough)
	}
	received := make(chan error, 1)
	go func() {
		received <- sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			mu.Lock()
			defer mu.Unlock()
			if got = append(got, m); len(got) == n {
				close(enough)
			}
		})
	}()
	select {
	case <-enough:
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	cancel()
	if err := <-received; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got
}

// Eventually checks cond every 50ms until it holds, and fails the test if
// it does not within 30s: for what Pub/Sub delivers in its own time.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
