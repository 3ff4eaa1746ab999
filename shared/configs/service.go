package configs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/failure"
)

// Reader reads configurations inside a deploy's transaction, so that what
// a deploy checks is still true when it is written.
type Reader interface {
	// Configuration returns the configuration ref names, or nil.
	Configuration(ref ConfigRef) (*Configuration, error)
	// Workflows returns the workflows of an environment.
	Workflows(environment string) ([]Configuration, error)
}

// Filter selects configurations to list; zero fields select everything.
type Filter struct {
	Environment string
	Kind        Kind
	Activated   *bool
}

// Store is the storage configurations need; shared/store implements it.
type Store interface {
	// DeployConfiguration runs check on the configuration deployed until
	// now (nil if none) and the one to deploy, then creates or replaces the
	// configuration with the next version number and records the deploy,
	// in one transaction, and returns it. check may complete next. With
	// dryRun, it writes nothing.
	DeployConfiguration(ctx context.Context, cfg Configuration, dryRun bool, check func(r Reader, prev, next *Configuration) error) (Configuration, error)
	// GetConfiguration returns the configuration, or an error wrapping
	// failure.ErrNotFound.
	GetConfiguration(ctx context.Context, account string, ref ConfigRef) (Configuration, error)
	// FindConfigurations returns the configurations of account with the
	// given id, of every type and environment.
	FindConfigurations(ctx context.Context, account, configurationID string) ([]Configuration, error)
	// ListConfigurations returns up to limit configurations after the
	// document key after, by key, and the key to continue from ("" at the end).
	ListConfigurations(ctx context.Context, account string, f Filter, limit int, after string) ([]Configuration, string, error)
	// SetConfigurationStatus applies change to the configuration's flags,
	// ticks and update stamp, and records the change, in one transaction;
	// or returns an error wrapping failure.ErrNotFound.
	SetConfigurationStatus(ctx context.Context, account string, ref ConfigRef, change func(*Configuration)) error
}

// Service deploys, reads and switches configurations.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service; now may be nil for time.Now.
func NewService(store Store, now func() time.Time) (*Service, error) {
	if store == nil {
		return nil, errors.New("configs: missing store")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}, nil
}

// Deploy creates or replaces the configuration definition describes, on
// behalf of who. A workflow's target must exist, and the workflow must not
// close a cycle of workflows triggering each other.
func (s *Service) Deploy(ctx context.Context, who auth.Caller, definition map[string]any) (Configuration, error) {
	return s.deploy(ctx, who, definition, false)
}

// DryRun makes every check of Deploy, in the same transaction, and returns
// what Deploy would store, writing nothing.
func (s *Service) DryRun(ctx context.Context, who auth.Caller, definition map[string]any) (Configuration, error) {
	return s.deploy(ctx, who, definition, true)
}

func (s *Service) deploy(ctx context.Context, who auth.Caller, definition map[string]any, dryRun bool) (Configuration, error) {
	cfg, err := Parse(definition)
	if err != nil {
		return Configuration{}, err
	}
	cfg.UpdatedBy = who.Email
	cfg.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	deployed, err := s.store.DeployConfiguration(ctx, cfg, dryRun, func(r Reader, prev, next *Configuration) error {
		if err := checkWorkflow(r, next); err != nil {
			return err
		}
		next.Ticks = deployedTicks(prev, *next, next.UpdatedAt)
		return nil
	})
	if err != nil {
		return Configuration{}, fmt.Errorf("store.DeployConfiguration: %w", err)
	}
	return deployed, nil
}

// deployedTicks returns where the schedule of next, deployed over prev (nil
// for a first deploy), stands at now. A redeploy that leaves the schedule
// as it was keeps its ticks, so that it neither skips nor repeats one; a
// new or changed schedule starts anew, never launching a tick at or before
// the last one launched.
func deployedTicks(prev *Configuration, next Configuration, now time.Time) Ticks {
	var ticks Ticks
	if prev != nil {
		ticks.Last = prev.Ticks.Last
		if prev.Scheduled() && next.Scheduled() && prev.Schedule.Interval == next.Schedule.Interval &&
			prev.Schedule.Start.Equal(next.Schedule.Start) && prev.Schedule.Catchup == next.Schedule.Catchup {
			return prev.Ticks
		}
	}
	if next.Scheduled() {
		ticks.Next = FirstTick(next.Schedule, ticks, now)
	}
	return ticks
}

// statusTicks returns where c's schedule stands once its flags changed,
// at now: no tick runs while it is deactivated or archived; activated
// again, it resumes from now, or with catchup from its last tick.
func statusTicks(c Configuration, wasScheduled bool, now time.Time) Ticks {
	switch {
	case !c.Scheduled():
		return Ticks{Last: c.Ticks.Last}
	case wasScheduled:
		return c.Ticks
	}
	return Ticks{Last: c.Ticks.Last, Next: FirstTick(c.Schedule, c.Ticks, now)}
}

