// Package demo loads the demo data of demo.json into a store: the local
// stack's data, and the fixture of the tests that replay the reference's
// curl examples.
package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
)

//go:embed demo.json
var demoJSON []byte

// Seeder is the part of the store runs and members are written through.
type Seeder interface {
	CreateRun(ctx context.Context, run runs.Run) error
	PutMember(ctx context.Context, account, email string, role auth.Role, by string) (auth.Member, error)
}

// Deployer deploys configuration definitions, checking them as the API
// does.
type Deployer interface {
	Deploy(ctx context.Context, who auth.Caller, definition map[string]any) (configs.Configuration, error)
}

var (
	_ Seeder   = (*store.Store)(nil)
	_ Deployer = (*configs.Service)(nil)
)

// seededBy is recorded as the author of demo documents.
const seededBy = "demo-loader"

type file struct {
	Definitions []map[string]any `json:"definitions"`
	Runs        []api.RunResult  `json:"runs"`
	History     []history        `json:"history"`
}

// history describes one run a day of a configuration, for days days.
type history struct {
	Account           string `json:"account"`
	Environment       string `json:"environment"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	FirstDay          string `json:"first_day"`
	Days              int    `json:"days"`
	Start             string `json:"start"`
	FailedEvery       int    `json:"failed_every"`
}

// Data is the demo data, decoded.
type Data struct {
	Definitions    []map[string]any        // as users write them, targets before the workflows that launch them
	Configurations []configs.Configuration // the definitions, parsed
	Runs           []runs.Run
}

// Accounts returns the accounts the demo data fills, sorted.
func (d Data) Accounts() []string {
	seen := map[string]bool{}
	for _, c := range d.Configurations {
		seen[c.Account] = true
	}
	accounts := make([]string, 0, len(seen))
	for a := range seen {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	return accounts
}

// Parse decodes demo.json.
func Parse() (Data, error) {
	var f file
	if err := json.Unmarshal(demoJSON, &f); err != nil {
		return Data{}, fmt.Errorf("demo: decode demo.json: %w", err)
	}
	var d Data
	for _, def := range f.Definitions {
		cfg, err := configs.Parse(def)
		if err != nil {
			return Data{}, fmt.Errorf("demo: definition %v: %w", def["configuration_id"], err)
		}
		d.Definitions = append(d.Definitions, def)
		d.Configurations = append(d.Configurations, cfg)
	}
	for _, r := range f.Runs {
		run, err := fromResult(r)
		if err != nil {
			return Data{}, err
		}
		d.Runs = append(d.Runs, run)
	}
	for _, h := range f.History {
		runs, err := h.runs()
		if err != nil {
			return Data{}, err
		}
		d.Runs = append(d.Runs, runs...)
	}
	return d, nil
}

// fromResult turns a run written as the API returns it back into a run.
func fromResult(r api.RunResult) (runs.Run, error) {
	kind, ok := configs.KindOf(r.ConfigurationType)
	key, okKey := runs.RunKey(r.RunID)
	start, errStart := time.Parse(time.RFC3339Nano, r.StartExecutionDate)
	duration, errDuration := api.ParseDuration(r.Duration)
	if !ok || !okKey || errStart != nil || (r.Duration != "" && errDuration != nil) {
		return runs.Run{}, fmt.Errorf("demo: run %s is not well formed", r.RunID)
	}
	run := runs.Run{
		Key: key, RunID: r.RunID, AuditID: runs.AuditIDOf(key), Account: r.Account, Environment: r.Environment,
		ConfigurationType: r.ConfigurationType, Kind: kind, ConfigurationID: r.ConfigurationID,
		JobID: r.JobID, Status: runs.Status(r.Status), ExecutionDate: start.UTC().Format(time.DateOnly),
		StartExecutionDate: start.UTC(), TriggerType: runs.TriggerAPI, StartedBy: seededBy, Attempt: 1,
		PublishedAt: start.UTC(),
	}
	if run.Status.Final() {
		run.EndDate = run.StartExecutionDate.Add(duration)
	}
	if r.LastUpdateDate != "" {
		last, err := time.Parse(time.RFC3339Nano, r.LastUpdateDate)
		if err != nil {
			return runs.Run{}, fmt.Errorf("demo: run %s: last_update_date: %w", r.RunID, err)
		}
		run.LastUpdateDate = last.UTC()
	}
	return run, nil
}

// runs generates the history's runs. Every value is derived from the day,
// so the history is the same on every load.
func (h history) runs() ([]runs.Run, error) {
	kind, ok := configs.KindOf(h.ConfigurationType)
	first, err := time.Parse(time.DateOnly+" 15:04:05", h.FirstDay+" "+h.Start)
	if !ok || err != nil {
		return nil, fmt.Errorf("demo: history of %s is not well formed", h.ConfigurationID)
	}
	out := make([]runs.Run, 0, h.Days)
	for i := range h.Days {
		start := first.AddDate(0, 0, i).Add(time.Duration(i*7%60)*time.Second + time.Duration(i*104729%1_000_000)*time.Microsecond)
		end := start.Add(time.Minute + time.Duration(i*37%120)*time.Second + time.Duration(i*7919%1_000_000)*time.Microsecond)
		status := runs.StatusSuccess
		if h.FailedEvery > 0 && (i+1)%h.FailedEvery == 0 {
			status = runs.StatusFailed
		}
		key := runs.IdempotentKey(h.Account, "demo-history/"+h.ConfigurationID+"/"+start.Format(time.DateOnly))
		out = append(out, runs.Run{
			Key: key, RunID: runs.NewRunID(start, key), AuditID: runs.AuditIDOf(key), Account: h.Account, Environment: h.Environment,
			ConfigurationType: h.ConfigurationType, Kind: kind, ConfigurationID: h.ConfigurationID,
			JobID: configs.DefaultJobID(kind, h.ConfigurationID), Status: status,
			ExecutionDate: start.Format(time.DateOnly), StartExecutionDate: start, EndDate: end,
			LastUpdateDate: end.Add(97 * time.Millisecond), TriggerType: runs.TriggerAPI, StartedBy: seededBy,
			Attempt: 1, PublishedAt: start,
		})
	}
	return out, nil
}

// Load deploys the demo definitions through deployer, writes the demo runs
// through s, and gives members their role on every demo account. Loading
// twice redeploys the definitions (a new version of each) and leaves
// existing runs as they are.
func Load(ctx context.Context, deployer Deployer, s Seeder, members ...auth.Member) (Data, error) {
	d, err := Parse()
	if err != nil {
		return Data{}, err
	}
	loader := auth.Caller{Email: seededBy, Via: "demo"}
	for _, def := range d.Definitions {
		if _, err := deployer.Deploy(ctx, loader, def); err != nil {
			return Data{}, fmt.Errorf("demo: deploy %v: %w", def["configuration_id"], err)
		}
	}
	for _, r := range d.Runs {
		if err := s.CreateRun(ctx, r); err != nil && !errors.Is(err, runs.ErrAlreadyExists) {
			return Data{}, fmt.Errorf("demo: %w", err)
		}
	}
	for _, account := range d.Accounts() {
		for _, m := range members {
			if _, err := s.PutMember(ctx, account, m.Email, m.Role, seededBy); err != nil {
				return Data{}, fmt.Errorf("demo: %w", err)
			}
		}
	}
	return d, nil
}
