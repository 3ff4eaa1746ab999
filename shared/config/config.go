// Package config reads Runway's configuration from RUNWAY_* environment
// variables, once, at start-up, and reports every problem at the same time.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/logging"
)

// Auth modes.
const (
	AuthGoogle = "google" // Google-signed tokens only: every deployment
	AuthDev    = "dev"    // also tokens signed by the local dev key: the local stack only
)

// Config is the configuration shared by every function.
type Config struct {
	// Project is the Google Cloud project holding Firestore and Pub/Sub.
	Project string
	// FirestoreDatabase lets several Runway installations share a project.
	FirestoreDatabase string
	// LaunchTopic is where launch messages go for executors.
	LaunchTopic string
	// RunEventsTopic is where run status changes go for workflows.
	RunEventsTopic string
	// PublishTimeout bounds a launch's publish; past it the run is left for
	// the Reaper and the caller still gets its run id.
	PublishTimeout time.Duration
	// RedeliverAfter is how long a launch message may go unclaimed before
	// the Reaper publishes it again.
	RedeliverAfter time.Duration
	// StoreTimeout bounds each Firestore operation, so that an outage
	// answers 503 rather than holding requests open.
	StoreTimeout time.Duration
	// Retention is how long runs and their events are kept.
	Retention time.Duration
	// Rate is how many requests a caller may make of each function
	// instance, across the actions without a rate of their own: one caller
	// cannot take an instance from the others.
	Rate Rate
	// LaunchRate is how many launches a caller may make, per instance.
	LaunchRate Rate
	// ReportRate is how many report_run_status requests an executor may
	// make, per instance: a budget of their own, which no reads use up.
	ReportRate Rate
	// MaxWaits caps the check_run_status requests holding a wait_seconds
	// at once on an instance, so that they leave room for executors'
	// reports; MaxWaitsPerCaller caps those of one caller.
	MaxWaits          int
	MaxWaitsPerCaller int
	// AuthMode is AuthGoogle or AuthDev.
	AuthMode string
	// Audiences are the API's URLs, which Google ID tokens must be issued for.
	Audiences []string
	// APIURL is the API's URL, where the reference executor sends its
	// reports.
	APIURL string
	// DevKeyFile is the dev signing key made by scripts/token (dev mode only).
	DevKeyFile string
	// ServiceAccountKeysURL is where service accounts' public keys are
	// published ({email} replaced), to verify the tokens they sign
	// themselves. Only tests and air-gapped installations change it.
	ServiceAccountKeysURL string
	// Admins are platform admins: admins of every account.
	Admins []string
	// SystemCallers are the service accounts of the push subscriptions and
	// the scheduler, the only callers of the functions they feed.
	SystemCallers []string
	// PushAudiences are, by entry point, the URLs the functions that push
	// subscriptions and the scheduler call are called as: each accepts
	// system callers' tokens issued for its own URLs only.
	PushAudiences map[string][]string
	// LogLevel is the least severe level logged.
	LogLevel slog.Level

	// IAPAudience is the backend service that Identity-Aware Proxy guards
	// the board with, /projects/NUMBER/global/backendServices/ID: the
	// audience of the assertions the board accepts. Required by Board in
	// google mode; the dev stack signs in with dev tokens instead.
	IAPAudience string

	// CallbackKMSKey is the Cloud KMS key that seals the accounts'
	// callback signing secrets (Access seals, CallbackDispatcher and
	// AlertDispatcher open).
	// Empty on the dev stack, which seals them with a local key beside
	// DevKeyFile instead; the local key is refused on Cloud Run/Functions.
	CallbackKMSKey string

	// SMTPURL is the relay the AlertDispatcher sends email alerts through
	// (smtp:// or smtps://, its user and password, the sender as from=);
	// nil for none. It holds a password: never log it.
	SMTPURL *url.URL
	// BoardURL starts the links alerts carry to runs and configurations;
	// "" for none.
	BoardURL string
}

// Variable describes one environment variable Config reads.
type Variable struct {
	Name    string
	Default string
	Doc     string
}