// checkWorkflow checks a workflow against what is deployed, and records its
// target's job id, which its criteria and cycle checks are expressed in.
func checkWorkflow(r Reader, cfg *Configuration) error {
	if cfg.Workflow == nil {
		return nil
	}
	spec := cfg.Workflow
	target, err := r.Configuration(spec.Target)
	if err != nil {
		return err
	}
	if target == nil {
		return failure.Invalid{{Field: "configuration.target_dag", Problem: fmt.Sprintf(
			"there is no %s configuration %s in environment %s of account %s; deploy it first",
			spec.TargetType, spec.Target.ConfigurationID, cfg.Environment, cfg.Account)}}
	}
	spec.TargetJobID = target.JobID
	workflows, err := r.Workflows(cfg.Environment)
	if err != nil {
		return err
	}
	if cycle := findCycle(workflows, *cfg); cycle != nil {
		return failure.Invalid{{Field: "configuration.target_dag", Problem: fmt.Sprintf(
			"launching %s would trigger this workflow again, in a cycle: %s", spec.TargetJobID, strings.Join(cycle, " → "))}}
	}
	return nil
}

// findCycle returns the job ids of a cycle that deploying w would close,
// or nil. Each workflow adds an edge from each of its authorized jobs to
// its target's job; only w's edges are new, so a new cycle runs through
// w's target and back to one of w's authorized jobs.
func findCycle(deployed []Configuration, w Configuration) []string {
	edges := map[string][]string{}
	add := func(wf Configuration) {
		for _, job := range wf.Workflow.AuthorizedJobIDs {
			edges[job] = append(edges[job], wf.Workflow.TargetJobID)
		}
	}
	for _, wf := range deployed {
		if wf.ConfigurationID != w.ConfigurationID && wf.Workflow != nil {
			add(wf)
		}
	}
	add(w)
	authorized := map[string]bool{}
	for _, job := range w.Workflow.AuthorizedJobIDs {
		authorized[job] = true
	}
	start := w.Workflow.TargetJobID
	parent := map[string]string{start: ""}
	queue := []string{start}
	for len(queue) > 0 {
		job := queue[0]
		queue = queue[1:]
		if authorized[job] {
			// start → … → job, then job → start through w itself.
			path := []string{start}
			for j := job; j != start; j = parent[j] {
				path = append([]string{j}, path...)
			}
			return append([]string{start}, path...)
		}
		for _, next := range edges[job] {
			if _, seen := parent[next]; !seen {
				parent[next] = job
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// Get returns the configuration ref names in account.
func (s *Service) Get(ctx context.Context, account string, ref ConfigRef) (Configuration, error) {
	cfg, err := s.store.GetConfiguration(ctx, account, ref)
	if errors.Is(err, failure.ErrNotFound) {
		return Configuration{}, notFound(account, ref)
	}
	if err != nil {
		return Configuration{}, fmt.Errorf("store.GetConfiguration: %w", err)
	}
	return cfg, nil
}

// isKey reports whether key is "" or a configuration's document key,
// "{environment}~{kind}~{configuration_id}" (store.ConfigKey).
func isKey(key string) bool {
	if key == "" {
		return true
	}
	environment, rest, ok := strings.Cut(key, "~")
	kind, id, ok2 := strings.Cut(rest, "~")
	_, known := KindOf(kind)
	return ok && ok2 && known && EnvironmentName.Valid(environment) && ConfigurationName.Valid(id)
}

func notFound(account string, ref ConfigRef) error {
	return failure.NotFound("configuration %s (%s) not found in environment %s of account %s",
		ref.ConfigurationID, ref.Kind, ref.Environment, account)
}

// WithID returns the configurations of account with the given id, of every
// type and environment: a flow of ETLWorks' API is named by its id alone.
func (s *Service) WithID(ctx context.Context, account, id string) ([]Configuration, error) {
	found, err := s.store.FindConfigurations(ctx, account, id)
	if err != nil {
		return nil, fmt.Errorf("store.FindConfigurations: %w", err)
	}
	return found, nil
}

// List returns a page of the configurations of account that f selects, by
// environment, type and id, and the token of the next page ("" at the end).
func (s *Service) List(ctx context.Context, account string, f Filter, limit int, pageToken string) ([]Configuration, string, error) {
	after, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil || !isKey(string(after)) {
		// A made-up token is refused here: Firestore would fail on a key
		// that cannot be a document id (a 500).
		return nil, "", failure.InvalidField("page_token", "page_token is not one this API returned")
	}
	list, next, err := s.store.ListConfigurations(ctx, account, f, limit, string(after))
	if err != nil {
		return nil, "", fmt.Errorf("store.ListConfigurations: %w", err)
	}
	return list, base64.RawURLEncoding.EncodeToString([]byte(next)), nil
}

// SetStatus activates, deactivates, archives or unarchives a configuration.
func (s *Service) SetStatus(ctx context.Context, who auth.Caller, account string, ref ConfigRef, activated, archived bool) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	err := s.store.SetConfigurationStatus(ctx, account, ref, func(c *Configuration) {
		was := c.Scheduled()
		c.Activated, c.Archived, c.UpdatedBy, c.UpdatedAt = activated, archived, who.Email, now
		c.Ticks = statusTicks(*c, was, now)
	})
	if errors.Is(err, failure.ErrNotFound) {
		return notFound(account, ref)
	}
	if err != nil {
		return fmt.Errorf("store.SetConfigurationStatus: %w", err)
	}
	return nil
}
