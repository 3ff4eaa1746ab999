package reaper_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/emulators"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const job = "000099_iowa_liquor_prepare_pda_DEV"

// reapUntil makes Reaper passes, two at a time, as if the time were ahead
// by ahead, until done says so.
func reapUntil(t *testing.T, s *stacktest.Stack, ahead time.Duration, what string, done func() bool) {
	t.Helper()
	reaper, err := s.Env.RunsWithClock(func() time.Time { return time.Now().Add(ahead) })
	if err != nil {
		t.Fatal(err)
	}
	cfg := runs.ReaperConfig{PublishAfter: 0, Lease: time.Minute, MaxDeliveries: 5, Batch: 100, Workers: 16}
	for deadline := time.Now().Add(60 * time.Second); !done(); {
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = reaper.Reap(context.Background(), cfg) // errors while Pub/Sub reconnects
			}()
		}
		wg.Wait()
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPubSubOutage: with Pub/Sub unreachable, a launch still answers with
// its run; once Pub/Sub is back and the run has gone unclaimed for its
// redelivery delay, the Reaper publishes it exactly once, even with two
// Reapers at work. A status change made during the outage reaches the run
// events topic the same way, once.
func TestPubSubOutage(t *testing.T) {
	proxy := testenv.NewProxy(t, os.Getenv(emulators.PubSubHostEnv))
	s := stacktest.New(t, stacktest.WithPubSubVia(proxy), stacktest.WithPublishTimeout("1s"))
	s.Seed(t)
	launches := s.Subscribe(t, "runway-launch")
	events := s.Subscribe(t, "runway-run-events")

	proxy.SetDown(true)
	start := time.Now()
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+job+`"}`).Decode(t, &launched)
	t.Logf("launch answered in %v with Pub/Sub down", time.Since(start).Round(time.Millisecond))
	key, _ := runs.RunKey(launched.RunID)
	run, err := s.Env.Store.GetRun(context.Background(), "000099", key)
	if err != nil || run.Deliveries != 1 || run.DeliveryDue().IsZero() {
		t.Fatalf("run during the outage = %+v, %v; want it stored, awaiting its claim", run, err)
	}
	// A status change of another run, during the outage.
	const checked = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	checkedKey, _ := runs.RunKey(checked)
	s.Post(t, "/v1/dag/status", `{"action": "set_run_status", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+job+`", "run_id": "`+checked+`", "status": "CHECKED"}`).Decode(t, &api.Results{})

	proxy.SetDown(false)
	// Passes before the run's redelivery time leave it alone.
	reapUntil(t, s, 0, "the event to be published", func() bool {
		changes, _ := s.Env.Store.Events(context.Background(), "000099", checkedKey, runs.EventPage{Limit: 1000})
		return len(changes) == 1 && changes[0].Published
	})
	if msgs := stacktest.Receive(t, launches, 0); len(msgs) != 0 {
		t.Fatalf("%d launch messages before the run's redelivery time", len(msgs))
	}
	ahead := 2 * runs.DefaultRedeliverAfter
	reapUntil(t, s, ahead, "the run to be published again", func() bool {
		run, err := s.Env.Store.GetRun(context.Background(), "000099", key)
		return err == nil && run.Deliveries == 2
	})
	// More passes publish nothing more: the next redelivery is later.
	reapUntil(t, s, ahead, "a few more passes", func() bool { return true })
	if msgs := stacktest.Receive(t, launches, 1); len(msgs) != 1 || msgs[0].Attributes["run_id"] != launched.RunID {
		t.Errorf("%d launch messages after the outage, want exactly 1", len(msgs))
	}
	if msgs := stacktest.Receive(t, events, 1); len(msgs) != 1 || msgs[0].Attributes["status"] != "CHECKED" {
		t.Errorf("%d run events after the outage, want exactly 1", len(msgs))
	}
}

// TestReaperAnswersTheSchedulerOnly: the Reaper's HTTP endpoint refuses
// anyone but RUNWAY_SYSTEM_CALLERS, admins included.
func TestReaperAnswersTheSchedulerOnly(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	route, _ := runway.RouteFor("Reaper")
	h, err := route.Handler(s.Env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, token string
		want          int
	}{
		{http.MethodPost, "", http.StatusUnauthorized},
		{http.MethodPost, s.Token(t, stacktest.Admin), http.StatusForbidden},
		{http.MethodGet, s.Token(t, stacktest.Admin), http.StatusMethodNotAllowed},
	} {
		r := httptest.NewRequest(tc.method, "/", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s with token %v: %d %s, want %d", tc.method, tc.token != "", w.Code, w.Body, tc.want)
		}
	}
}