// Variables lists every variable Load reads. The table of docs/settings.md
// and the Terraform cross-check are built from it.
var Variables = []Variable{
	{"RUNWAY_PROJECT", "$GOOGLE_CLOUD_PROJECT", "Google Cloud project of Firestore and Pub/Sub"},
	{"RUNWAY_FIRESTORE_DATABASE", "(default)", "Firestore database id"},
	{"RUNWAY_LAUNCH_TOPIC", "runway-launch", "Pub/Sub topic launch messages are published to"},
	{"RUNWAY_RUN_EVENTS_TOPIC", "runway-run-events", "Pub/Sub topic run status changes are published to"},
	{"RUNWAY_PUBLISH_TIMEOUT", "10s", "how long a launch waits for its publish before leaving it to the Reaper"},
	{"RUNWAY_REDELIVER_AFTER", "1m", "how long a launch message may go unclaimed by an executor before the Reaper publishes it again (then twice as long, up to 5 publishes)"},
	{"RUNWAY_STORE_TIMEOUT", "10s", "how long a Firestore operation may take before the request answers 503"},
	{"RUNWAY_RETENTION_DAYS", "400", "days runs and their events are kept before Firestore's TTL policy deletes them"},
	{"RUNWAY_RATE_LIMIT", "100/s", "requests per caller and per instance of the actions without a rate of their own (100/s, 600/m…; 0 for none), past which 429"},
	{"RUNWAY_LAUNCH_RATE_LIMIT", "20/s", "launch_job requests per caller and per instance, past which 429"},
	{"RUNWAY_REPORT_RATE_LIMIT", "1000/s", "report_run_status requests per executor and per instance, past which 429"},
	{"RUNWAY_MAX_WAITS", "40", "check_run_status requests waiting (wait_seconds) at once per instance, past which 429: keep it under the function's concurrency, which executors' reports share"},
	{"RUNWAY_MAX_WAITS_PER_CALLER", "10", "check_run_status requests one caller may hold waiting at once per instance, past which 429"},
	{"RUNWAY_AUTH_MODE", AuthGoogle, "google, or dev for the local stack (refused on Cloud Functions)"},
	{"RUNWAY_AUDIENCES", "", "comma-separated API URLs accepted as Google ID token audiences (required in google mode)"},
	{"RUNWAY_API_URL", "", "the API's URL, where the reference executor reports (required by ReferenceExecutor)"},
	{"RUNWAY_DEV_KEY_FILE", ".runway/dev-key.pem", "dev signing key (dev mode only)"},
	{"RUNWAY_SA_KEYS_URL", auth.DefaultServiceAccountKeysURL, "where service accounts' public keys are published ({email} is replaced)"},
	{"RUNWAY_ADMINS", "", "comma-separated emails of platform admins"},
	{"RUNWAY_SYSTEM_CALLERS", "", "comma-separated service accounts of the push subscriptions and the scheduler"},
	{"RUNWAY_PUSH_AUDIENCES", "", "comma-separated EntryPoint=URL: the audience the push subscription's or scheduler's tokens are issued for, per function"},
	{"RUNWAY_LOG_LEVEL", "info", "debug, info, warning or error"},
	{"RUNWAY_CALLBACK_KMS_KEY", "", "Cloud KMS key sealing the callback signing secrets (required by Access, CallbackDispatcher and AlertDispatcher outside dev mode)"},
	{"RUNWAY_SMTP_URL", "", "the relay of email alerts: smtp:// (STARTTLS when offered) or smtps://, with user:password@host:port and ?from= the sender; a secret, from Secret Manager"},
	{"RUNWAY_BOARD_URL", "", "where people look at runs: the board's URL, such as https://runway.example.com/board: alerts link to {url}/{account}/runs/{type}/{id}/{run_id} and {url}/{account}/runs?configuration={environment}/{type}/{id}"},
	{"RUNWAY_IAP_AUDIENCE", "", "/projects/NUMBER/global/backendServices/ID: the backend service Identity-Aware Proxy guards the board with (required by Board in google mode)"},
}

// SecretVariables are the variables that hold secrets: Terraform sets them
// from Secret Manager on the functions that read them, never in the
// environment every function shares.
var SecretVariables = map[string]bool{"RUNWAY_SMTP_URL": true}

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.LookupEnv) }

