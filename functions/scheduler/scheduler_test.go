package scheduler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/schedules"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSchedulerPassForCloudScheduler: the Scheduler's endpoint, as the
// route table builds it, makes a pass for a Google ID token of Cloud
// Scheduler's account, issued for the Scheduler's own URL, and answers
// what the pass did; anyone else is refused, and so is anything but a POST.
func TestSchedulerPassForCloudScheduler(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	if _, err := s.Env.Store.PutMember(context.Background(), "000099", stacktest.Admin, auth.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	// Hourly since yesterday, catching up: due at once, whatever the time.
	def, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": map[string]any{
		"configuration_type": "table-to-table", "configuration_id": "000099_hourly", "account": "000099", "environment": "DEV",
		"schedule_interval": "@hourly", "start_date": "2020, 1, 1", "catchup": true, "max_active_runs": 100}})
	s.Post(t, "/v1/configuration", string(def)).Decode(t, &api.ConfigurationResponse{})

	const cloudScheduler = "runway-reaper-scheduler@data-platform.iam.gserviceaccount.com"
	const self = "https://europe-west1-data-platform.cloudfunctions.net/runway-scheduler"
	key, client := stacktest.GoogleKeys(t)
	env := *s.Env
	env.Config.SystemCallers = []string{cloudScheduler}
	env.Config.PushAudiences = map[string][]string{"Scheduler": {self}}
	var err error
	env.Verifier, err = auth.NewVerifier(context.Background(), auth.VerifierConfig{Audiences: []string{stacktest.Audience}, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	route, _ := runway.RouteFor("Scheduler")
	h, err := route.Handler(&env)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := call(http.MethodPost, stacktest.GoogleIDToken(t, key, cloudScheduler, self))
	var pass schedules.Pass
	if err := json.NewDecoder(w.Body).Decode(&pass); w.Code != http.StatusOK || err != nil {
		t.Fatalf("Cloud Scheduler's call answered %d (%v)", w.Code, err)
	}
	want := schedules.Pass{Configurations: 1, Launched: runway.DefaultScheduleConfig.TicksPerConfiguration}
	if diff := cmp.Diff(want, pass); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	found, err := s.Env.Store.QueryRuns(context.Background(), "000099", runs.Query{Kind: configs.KindTableToTable, Environment: "DEV",
		ConfigurationID: "000099_hourly_DEV", Limit: 100})
	if err != nil || len(found) != want.Launched {
		t.Errorf("%d runs after the pass (%v), want %d", len(found), err, want.Launched)
	}
	for name, tc := range map[string]struct {
		method, token string
		want          int
	}{
		"another caller":     {http.MethodPost, stacktest.GoogleIDToken(t, key, "someone@data-platform.iam.gserviceaccount.com", self), http.StatusForbidden},
		"the API's audience": {http.MethodPost, stacktest.GoogleIDToken(t, key, cloudScheduler, stacktest.Audience), http.StatusUnauthorized},
		"a GET":              {http.MethodGet, stacktest.GoogleIDToken(t, key, cloudScheduler, self), http.StatusMethodNotAllowed},
	} {
		if w := call(tc.method, tc.token); w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", name, w.Code, w.Body, tc.want)
		}
	}
}
