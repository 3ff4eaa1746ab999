package reaper_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
)

// TestReaperPassForTheScheduler: the Reaper's endpoint, as the route table
// builds it, makes a pass for a Google ID token of a RUNWAY_SYSTEM_CALLERS
// account (Cloud Scheduler's) and answers what the pass did.
func TestReaperPassForTheScheduler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := stacktest.New(t)
	s.Seed(t)
	// A run launched two minutes ago that no executor claimed.
	cfg, err := s.Env.Configs.Get(ctx, "000099", configs.ConfigRef{Environment: "DEV", Kind: configs.KindTableToTable, ConfigurationID: job})
	if err != nil {
		t.Fatal(err)
	}
	run := runs.NewRun(cfg, runs.RandomKey(), time.Now().Add(-2*time.Minute))
	run.Deliveries, run.DeliverBy = 1, run.StartExecutionDate.Add(runs.DefaultRedeliverAfter)
	if err := s.Env.Store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}

	// The stack's environment, with Google's keys served locally and the
	// scheduler's service account as the one system caller.
	const scheduler = "reaper-scheduler@data-platform.iam.gserviceaccount.com"
	key, client := stacktest.GoogleKeys(t)
	env := *s.Env
	env.Config.SystemCallers = []string{scheduler}
	env.Config.PushAudiences = map[string][]string{"Reaper": {stacktest.Audience}}
	env.Verifier, err = auth.NewVerifier(ctx, auth.VerifierConfig{Audiences: []string{stacktest.Audience}, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	route, _ := runway.RouteFor("Reaper")
	h, err := route.Handler(&env)
	if err != nil {
		t.Fatal(err)
	}
	post := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := post(stacktest.GoogleIDToken(t, key, scheduler, stacktest.Audience))
	if w.Code != http.StatusOK {
		t.Fatalf("the scheduler's call answered %d %s, want 200", w.Code, w.Body)
	}
	var pass runs.Pass
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pass); err != nil {
		t.Fatalf("the answer is not a pass: %v", err)
	}
	if diff := cmp.Diff(runs.Pass{Published: 1}, pass); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	if got, err := s.Env.Store.GetRun(ctx, "000099", run.Key); err != nil || got.Deliveries != 2 {
		t.Errorf("the unclaimed run after the pass: %+v, %v; want it published again", got, err)
	}

	// The same keys, for anyone else or another audience, are refused.
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"another caller":   {stacktest.GoogleIDToken(t, key, "someone@data-platform.iam.gserviceaccount.com", stacktest.Audience), http.StatusForbidden},
		"another audience": {stacktest.GoogleIDToken(t, key, scheduler, "https://elsewhere.example.com"), http.StatusUnauthorized},
	} {
		if w := post(tc.token); w.Code != tc.want || !strings.Contains(w.Body.String(), `"code"`) {
			t.Errorf("%s: %d %s, want a JSON %d", name, w.Code, w.Body, tc.want)
		}
	}
}
