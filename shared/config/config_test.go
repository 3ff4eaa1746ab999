package config

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "RUNWAY_AUDIENCES": "https://a.example, https://b.example"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Project: "p", FirestoreDatabase: "(default)", LaunchTopic: "runway-launch", RunEventsTopic: "runway-run-events",
		PublishTimeout: 10 * time.Second, RedeliverAfter: time.Minute, StoreTimeout: 10 * time.Second,
		Rate: Rate{100, time.Second}, LaunchRate: Rate{20, time.Second}, ReportRate: Rate{1000, time.Second}, MaxWaits: 40, MaxWaitsPerCaller: 10, Retention: 400 * 24 * time.Hour,
		AuthMode: AuthGoogle, Audiences: []string{"https://a.example", "https://b.example"},
		DevKeyFile: ".runway/dev-key.pem", ServiceAccountKeysURL: "https://www.googleapis.com/service_accounts/v1/jwk/{email}",
		LogLevel: slog.LevelInfo,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Load(lookup(map[string]string{
		"RUNWAY_AUTH_MODE":         "google",
		"RUNWAY_PUBLISH_TIMEOUT":   "soon",
		"RUNWAY_STORE_TIMEOUT":     "-1s",
		"RUNWAY_LAUNCH_RATE_LIMIT": "lots",
		"RUNWAY_REPORT_RATE_LIMIT": "5/d",
		"RUNWAY_MAX_WAITS":         "0",
		"RUNWAY_ADMINS":            "root",
		"RUNWAY_LOG_LEVEL":         "loud",
	}))
	if err == nil {
		t.Fatal("accepted a broken configuration")
	}
	for _, want := range []string{"RUNWAY_PROJECT", "RUNWAY_PUBLISH_TIMEOUT", "RUNWAY_STORE_TIMEOUT", "RUNWAY_LAUNCH_RATE_LIMIT", "RUNWAY_REPORT_RATE_LIMIT", "RUNWAY_MAX_WAITS", "RUNWAY_AUDIENCES", "RUNWAY_ADMINS", "RUNWAY_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestDevModeIsRefusedOnCloudFunctions(t *testing.T) {
	t.Parallel()
	env := map[string]string{"RUNWAY_PROJECT": "p", "RUNWAY_AUTH_MODE": "dev"}
	if _, err := Load(lookup(env)); err != nil {
		t.Fatalf("dev mode refused locally: %v", err)
	}
	env["K_SERVICE"] = "dagstatus"
	if _, err := Load(lookup(env)); err == nil || !strings.Contains(err.Error(), "K_SERVICE") {
		t.Fatalf("dev mode accepted on Cloud Functions: %v", err)
	}
}

func TestVariablesListsWhatLoadReads(t *testing.T) {
	t.Parallel()
	read := map[string]bool{}
	_, _ = Load(func(k string) (string, bool) { read[k] = true; return "", false })
	for _, v := range Variables {
		if !read[v.Name] {
			t.Errorf("Variables lists %s, which Load does not read", v.Name)
		}
		delete(read, v.Name)
	}
	delete(read, "GOOGLE_CLOUD_PROJECT") // set by the platform, not by us
	delete(read, "K_SERVICE")
	for name := range read {
		t.Errorf("Load reads %s, which Variables does not list", name)
	}
}

func TestSettingsDocDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/settings.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables {
		if !strings.Contains(string(doc), "| `"+v.Name+"` |") {
			t.Errorf("docs/settings.md's table does not list %s", v.Name)
		}
	}
}

func TestCallbackKMSKey(t *testing.T) {
	t.Parallel()
	env := map[string]string{"RUNWAY_PROJECT": "p", "RUNWAY_AUDIENCES": "https://a.example",
		"RUNWAY_CALLBACK_KMS_KEY": "projects/p/locations/europe-west1/keyRings/runway/cryptoKeys/callback-secrets"}
	if c, err := Load(lookup(env)); err != nil || c.CallbackKMSKey != env["RUNWAY_CALLBACK_KMS_KEY"] {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	env["RUNWAY_CALLBACK_KMS_KEY"] = "callback-secrets"
	if _, err := Load(lookup(env)); err == nil || !strings.Contains(err.Error(), "RUNWAY_CALLBACK_KMS_KEY") {
		t.Fatalf("a key that is not a resource name: %v", err)
	}
}

func TestIAPAudience(t *testing.T) {
	t.Parallel()
	env := map[string]string{"RUNWAY_PROJECT": "p", "RUNWAY_AUDIENCES": "https://a.example",
		"RUNWAY_IAP_AUDIENCE": "/projects/123456789/global/backendServices/987654321"}
	if c, err := Load(lookup(env)); err != nil || c.IAPAudience != env["RUNWAY_IAP_AUDIENCE"] {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	env["RUNWAY_IAP_AUDIENCE"] = "/projects/my-project/global/backendServices/runway-board"
	if _, err := Load(lookup(env)); err == nil || !strings.Contains(err.Error(), "RUNWAY_IAP_AUDIENCE") {
		t.Fatalf("an audience with names, not numbers: %v", err)
	}
}

func TestPushAudiences(t *testing.T) {
	t.Parallel()
	got, err := Load(lookup(map[string]string{
		"RUNWAY_PROJECT": "p", "RUNWAY_AUDIENCES": "https://api.example",
		"RUNWAY_PUSH_AUDIENCES": " Reaper=https://europe-west1-p.cloudfunctions.net/runway-reaper , WorkflowTrigger=https://europe-west1-p.cloudfunctions.net/runway-workflow-trigger,Reaper=https://runway-reaper-123.europe-west1.run.app",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Reaper":          {"https://europe-west1-p.cloudfunctions.net/runway-reaper", "https://runway-reaper-123.europe-west1.run.app"},
		"WorkflowTrigger": {"https://europe-west1-p.cloudfunctions.net/runway-workflow-trigger"},
	}
	if diff := cmp.Diff(want, got.PushAudiences); diff != "" {
		t.Errorf("PushAudiences (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"https://europe-west1-p.cloudfunctions.net/runway-reaper", "Reaper=", "Reaper=http://insecure.example", "=https://x.example", "Re aper=https://x.example", "Reaper=runway-reaper"} {
		_, err := Load(lookup(map[string]string{"RUNWAY_PROJECT": "p", "RUNWAY_AUDIENCES": "https://api.example", "RUNWAY_PUSH_AUDIENCES": bad}))
		if err == nil || !strings.Contains(err.Error(), "RUNWAY_PUSH_AUDIENCES") {
			t.Errorf("RUNWAY_PUSH_AUDIENCES=%q: %v, want an error naming it", bad, err)
		}
	}
}
