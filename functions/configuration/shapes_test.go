package configuration_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/stacktest"
)

// firestoreHostile returns JSON that a Firestore map cannot hold: nesting
// past its 20 levels, arrays in arrays, an empty key and reserved keys.
func firestoreHostile() map[string]any {
	var deep any = "bottom"
	for range 25 {
		deep = map[string]any{"level": deep}
	}
	return map[string]any{
		"deep":       deep,
		"matrix":     []any{[]any{1.0, 2.0}, []any{[]any{3.0}}},
		"":           "empty key",
		"__name__":   "reserved",
		"__other__":  map[string]any{"__name__": true},
		"big_number": 12345678901234.0,
	}
}

// TestDefinitionsFirestoreCannotHoldAsMaps: a definition nested deeper
// than Firestore maps go, with arrays in arrays or reserved keys, is
// deployed and read back exactly (it was a 500).
func TestDefinitionsFirestoreCannotHoldAsMaps(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	def := map[string]any{"configuration_type": "table-to-table", "configuration_id": "000099_hostile",
		"account": "000099", "environment": "DEV", "workflow": []any{}}
	for k, v := range firestoreHostile() {
		def[k] = v
	}
	deploy(t, s, def).Decode(t, &api.ConfigurationResponse{})
	var got api.ConfigurationResponse
	s.Post(t, path, `{"action": "get_configuration", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_hostile_DEV"}`).Decode(t, &got)
	if diff := cmp.Diff(def, got.Configuration.Definition); diff != "" {
		t.Errorf("definition read back (-deployed +read):\n%s", diff)
	}
	// The run's launch carries it too.
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_hostile_DEV", "dry_run": true}`).Decode(t, &launched)
	if launched.Launch == nil || !cmp.Equal(launched.Launch.Definition, def) {
		t.Errorf("the launch message carries %+v", launched.Launch)
	}
}

// TestMadeUpPageTokens: page tokens this API did not make are a 400 that
// names page_token, even when they decode to something (they were a 500
// when they could not be a Firestore document id).
func TestMadeUpPageTokens(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	for _, token := range []string{"not base64!", "a/b", "..", ".", "__name__", "DEV~table-to-table", "DEV~nosuchkind~x", "DEV~table-to-table~a/b"} {
		encoded := token
		if token != "not base64!" {
			encoded = base64.RawURLEncoding.EncodeToString([]byte(token))
		}
		body, _ := json.Marshal(map[string]any{"action": "list_configurations", "account": "000099", "page_token": encoded})
		t.Run(strings.ReplaceAll(token, "/", "|"), func(t *testing.T) {
			s.Post(t, path, string(body)).WantError(t, http.StatusBadRequest, "page_token")
		})
	}
}

// TestDeployDryRun: a dry run makes every check of a deploy and answers
// what would be stored, with the next version, writing nothing; a bad
// definition is the same 400 as a deploy's.
func TestDeployDryRun(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	before := s.Snapshot(t, "000099")
	var got api.ConfigurationResponse
	s.Post(t, path, `{"action": "deploy_configuration", "dry_run": true, "configuration": {"configuration_type": "table-to-table",
		"configuration_id": "000099_iowa_liquor_prepare_pda", "account": "000099", "environment": "DEV", "schedule_interval": "@daily"}}`).Decode(t, &got)
	if !got.DryRun || got.Configuration.Version != 2 || got.Configuration.NextTick == "" || got.Configuration.ConfigurationID != "000099_iowa_liquor_prepare_pda_DEV" {
		t.Errorf("dry run answered %+v", got)
	}
	s.Post(t, path, `{"action": "deploy_configuration", "dry_run": true, "configuration": {"configuration_type": "workflow",
		"configuration_id": "wf", "account": "000099", "environment": "DEV", "version": "2", "gcp_project_id": "p",
		"authorized_job_ids": ["x"], "target_dag": {"configuration_type": "table-to-table", "configuration_id": "nope"}}}`).
		WantError(t, http.StatusBadRequest, "configuration.target_dag")
	if diff := cmp.Diff(before, s.Snapshot(t, "000099")); diff != "" {
		t.Errorf("a dry run changed documents (-before +after):\n%s", diff)
	}
}
