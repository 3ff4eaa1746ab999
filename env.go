package runway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/schedules"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/workflows"
)

// Env holds what the functions of one process share, built once per
// instance: the clients and the services on top of them.
type Env struct {
	Config     config.Config
	Logger     *slog.Logger
	Firestore  *firestore.Client
	PubSub     *pubsub.Client
	Store      *store.Store
	Bus        *bus.Bus
	Verifier   *auth.Verifier
	Authorizer *auth.Authorizer
	Runs       *runs.Service
	Configs    *configs.Service
	Workflows  *workflows.Service
	Schedules  *schedules.Service
	// Limits keep one caller from starving the others on the instance.
	Limits *api.Limits

	// ExecutorHTTP, when set, is the authenticated client the reference
	// executor reports with (the dev stack and the tests set it); otherwise
	// it uses Google ID tokens of its service account, for RUNWAY_API_URL.
	ExecutorHTTP *http.Client

	// sealer seals and opens the accounts' callback signing secrets; nil
	// where there is no key for it (CallbackSealer says why).
	sealer    callbacks.Sealer
	kmsSealer *callbacks.KMSSealer // closed by Close
}

// CallbackSealer returns what seals and opens the accounts' callback
// signing secrets, which Access, CallbackDispatcher and AlertDispatcher
// need: Cloud KMS with RUNWAY_CALLBACK_KMS_KEY, else, in dev mode only, a
// local key beside the dev signing key (callback-key in its directory).
func (e *Env) CallbackSealer() (callbacks.Sealer, error) {
	if e.sealer == nil {
		return nil, errors.New("runway: RUNWAY_CALLBACK_KMS_KEY is required by Access, CallbackDispatcher and AlertDispatcher outside dev mode")
	}
	return e.sealer, nil
}

// buildSealer builds what CallbackSealer returns.
func (e *Env) buildSealer(ctx context.Context) (err error) {
	switch {
	case e.Config.CallbackKMSKey != "":
		// The client dials on first use: functions that never seal pay
		// nothing but its construction.
		e.kmsSealer, err = callbacks.NewKMSSealer(ctx, e.Config.CallbackKMSKey)
		e.sealer = e.kmsSealer
	case e.Config.AuthMode == config.AuthDev:
		e.sealer, err = callbacks.LoadOrCreateLocalSealer(filepath.Join(filepath.Dir(e.Config.DevKeyFile), "callback-key"))
	}
	return err
}

// ExecutorClient returns the client the reference executor reports to the
// API with.
func (e *Env) ExecutorClient(ctx context.Context) (*executor.Client, error) {
	if e.Config.APIURL == "" {
		return nil, errors.New("runway: RUNWAY_API_URL is required by the reference executor")
	}
	if e.ExecutorHTTP != nil {
		return executor.NewClientWithHTTP(e.Config.APIURL, e.ExecutorHTTP), nil
	}
	return executor.NewClient(ctx, e.Config.APIURL)
}

// Clients are the Google Cloud clients an Env is built on.
type Clients struct {
	Firestore *firestore.Client
	PubSub    *pubsub.Client
}

// NewEnv builds the clients and services cfg describes. It fails rather
// than return an Env with a missing piece.
func NewEnv(ctx context.Context, cfg config.Config) (*Env, error) {
	return NewEnvWith(ctx, cfg, Clients{})
}

