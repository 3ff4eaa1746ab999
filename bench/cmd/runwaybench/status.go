package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
)

// statusTarget is a configuration whose runs the status queries read.
type statusTarget struct {
	label string
	cfg   configs.Configuration
	runs  int
}

// statusCase is one query timed on one target, through HTTP and directly.
type statusCase struct {
	action  string
	target  statusTarget
	http    *result
	direct  *result
	results int // results the HTTP answers held, in total
	queries int // HTTP queries timed
}

type statusFigures struct {
	cases       []*statusCase
	seeded      int
	seedTime    time.Duration
	limit       int
	queriesEach int
}

// find returns the case of action on the target labelled label.
func (f *statusFigures) find(action, label string) *statusCase {
	for _, c := range f.cases {
		if c.action == action && c.target.label == label {
			return c
		}
	}
	return nil
}

const (
	labelSmall     = "small"
	labelLarge     = "large"
	labelNeighbour = "neighbour"
	labelAlone     = "small, alone"
	statusLimit    = 10
)

func statusSection(ctx context.Context, o options, rep *report, devKeyFile string) error {
	s, err := newStack(ctx, newProject("bench-status"), devKeyFile, filepath.Join(o.work, "status-requests.log"))
	if err != nil {
		return err
	}
	defer s.close()
	viewer := "bench-viewer@runway.local"
	deployer := auth.Caller{Email: "bench@runway.local", Via: "dev"}
	deploy := func(account, id string) (configs.Configuration, error) {
		def, err := demoDefinition(account, id)
		if err != nil {
			return configs.Configuration{}, err
		}
		cfg, err := s.env.Configs.Deploy(ctx, deployer, def)
		if err != nil {
			return configs.Configuration{}, err
		}
		_, err = s.env.Store.PutMember(ctx, account, viewer, auth.RoleViewer, "bench")
		return cfg, err
	}
	// One account with a configuration of 10 runs; another with a
	// configuration of statusRuns runs, and beside it a neighbour with 10.
	small, err := deploy("bench-small", "bench_status_job")
	if err != nil {
		return err
	}
	fig := &statusFigures{limit: statusLimit, queriesEach: o.statusQueries}
	rep.status = fig
	newest := time.Now().UTC().Add(-time.Hour)
	if err := seedRuns(ctx, s, small, 10, newest); err != nil {
		return err
	}
	token, err := s.token(viewer)
	if err != nil {
		return err
	}
	client := newCaller(30 * time.Second)
	actions := []string{"get_last_status", "get_by_status"}

	// The small configuration alone in the database first: how the
	// emulator answers before it holds the large account.
	empty := statusTarget{labelAlone, small, 10}
	log.Printf("status: %d × each action on the 10-run configuration before the large account exists", max(o.statusQueries/4, 1))
	for _, action := range actions {
		cases, err := measureStatus(ctx, s, client, token, action, []statusTarget{empty}, max(o.statusQueries/4, 1))
		if err != nil {
			return err
		}
		fig.cases = append(fig.cases, cases...)
	}

	large, err := deploy("bench-large", "bench_status_job")
	if err != nil {
		return err
	}
	neighbour, err := deploy("bench-large", "bench_status_neighbour")
	if err != nil {
		return err
	}
	start := time.Now()
	log.Printf("status: seeding %d + 10 runs", o.statusRuns)
	for _, t := range []struct {
		cfg configs.Configuration
		n   int
	}{{large, o.statusRuns}, {neighbour, 10}} {
		if err := seedRuns(ctx, s, t.cfg, t.n, newest); err != nil {
			return err
		}
		fig.seeded += t.n
	}
	fig.seedTime = time.Since(start)

	targets := []statusTarget{{labelSmall, small, 10}, {labelLarge, large, o.statusRuns}, {labelNeighbour, neighbour, 10}}
	for _, action := range actions {
		log.Printf("status: %d × %s per configuration, through HTTP and directly", o.statusQueries, action)
		cases, err := measureStatus(ctx, s, client, token, action, targets, o.statusQueries)
		if err != nil {
			return err
		}
		fig.cases = append(fig.cases, cases...)
	}
	return nil
}