// Load reads the configuration through lookup (os.LookupEnv, or a map in
// tests) and returns every problem found, joined.
func Load(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		if v, ok := lookup(name); ok {
			return strings.TrimSpace(v)
		}
		for _, v := range Variables {
			if v.Name == name && !strings.HasPrefix(v.Default, "$") {
				return v.Default
			}
		}
		return ""
	}
	var problems []error
	c := Config{
		Project:               get("RUNWAY_PROJECT"),
		FirestoreDatabase:     get("RUNWAY_FIRESTORE_DATABASE"),
		LaunchTopic:           get("RUNWAY_LAUNCH_TOPIC"),
		RunEventsTopic:        get("RUNWAY_RUN_EVENTS_TOPIC"),
		AuthMode:              get("RUNWAY_AUTH_MODE"),
		Audiences:             list(get("RUNWAY_AUDIENCES")),
		DevKeyFile:            get("RUNWAY_DEV_KEY_FILE"),
		ServiceAccountKeysURL: get("RUNWAY_SA_KEYS_URL"),
		Admins:                list(get("RUNWAY_ADMINS")),
	}
	if c.Project == "" {
		c.Project, _ = lookup("GOOGLE_CLOUD_PROJECT")
	}
	if c.Project == "" {
		problems = append(problems, errors.New("RUNWAY_PROJECT (or GOOGLE_CLOUD_PROJECT) is required"))
	}
	if c.LaunchTopic == "" || c.RunEventsTopic == "" {
		problems = append(problems, errors.New("RUNWAY_LAUNCH_TOPIC and RUNWAY_RUN_EVENTS_TOPIC must not be empty"))
	}
	timeout, err := time.ParseDuration(get("RUNWAY_PUBLISH_TIMEOUT"))
	if err != nil || timeout <= 0 {
		problems = append(problems, fmt.Errorf("RUNWAY_PUBLISH_TIMEOUT must be a positive duration such as 10s, not %q", get("RUNWAY_PUBLISH_TIMEOUT")))
	}
	c.PublishTimeout = timeout
	redeliverAfter, err := time.ParseDuration(get("RUNWAY_REDELIVER_AFTER"))
	if err != nil || redeliverAfter <= 0 {
		problems = append(problems, fmt.Errorf("RUNWAY_REDELIVER_AFTER must be a positive duration such as 1m, not %q", get("RUNWAY_REDELIVER_AFTER")))
	}
	c.RedeliverAfter = redeliverAfter
	storeTimeout, err := time.ParseDuration(get("RUNWAY_STORE_TIMEOUT"))
	if err != nil || storeTimeout <= 0 {
		problems = append(problems, fmt.Errorf("RUNWAY_STORE_TIMEOUT must be a positive duration such as 10s, not %q", get("RUNWAY_STORE_TIMEOUT")))
	}
	c.StoreTimeout = storeTimeout
	rate := func(name string) Rate {
		r, err := parseRate(get(name))
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
		}
		return r
	}
	c.Rate, c.LaunchRate, c.ReportRate = rate("RUNWAY_RATE_LIMIT"), rate("RUNWAY_LAUNCH_RATE_LIMIT"), rate("RUNWAY_REPORT_RATE_LIMIT")
	count := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n < 1 {
			problems = append(problems, fmt.Errorf("%s must be a whole number of at least 1, not %q", name, get(name)))
		}
		return n
	}
	c.MaxWaits, c.MaxWaitsPerCaller = count("RUNWAY_MAX_WAITS"), count("RUNWAY_MAX_WAITS_PER_CALLER")
	c.Retention = time.Duration(count("RUNWAY_RETENTION_DAYS")) * 24 * time.Hour
	switch c.AuthMode {
	case AuthGoogle:
		if len(c.Audiences) == 0 {
			problems = append(problems, errors.New("RUNWAY_AUDIENCES is required in google auth mode: the API's URL(s), e.g. https://runway.example.com"))
		}
	case AuthDev:
		// Dev tokens are signed by a key on a developer's disk: never
		// accept them where the functions really run.
		if k, ok := lookup("K_SERVICE"); ok && k != "" {
			problems = append(problems, errors.New("RUNWAY_AUTH_MODE=dev is refused on Cloud Run/Functions (K_SERVICE is set)"))
		}
		if c.DevKeyFile == "" {
			problems = append(problems, errors.New("RUNWAY_DEV_KEY_FILE is required in dev auth mode"))
		}
	default:
		problems = append(problems, fmt.Errorf("RUNWAY_AUTH_MODE must be %q or %q, not %q", AuthGoogle, AuthDev, c.AuthMode))
	}
	if !strings.Contains(c.ServiceAccountKeysURL, "{email}") {
		problems = append(problems, fmt.Errorf("RUNWAY_SA_KEYS_URL must contain {email}, not %q", c.ServiceAccountKeysURL))
	}
	c.SystemCallers = list(get("RUNWAY_SYSTEM_CALLERS"))
	if c.PushAudiences, err = ParsePushAudiences(get("RUNWAY_PUSH_AUDIENCES")); err != nil {
		problems = append(problems, fmt.Errorf("RUNWAY_PUSH_AUDIENCES: %w", err))
	}
	c.APIURL = get("RUNWAY_API_URL")
	if u, err := url.Parse(c.APIURL); c.APIURL != "" && (err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http")) {
		problems = append(problems, fmt.Errorf("RUNWAY_API_URL must be a URL such as https://runway.example.com, not %q", c.APIURL))
	}
	for name, emails := range map[string][]string{"RUNWAY_ADMINS": c.Admins, "RUNWAY_SYSTEM_CALLERS": c.SystemCallers} {
		for _, email := range emails {
			if _, err := mail.ParseAddress(email); err != nil {
				problems = append(problems, fmt.Errorf("%s: %q is not an email address", name, email))
			}
		}
	}
	level, ok := logging.ParseLevel(get("RUNWAY_LOG_LEVEL"))
	if !ok {
		problems = append(problems, fmt.Errorf("RUNWAY_LOG_LEVEL must be debug, info, warning or error, not %q", get("RUNWAY_LOG_LEVEL")))
	}
	c.LogLevel = level

	// Callback secrets: sealed with Cloud KMS; with a local key in dev mode only.
	c.CallbackKMSKey = get("RUNWAY_CALLBACK_KMS_KEY")
	if c.CallbackKMSKey != "" && !kmsKeyName.MatchString(c.CallbackKMSKey) {
		problems = append(problems, fmt.Errorf("RUNWAY_CALLBACK_KMS_KEY must be a key name such as projects/P/locations/L/keyRings/R/cryptoKeys/K, not %q", c.CallbackKMSKey))
	}

	// Alerts.
	if raw := get("RUNWAY_SMTP_URL"); raw != "" {
		if c.SMTPURL, err = parseSMTPURL(raw); err != nil {
			problems = append(problems, fmt.Errorf("RUNWAY_SMTP_URL: %w", err))
		}
	}
	c.BoardURL = strings.TrimSuffix(get("RUNWAY_BOARD_URL"), "/")
	if u, err := url.Parse(c.BoardURL); c.BoardURL != "" && (err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http")) {
		problems = append(problems, fmt.Errorf("RUNWAY_BOARD_URL must be a URL such as https://runway.example.com/board, not %q", c.BoardURL))
	}
	c.IAPAudience = get("RUNWAY_IAP_AUDIENCE")
	if c.IAPAudience != "" && !iapAudience.MatchString(c.IAPAudience) {
		problems = append(problems, fmt.Errorf("RUNWAY_IAP_AUDIENCE must be /projects/NUMBER/global/backendServices/ID, not %q", c.IAPAudience))
	}

	if len(problems) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(problems...))
	}
	return c, nil
}

