// Command devserver is the local stack: every Runway function on one port
// at the reference's paths, against the Firestore and Pub/Sub emulators,
// with the demo data loaded and dev-mode tokens. scripts/dev.sh runs it
// under scripts/emulators.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/alerts/smtptest"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/demo"
	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/runs"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	admin := flag.String("admin", "dev@runway.local", "the dev user: admin of the demo accounts, and the printed token's email")
	mailDir := flag.String("mail", ".runway/mail", "where the local SMTP server keeps the alert mail, one .eml file per message (emptied at start)")
	flag.Parse()
	if err := run(*addr, *admin, *mailDir); err != nil {
		log.Fatalf("devserver: %v", err)
	}
}

func run(addr, admin, mailDir string) error {
	// The dev server trusts dev tokens: never let it near real Firestore
	// and Pub/Sub.
	for _, env := range []string{emulators.FirestoreHostEnv, emulators.PubSubHostEnv} {
		if os.Getenv(env) == "" {
			return fmt.Errorf("%s is not set; start the stack with scripts/dev.sh, which runs the emulators", env)
		}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cfg.AuthMode != config.AuthDev {
		return errors.New("RUNWAY_AUTH_MODE must be dev for the local stack")
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (is the port taken? set RUNWAY_PORT to another one): %w", addr, err)
	}
	// Alert mail goes to a local SMTP server, unless RUNWAY_SMTP_URL
	// names a relay.
	var mail string
	if cfg.SMTPURL != nil {
		mail = fmt.Sprintf("Alert mail goes to the relay of RUNWAY_SMTP_URL (%s).", cfg.SMTPURL.Redacted())
	} else {
		if err := os.RemoveAll(mailDir); err != nil {
			return err
		}
		smtpServer, err := smtptest.Start(smtptest.Config{Dir: mailDir, User: "runway", Password: "dev"})
		if err != nil {
			return err
		}
		defer smtpServer.Close()
		cfg.SMTPURL = smtpServer.URL("runway@localhost")
		mail = fmt.Sprintf("Alert mail goes to a local SMTP server on %s (RUNWAY_SMTP_URL=%s);\nread it in %s/ (one .eml file per message).",
			smtpServer.Addr(), cfg.SMTPURL.Redacted(), mailDir)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := runway.NewEnv(ctx, cfg)
	if err != nil {
		return err
	}
	defer env.Close()
	if err := bus.EnsureTopics(ctx, env.PubSub, cfg.LaunchTopic, cfg.RunEventsTopic); err != nil {
		return err
	}
	data, err := demo.Load(ctx, env.Configs, env.Store,
		auth.Member{Email: admin, Role: auth.RoleAdmin}, auth.Member{Email: executorEmail, Role: auth.RoleExecuter})
	if err != nil {
		return err
	}
	mux, err := runway.NewMux(env)
	if err != nil {
		return err
	}
	key, err := auth.LoadDevKey(cfg.DevKeyFile)
	if err != nil {
		return err
	}
	token, err := auth.SignDevToken(key, admin, time.Now(), 12*time.Hour)
	if err != nil {
		return err
	}
	// The reference executor reports to this server, with a dev token of
	// its own, and the Reaper makes a pass every few seconds.
	base := "http://" + listener.Addr().String()
	env.Config.APIURL = base
	env.ExecutorHTTP = &http.Client{Transport: &devTokenTransport{key: key, email: executorEmail}}
	if err := runway.StartDelivery(ctx, env); err != nil {
		return err
	}
	go every(ctx, env, "Reaper", passInterval, func(ctx context.Context) (any, bool, error) {
		pass, err := env.Runs.Reap(ctx, runs.DefaultReaperConfig)
		return pass, pass != runs.Pass{}, err
	})
	go every(ctx, env, "Scheduler", passInterval, func(ctx context.Context) (any, bool, error) {
		pass, err := env.Schedules.Pass(ctx)
		return pass, pass.Launched > 0, err
	})

	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	printBanner(base, token, admin, mail, data)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.Shutdown(shutdown)
}

// executorEmail is the reference executor's identity on the local stack.
const executorEmail = "reference-executor@runway.local"

// passInterval is how often the local stack's Reaper and Scheduler make a
// pass: more often than a deployment's every minute, so that demos need
// not wait (a schedule still fires at most once a minute).
const passInterval = 5 * time.Second

// every runs pass, the local stand-in for a function Cloud Scheduler
// calls, until ctx ends; it logs the passes that did something.
func every(ctx context.Context, env *runway.Env, function string, interval time.Duration, pass func(context.Context) (any, bool, error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	log := env.Logger.With(slog.String("function", function))
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			result, did, err := pass(ctx)
			switch {
			case err != nil:
				log.ErrorContext(ctx, "pass failed", slog.Any("error", err))
			case did:
				log.InfoContext(ctx, "pass", slog.Any("pass", result))
			}
		}
	}
}

// devTokenTransport signs a fresh dev token for every request, so that a
// long-running dev server's executor never reports with an expired one.
type devTokenTransport struct {
	key   ed25519.PrivateKey
	email string
}

func (d *devTokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	token, err := auth.SignDevToken(d.key, d.email, time.Now(), time.Hour)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultTransport.RoundTrip(r)
}

func printBanner(base, token, admin, mail string, data demo.Data) {
	fmt.Printf(`
Runway is up at %[1]s (every function on one port, at the reference's paths)
Demo accounts %[4]v: %[5]d configurations, %[6]d runs. %[3]s is their admin.
%[7]s
A run of 000001_append_some_data_DEV set to FAILED sends one (its monitoring block is the reference's).

Paste this to set a dev token (valid 12 hours; make others with: go run ./scripts/token --dev EMAIL):

export TAILER_API_JWT=%[2]s

then any curl of the reference, with its host replaced by %[1]s, for example:

curl --request POST \
--http2 \
--header "content-type:application/json" \
--header "Authorization: Bearer ${TAILER_API_JWT}" \
--data '{"action": "check_run_status",
         "account": "000099",
         "environment": "DEV",
         "configuration_type": "table-to-table",
         "configuration_id": "000099_iowa_liquor_prepare_pda_DEV",
         "job_id": "gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV",
         "run_id": "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"}' \
"%[1]s/v1/dag/status"

or open the run board in a browser, and sign in with the same token:

%[1]s/board/

Ctrl-C stops the server and the emulators.
`, base, token, admin, data.Accounts(), len(data.Configurations), len(data.Runs), mail)
}
