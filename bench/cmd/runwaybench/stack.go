package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/demo"
	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/logging"
)

// stack is Runway in this process: the Env every function shares, built as
// runway.NewEnv builds it but on counted clients, and every HTTP function
// served by runway.NewMux on a local HTTP server.
type stack struct {
	project string
	cfg     config.Config
	env     *runway.Env
	server  *httptest.Server
	fs      *rpcCounter // the Firestore client's RPCs
	ps      *rpcCounter // the Pub/Sub client's RPCs
	cpu     *cpuMeter
	devKey  ed25519.PrivateKey
	conn    *grpc.ClientConn
	logFile *os.File
}

// benchEnv is the configuration every stack of a run shares, as RUNWAY_*
// variables: dev tokens signed by the run's key, and no per-caller launch
// rate limit (the benchmarks launch as one caller, far above any sane
// per-caller limit; the limit is a policy, not a cost of the path).
func benchEnv(project, devKeyFile string) map[string]string {
	return map[string]string{
		"RUNWAY_PROJECT":           project,
		"RUNWAY_AUTH_MODE":         config.AuthDev,
		"RUNWAY_DEV_KEY_FILE":      devKeyFile,
		"RUNWAY_LAUNCH_RATE_LIMIT": "0",
		"RUNWAY_LOG_LEVEL":         "info",
	}
}

func newProject(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// newStack starts a stack on project; its request logs go to logPath.
func newStack(ctx context.Context, project, devKeyFile, logPath string) (*stack, error) {
	vars := benchEnv(project, devKeyFile)
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		return nil, err
	}
	s := &stack{project: project, cfg: cfg, fs: newRPCCounter(), ps: newRPCCounter(), cpu: newCPUMeter()}
	fsHost := os.Getenv(emulators.FirestoreHostEnv)
	if fsHost == "" || os.Getenv(emulators.PubSubHostEnv) == "" {
		return nil, errors.New("FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST must be set: run through scripts/bench.sh")
	}
	// The Firestore client the emulator mode of firestore.NewClient makes
	// (one connection, the emulator's owner credentials), with counting
	// interceptors.
	s.conn, err = grpc.NewClient(fsHost, append(s.fs.dialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(emulatorCredentials{}))...)
	if err != nil {
		return nil, err
	}
	fsClient, err := firestore.NewClientWithDatabase(ctx, project, cfg.FirestoreDatabase, option.WithGRPCConn(s.conn))
	if err != nil {
		return nil, err
	}
	var psOpts []option.ClientOption
	for _, o := range s.ps.dialOptions() {
		psOpts = append(psOpts, option.WithGRPCDialOption(o))
	}
	psClient, err := pubsub.NewClient(ctx, project, psOpts...)
	if err != nil {
		return nil, err
	}
	if err := bus.EnsureTopics(ctx, psClient, cfg.LaunchTopic, cfg.RunEventsTopic); err != nil {
		return nil, err
	}
	s.env, err = runway.NewEnvWith(ctx, cfg, runway.Clients{Firestore: fsClient, PubSub: psClient})
	if err != nil {
		return nil, err
	}
	// One JSON line per request, as a function writes to stdout, but to a
	// file: the cost of logging stays in the measured path.
	if s.logFile, err = os.Create(logPath); err != nil {
		return nil, err
	}
	s.env.Logger = logging.New(s.logFile, cfg.LogLevel)
	mux, err := runway.NewMux(s.env)
	if err != nil {
		return nil, err
	}
	s.server = httptest.NewServer(mux)
	if s.devKey, err = auth.LoadDevKey(cfg.DevKeyFile); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stack) close() {
	if s.server != nil {
		s.server.Close()
	}
	if s.env != nil {
		s.env.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
	if s.logFile != nil {
		s.logFile.Close()
	}
}

// emulatorCredentials is what the Firestore client sends the emulator.
type emulatorCredentials struct{}

func (emulatorCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorCredentials) RequireTransportSecurity() bool { return false }

// token returns a dev token for email.
func (s *stack) token(email string) (string, error) {
	return auth.SignDevToken(s.devKey, email, time.Now(), 2*time.Hour)
}

// launchTarget is what a caller launches: a deployed configuration of an
// account where the caller is an executer.
type launchTarget struct {
	account string
	email   string
	token   string
	cfg     configs.Configuration
	body    []byte // the launch_job request
}

// demoDefinition returns a copy of the demo's first table-to-table
// definition (the reference's example job) on account, with id as its
// configuration id when id is not empty.
func demoDefinition(account, id string) (map[string]any, error) {
	d, err := demo.Parse()
	if err != nil {
		return nil, err
	}
	for _, def := range d.Definitions {
		if def["configuration_type"] == "table-to-table" {
			def = maps.Clone(def)
			def["account"] = account
			if id != "" {
				def["configuration_id"] = id
			}
			return def, nil
		}
	}
	return nil, errors.New("the demo data has no table-to-table definition")
}

// seedLaunchTarget deploys the demo's table-to-table configuration on
// account and makes email an executer of it.
func (s *stack) seedLaunchTarget(ctx context.Context, account, email string) (launchTarget, error) {
	def, err := demoDefinition(account, "")
	if err != nil {
		return launchTarget{}, err
	}
	// The benchmarks launch thousands of runs that nobody finishes: slots
	// enough for all of them, so that every launch takes the path of a
	// launch with a slot free.
	def["max_active_runs"] = float64(configs.MaxMaxActiveRuns) // as JSON decodes it
	cfg, err := s.env.Configs.Deploy(ctx, auth.Caller{Email: "bench@runway.local", Via: "dev"}, def)
	if err != nil {
		return launchTarget{}, fmt.Errorf("deploy: %w", err)
	}
	if _, err := s.env.Store.PutMember(ctx, account, email, auth.RoleExecuter, "bench"); err != nil {
		return launchTarget{}, fmt.Errorf("put member: %w", err)
	}
	token, err := s.token(email)
	if err != nil {
		return launchTarget{}, err
	}
	body, _ := json.Marshal(map[string]string{
		"action": "launch_job", "account": account, "environment": cfg.Environment,
		"configuration_type": cfg.ConfigurationType, "configuration_id": cfg.ConfigurationID,
	})
	return launchTarget{account: account, email: email, token: token, cfg: cfg, body: body}, nil
}

// launchHTTP launches t through the API at base and returns the run id.
func launchHTTP(ctx context.Context, c *caller, base string, t launchTarget) (string, error) {
	status, body, err := c.post(ctx, base+"/v1/dag/launch", t.token, t.body)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("launch answered %d: %s", status, strings.TrimSpace(string(body)))
	}
	var resp struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.RunID == "" {
		return "", fmt.Errorf("launch answered 200 without a run_id: %s", body)
	}
	return resp.RunID, nil
}

// errorLog keeps the number of failed operations and the first few errors.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (e *errorLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.first) < 3 {
		e.first = append(e.first, err.Error())
	}
}

func (e *errorLog) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *errorLog) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d (first: %s)", e.n, strings.Join(e.first, "; "))
}

func ensureDir(path string) error { return os.MkdirAll(filepath.Dir(path), 0o755) }