// measureStatus times queries of action on each target, through HTTP and
// directly, alternating them one query at a time in a rotating order.
func measureStatus(ctx context.Context, s *stack, client *caller, token, action string, targets []statusTarget, queries int) ([]*statusCase, error) {
	var cases []*statusCase
	var variants []variant
	for _, t := range targets {
		c := &statusCase{action: action, target: t, http: newResult(), direct: newResult()}
		cases = append(cases, c)
		body := statusBody(action, t.cfg)
		variants = append(variants,
			variant{name: "http " + t.label, op: func(ctx context.Context) error {
				n, err := statusHTTP(ctx, client, s.server.URL, token, body)
				if err == nil {
					c.results += n
					c.queries++
				}
				return err
			}},
			variant{name: "direct " + t.label, op: func(ctx context.Context) error {
				return directQuery(ctx, s.env.Store, action, t.cfg)
			}})
	}
	// Warm up, then alternate single queries, rotating the order.
	for range 10 {
		for _, v := range variants {
			if err := v.op(ctx); err != nil {
				return nil, fmt.Errorf("%s %s: %w", action, v.name, err)
			}
		}
	}
	for _, c := range cases {
		c.results, c.queries = 0, 0
	}
	for i := range queries {
		for j := range variants {
			k := (i + j) % len(variants)
			c := cases[k/2]
			r := c.http
			if k%2 == 1 {
				r = c.direct
			}
			runBlock(ctx, s, variants[k], 1, 1, r)
		}
	}
	return cases, nil
}

func newResult() *result {
	return &result{fs: counts{Calls: map[string]int64{}}, ps: counts{Calls: map[string]int64{}}}
}

// statusBody is the request of action on cfg, limit 10: get_last_status
// of the configuration, get_by_status of its account's SUCCESS runs of its
// type.
func statusBody(action string, cfg configs.Configuration) []byte {
	req := map[string]any{"action": action, "account": cfg.Account, "configuration_type": cfg.ConfigurationType, "limit": statusLimit}
	switch action {
	case "get_last_status":
		req["environment"] = cfg.Environment
		req["configuration_id"] = cfg.ConfigurationID
	case "get_by_status":
		req["status"] = string(runs.StatusSuccess)
	}
	b, _ := json.Marshal(req)
	return b
}

// statusHTTP sends a status query and returns how many runs it answered.
func statusHTTP(ctx context.Context, client *caller, base, token string, body []byte) (int, error) {
	status, b, err := client.post(ctx, base+"/v1/dag/status", token, body)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("status query answered %d: %s", status, b)
	}
	var resp struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return 0, err
	}
	if len(resp.Results) != statusLimit {
		return 0, fmt.Errorf("status query answered %d runs, want %d", len(resp.Results), statusLimit)
	}
	return len(resp.Results), nil
}

// directQuery runs the query the action makes through the stack's store,
// shared/store's QueryRuns, with neither HTTP nor auth: its lanes' queries
// (store.RunLanes), on the same composite indexes in a deployment, and
// the merge that asks each lane for its share of the page.
func directQuery(ctx context.Context, s *store.Store, action string, cfg configs.Configuration) error {
	q := runs.Query{Kind: cfg.Kind, Limit: statusLimit}
	switch action {
	case "get_last_status":
		q.Environment, q.ConfigurationID = cfg.Environment, cfg.ConfigurationID
	case "get_by_status":
		q.Status = runs.StatusSuccess
	}
	found, err := s.QueryRuns(ctx, cfg.Account, q)
	if err != nil {
		return err
	}
	if len(found) != statusLimit {
		return fmt.Errorf("direct %s query read %d runs, want %d", action, len(found), statusLimit)
	}
	return nil
}

// seedRuns creates n finished runs of cfg, one a minute back from newest,
// through the store (so they are exactly what Runway writes).
func seedRuns(ctx context.Context, s *stack, cfg configs.Configuration, n int, newest time.Time) error {
	return createRuns(ctx, s, n, func(i int) runs.Run {
		start := newest.Add(-time.Duration(i) * time.Minute).Truncate(time.Microsecond)
		run := runs.NewRun(cfg, runs.RandomKey(), start)
		run.TriggerType, run.StartedBy = runs.TriggerAPI, "bench-seeder@runway.local"
		run.Status = runs.StatusSuccess
		if n > statusLimit && i%10 == 3 { // one in ten of the large configuration's runs failed
			run.Status = runs.StatusFailed
		}
		run.EndDate = start.Add(90 * time.Second)
		run.LastUpdateDate = run.EndDate
		run.Deadline = time.Time{}
		return run
	})
}

// createRuns creates the runs newRun(0) to newRun(n-1) through the stack's
// store, 16 at a time, and returns the first error.
func createRuns(ctx context.Context, s *stack, n int, newRun func(i int) runs.Run) error {
	var (
		next    int64 = -1
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range 16 {
		wg.Go(func() {
			for i := atomic.AddInt64(&next, 1); i < int64(n); i = atomic.AddInt64(&next, 1) {
				if err := s.env.Store.CreateRun(ctx, newRun(int(i))); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
