package dagstatus_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
)

// TestRunEventsComeInPages: a run's events have no bound, so
// get_run_events answers them in pages (100 by default): the pages, read
// with next_page_token, put together are the whole history, oldest first,
// with the launch once.
func TestRunEventsComeInPages(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	ctx := context.Background()
	runID := launchRun(t, s)
	ref := runs.RunRef{Account: "000099", Kind: configs.KindTableToTable, ConfigurationID: ttt, RunID: runID}
	admin := auth.Caller{Email: stacktest.Admin}
	// Nobody claims the run: once its redelivery time (brought forward
	// here) has passed, a Reaper pass publishes it again, an event of its
	// own.
	key, _ := runs.RunKey(runID)
	if _, _, err := s.Env.Store.UpdateRun(ctx, "000099", key, func(r *runs.Run) (runs.Update, error) {
		r.DeliverBy = time.Now().Add(-time.Second)
		return runs.Update{Save: true}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if pass, err := s.Env.Runs.Reap(ctx, runs.DefaultReaperConfig); err != nil || pass.Published != 1 {
		t.Fatalf("Reaper pass %+v, %v: want the run published again", pass, err)
	}
	const flips = 105
	for i := range flips {
		status := runs.StatusFailed
		if i%2 == 1 {
			status = runs.StatusChecked
		}
		if _, err := s.Env.Runs.SetStatus(ctx, admin, ref, status, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	events := func(extra string) api.RunEventsResponse {
		var got api.RunEventsResponse
		s.Post(t, statusPath, `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
			"configuration_id": "`+ttt+`", "run_id": "`+runID+`"`+extra+`}`).Decode(t, &got)
		return got
	}
	whole := events(`, "limit": 1000`)
	if len(whole.Events) != flips+2 || whole.NextPageToken != "" || whole.Events[0].Type != "launched" || whole.Events[1].Type != runs.EventRepublished {
		t.Fatalf("the whole history has %d events (want %d), next %q, starting %+v", len(whole.Events), flips+2, whole.NextPageToken, whole.Events[:2])
	}
	if first := events(""); len(first.Events) != api.DefaultEventsLimit+1 || first.NextPageToken == "" {
		t.Errorf("by default: %d events (want %d recorded and the launch), next %q",
			len(first.Events), api.DefaultEventsLimit, first.NextPageToken)
	}
	for _, limit := range []int{1, 2, 7, 104, 105} {
		t.Run(fmt.Sprintf("pages of %d", limit), func(t *testing.T) {
			var all []api.RunEvent
			token, pages := "", 0
			for {
				extra := fmt.Sprintf(`, "limit": %d`, limit)
				if token != "" {
					extra += `, "page_token": "` + token + `"`
				}
				page := events(extra)
				pages++
				all = append(all, page.Events...)
				if token = page.NextPageToken; token == "" {
					break
				}
			}
			if diff := cmp.Diff(whole.Events, all); diff != "" {
				t.Errorf("the pages put together (-whole +pages):\n%s", diff)
			}
			if want := (flips + 1 + limit - 1) / limit; pages != want {
				t.Errorf("%d pages, want %d", pages, want)
			}
		})
	}
	for _, token := range []string{"x", base64.RawURLEncoding.EncodeToString([]byte("2026-12-01T07:00:00Z/a/b")),
		base64.RawURLEncoding.EncodeToString([]byte("yesterday/AAAAAAAAAAAAAAAAAAAA"))} {
		s.Post(t, statusPath, `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
			"configuration_id": "`+ttt+`", "run_id": "`+runID+`", "page_token": "`+token+`"}`).WantError(t, http.StatusBadRequest, "page_token")
	}
	s.Post(t, statusPath, `{"action": "get_run_events", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+ttt+`", "run_id": "`+runID+`", "limit": 1001}`).WantError(t, http.StatusBadRequest, "limit")
}