// parseSMTPURL reads RUNWAY_SMTP_URL. Its errors never quote the
// password.
func parseSMTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL: write smtps://USER:PASSWORD@HOST:PORT?from=SENDER")
	}
	_, hasPassword := u.User.Password()
	from, fromErr := mail.ParseAddress(u.Query().Get("from"))
	switch {
	case u.Scheme != "smtp" && u.Scheme != "smtps":
		return nil, fmt.Errorf("the scheme must be smtp or smtps, not %q", u.Scheme)
	case u.Hostname() == "":
		return nil, errors.New("no host: write smtps://USER:PASSWORD@HOST:PORT?from=SENDER")
	case u.User != nil && (u.User.Username() == "" || !hasPassword):
		return nil, errors.New("a user needs a password, and a password a user")
	case fromErr != nil || from.Name != "":
		return nil, fmt.Errorf("from= must be the sender's address, such as ?from=alerts@example.com, not %q", u.Query().Get("from"))
	}
	return u, nil
}

var (
	kmsKeyName  = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)
	iapAudience = regexp.MustCompile(`^/projects/[0-9]+/global/backendServices/[0-9]+$`)
)

func list(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Rate is N events per Period; the zero Rate is no limit.
type Rate struct {
	N      int
	Period time.Duration
}

// ParsePushAudiences reads RUNWAY_PUSH_AUDIENCES: comma-separated
// EntryPoint=URL entries, an entry point possibly named more than once.
// The Terraform check reads the module's value with it.
func ParsePushAudiences(s string) (map[string][]string, error) {
	var out map[string][]string
	for _, item := range list(s) {
		function, aud, ok := strings.Cut(item, "=")
		function, aud = strings.TrimSpace(function), strings.TrimSpace(aud)
		u, err := url.Parse(aud)
		if !ok || !entryPoint.MatchString(function) || err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("write EntryPoint=https://URL entries, such as Reaper=https://europe-west1-my-project.cloudfunctions.net/runway-reaper; not %q", item)
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[function] = append(out[function], aud)
	}
	return out, nil
}

var entryPoint = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// parseRate reads a rate written "<n>/s", "<n>/m" or "<n>/h"; "0" means
// none.
func parseRate(s string) (Rate, error) {
	if s == "0" {
		return Rate{}, nil
	}
	count, unit, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(count)
	period := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok || err != nil || n < 1 || period == 0 {
		return Rate{}, fmt.Errorf("write a rate like 20/s, 600/m or 1000/h, or 0 for none; not %q", s)
	}
	return Rate{N: n, Period: period}, nil
}
