package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runwaydata/runway/shared/stacktest"
)

// TestProfiles: config set, get and list keep the API URL, account and
// environment per profile; login --dev records how to make tokens and
// checks the API takes them; environment variables override the profile.
func TestProfiles(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s).with(map[string]string{"RUNWAY_API_URL": "", "RUNWAY_ACCOUNT": "", "RUNWAY_ENVIRONMENT": "", "RUNWAY_TOKEN": ""})

	c.run("runs").want(t, exitUsage, "no account")
	c.must("config", "set", "api-url", s.Server.URL)
	c.must("config", "set", "account", "000099")
	c.must("config", "set", "environment", "DEV")
	c.run("config", "set", "colour", "blue").want(t, exitUsage, `unknown key "colour"`)
	if got := c.must("config", "get", "account").stdout; got != "000099\n" {
		t.Errorf("config get account = %q", got)
	}
	c.run("runs").want(t, exitAuth, "not logged in")

	c.run("login", "--dev", stacktest.Admin, "--key", s.DevKeyFile).want(t, exitOK,
		"profile default: dev token for "+stacktest.Admin, s.Server.URL+" accepts the token for account 000099")
	c.run("config", "list").want(t, exitOK, "default (current)", "api_url     "+s.Server.URL, "login       dev token for "+stacktest.Admin)
	c.must("runs", demoJob).want(t, exitOK, "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179")
	c.with(map[string]string{"RUNWAY_ACCOUNT": "000110"}).must("runs", "--type", "gbq-to-gbq", "--env", "").
		want(t, exitOK, "000110-tailer-TTT-POC-ETL-VTE_DEV")

	other := c.with(map[string]string{"RUNWAY_PROFILE": "other"})
	other.run("runs", "--account", "000099").want(t, exitAuth, "not logged in")
	// The login's token is checked, not RUNWAY_TOKEN's.
	other.with(map[string]string{"RUNWAY_TOKEN": s.Token(t, stacktest.Admin)}).
		run("login", "--dev", "nobody@example.com", "--key", s.DevKeyFile, "--account", "000099", "--api-url", s.Server.URL).
		want(t, exitAuth, "nobody@example.com has no access to account 000099")
	c.run("config", "list").want(t, exitOK, "default (current)", "other\n  login       dev token for nobody@example.com")
}

// TestLoginWithAServiceAccountKey: a service account key file makes
// tokens the account signs itself, as scripts/token --credentials does,
// which the API accepts; runway token prints them.
func TestLoginWithAServiceAccountKey(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	const runner = "runner@data-platform.iam.gserviceaccount.com"
	key := s.ServiceAccountKeyFile(t, runner)
	if r := s.Post(t, "/v1/access", `{"action": "add_member", "account": "000099", "email": "`+runner+`", "role": "executer"}`); r.Status != http.StatusOK {
		t.Fatalf("add_member: %s", r)
	}
	c := newCLI(t, s).with(map[string]string{"RUNWAY_TOKEN": ""})
	c.run("login", "--credentials", key).want(t, exitAuth, "audience") // the stack accepts stacktest.Audience only
	c.run("login", "--credentials", key, "--audience", stacktest.Audience).want(t, exitOK, "accepts the token for account 000099")
	c.must("launch", demoJob, "--dry-run")

	token := strings.TrimSpace(c.must("token").stdout)
	if r := s.Do(t, http.MethodPost, pathStatus, token, `{"action": "get_last_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+demoJob+`"}`); r.Status != http.StatusOK {
		t.Errorf("the printed token: %s", r)
	}
	other := strings.TrimSpace(newCLI(t, s).must("token", "--credentials", key, "--audience", stacktest.Audience).stdout)
	if r := s.Do(t, http.MethodPost, pathLaunch, other, `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+demoJob+`", "dry_run": true}`); r.Status != http.StatusOK {
		t.Errorf("token --credentials: %s", r)
	}
	c.run("token", "--dev", "a@example.com", "--google").want(t, exitUsage, "none of the others can be")
}

// TestExitCodes: authentication and permission errors exit 4, an API
// that cannot be reached or answers 5xx exits 5, with the API's message.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	c := newCLI(t, s)
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"code":503,"message":"Firestore is unreachable; retry"}`))
	}))
	defer unavailable.Close()
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>upstream connect error</html>", http.StatusBadGateway)
	}))
	defer gateway.Close()

	c.with(map[string]string{"RUNWAY_TOKEN": "not-a-token"}).run("runs").want(t, exitAuth, "token")
	c.with(map[string]string{"RUNWAY_TOKEN": s.Token(t, "stranger@example.com")}).run("runs").
		want(t, exitAuth, "stranger@example.com has no access to account 000099")
	c.with(map[string]string{"RUNWAY_TOKEN": "", "TAILER_API_JWT": s.Token(t, stacktest.Admin)}).must("runs")
	c.with(map[string]string{"RUNWAY_API_URL": unavailable.URL}).run("runs").want(t, exitUnavailable, "Firestore is unreachable; retry")
	c.with(map[string]string{"RUNWAY_API_URL": gateway.URL}).run("runs").want(t, exitUnavailable, "502 Bad Gateway: <html>upstream connect error</html>")
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c.with(map[string]string{"RUNWAY_API_URL": down.URL}).run("launch", demoJob, "--wait").want(t, exitUnavailable, "the API is unavailable")
	c.run("runs", "--limit", "0").want(t, exitUsage, "limit: must be between 1 and 1000")
	c.run("runs", "--no-such-flag").want(t, exitUsage, "unknown flag: --no-such-flag")
}