// NewEnvWith is NewEnv on the clients given; the missing ones are built
// from cfg. The Env owns them all: Close closes them. Tests pass clients
// that reach the emulators through a proxy they can cut.
func NewEnvWith(ctx context.Context, cfg config.Config, clients Clients) (_ *Env, err error) {
	env := &Env{Config: cfg, Logger: logging.New(os.Stdout, cfg.LogLevel), Firestore: clients.Firestore, PubSub: clients.PubSub}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	if env.Firestore == nil {
		if env.Firestore, err = firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.FirestoreDatabase); err != nil {
			return nil, fmt.Errorf("runway: firestore client: %w", err)
		}
	}
	if env.PubSub == nil {
		if env.PubSub, err = pubsub.NewClient(ctx, cfg.Project); err != nil {
			return nil, fmt.Errorf("runway: pubsub client: %w", err)
		}
	}
	if env.Store, err = store.New(env.Firestore, cfg.StoreTimeout, store.WithRetention(cfg.Retention)); err != nil {
		return nil, err
	}
	if env.Bus, err = bus.New(env.PubSub, bus.Topics{Launch: cfg.LaunchTopic, RunEvents: cfg.RunEventsTopic}, cfg.PublishTimeout); err != nil {
		return nil, err
	}
	verifierCfg := auth.VerifierConfig{Audiences: cfg.Audiences, ServiceAccountKeysURL: cfg.ServiceAccountKeysURL}
	if cfg.AuthMode == config.AuthDev {
		key, err := auth.LoadOrCreateDevKey(cfg.DevKeyFile)
		if err != nil {
			return nil, err
		}
		verifierCfg.DevKey = key.Public().(ed25519.PublicKey)
	}
	if env.Verifier, err = auth.NewVerifier(ctx, verifierCfg); err != nil {
		return nil, err
	}
	if env.Authorizer, err = auth.NewAuthorizer(env.Store, cfg.Admins); err != nil {
		return nil, err
	}
	env.Limits = newLimits(cfg)
	if err := env.buildSealer(ctx); err != nil {
		return nil, err
	}
	if err := env.buildServices(); err != nil {
		return nil, err
	}
	return env, nil
}

// DefaultScheduleConfig is how much a Scheduler pass does: every shard in
// parallel, up to 500 due configurations a shard, and 10 ticks a
// configuration catching up.
var DefaultScheduleConfig = schedules.Config{Shards: store.ScheduleShards, Configurations: 500, TicksPerConfiguration: 10}

// newLimits returns the limits cfg sets, one set per instance.
func newLimits(cfg config.Config) *api.Limits {
	limiter := func(r config.Rate) *api.Limiter {
		if r.N == 0 {
			return nil
		}
		return api.NewLimiter(r.N, r.Period, nil)
	}
	return &api.Limits{
		Rate:    limiter(cfg.Rate),
		Actions: map[string]*api.Limiter{"launch_job": limiter(cfg.LaunchRate), "report_run_status": limiter(cfg.ReportRate)},
		Waits:   api.NewSlots(cfg.MaxWaits, cfg.MaxWaitsPerCaller),
	}
}

// RunsWithClock builds the runs service as the Env's own (Env.Runs), on
// the clock now (nil for time.Now): a test's Reaper pass at another time
// uses it.
func (e *Env) RunsWithClock(now func() time.Time) (*runs.Service, error) {
	return runs.NewService(runs.Deps{Store: e.Store, Bus: e.Bus, Authz: e.Authorizer,
		Callbacks:      callbacks.Policy{Settings: e.Store, AllowPrivate: e.Config.AuthMode == config.AuthDev},
		Now:            now,
		RedeliverAfter: e.Config.RedeliverAfter, PublishTimeout: e.Config.PublishTimeout})
}

// buildServices builds the domain services on the Env's store and bus.
func (e *Env) buildServices() (err error) {
	if e.Runs, err = e.RunsWithClock(nil); err != nil {
		return err
	}
	if e.Configs, err = configs.NewService(e.Store, nil); err != nil {
		return err
	}
	if e.Workflows, err = workflows.NewService(e.Store, e.Runs, nil); err != nil {
		return err
	}
	if e.Schedules, err = schedules.NewService(e.Store, e.Runs, DefaultScheduleConfig, nil); err != nil {
		return err
	}
	return nil
}

// For returns the Env route's function runs with: the clients of e, and
// services that publish only to the topics the route declares, as the
// function's deployment is allowed to.
func (e *Env) For(route Route) (*Env, error) {
	f := *e
	f.Bus = e.Bus.Only(route.Publishes...)
	if err := f.buildServices(); err != nil {
		return nil, fmt.Errorf("runway: %s: %w", route.Function, err)
	}
	return &f, nil
}

// Close flushes the publishers and closes the clients.
func (e *Env) Close() error {
	var errs []error
	if e.Bus != nil {
		e.Bus.Close()
	}
	if e.kmsSealer != nil {
		errs = append(errs, e.kmsSealer.Close())
	}
	if e.PubSub != nil {
		errs = append(errs, e.PubSub.Close())
	}
	if e.Firestore != nil {
		errs = append(errs, e.Firestore.Close())
	}
	return errors.Join(errs...)
}
