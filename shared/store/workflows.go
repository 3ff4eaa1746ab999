package store

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/workflows"
)

// workflowStateDoc is accounts/{account}/workflow_state/{config key}.
type workflowStateDoc struct {
	Cycle          int                     `firestore:"cycle"`
	CycleStartedAt time.Time               `firestore:"cycle_started_at"`
	Met            map[string]criterionDoc `firestore:"met"`
	LastFired      *firingDoc              `firestore:"last_fired,omitempty"`
	LastResetBy    string                  `firestore:"last_reset_by,omitempty"`
}

type criterionDoc struct {
	RunID string    `firestore:"run_id"`
	At    time.Time `firestore:"at"`
}

type firingDoc struct {
	Cycle         int       `firestore:"cycle"`
	At            time.Time `firestore:"at"`
	TargetRunID   string    `firestore:"target_run_id,omitempty"`
	TriggerRunIDs []string  `firestore:"trigger_run_ids"`
	Skipped       string    `firestore:"skipped,omitempty"`
}

// metDoc is accounts/{account}/workflow_state/{config key}/met/{cycle}~{job}:
// an authorized job met in a cycle, created once by its first success.
type metDoc struct {
	Cycle int       `firestore:"cycle"`
	Job   string    `firestore:"job"`
	RunID string    `firestore:"run_id"`
	At    time.Time `firestore:"at"`
	// ExpireAt is when Firestore's TTL policy deletes it: a cycle's jobs
	// matter until it fires, long before.
	ExpireAt time.Time `firestore:"expire_at"`
}

func (s *Store) metRef(account string, workflow configs.ConfigRef, cycle int, job string) *firestore.DocumentRef {
	// A job id may hold a slash, which a document id may not.
	return s.workflowStateRef(account, workflow).Collection("met").Doc(fmt.Sprintf("%d~%s", cycle, url.PathEscape(job)))
}

// MarkMet implements workflows.Store: the job's document is created if it
// does not exist; if it does, the job was met first by another success,
// which stays the one recorded.
func (s *Store) MarkMet(ctx context.Context, account string, workflow configs.ConfigRef, cycle int, job string, c workflows.Criterion) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.metRef(account, workflow, cycle, job).Create(ctx, metDoc{Cycle: cycle, Job: job, RunID: c.RunID, At: c.At, ExpireAt: c.At.Add(s.retention)})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return classify("store.MarkMet", err)
}

// MetJobs implements workflows.Store, in one read of the jobs' documents.
func (s *Store) MetJobs(ctx context.Context, account string, workflow configs.ConfigRef, cycle int, jobs []string) (map[string]workflows.Criterion, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	refs := make([]*firestore.DocumentRef, len(jobs))
	for i, job := range jobs {
		refs[i] = s.metRef(account, workflow, cycle, job)
	}
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return nil, classify("store.MetJobs", err)
	}
	met := map[string]workflows.Criterion{}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var d metDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, classify("store.MetJobs", err)
		}
		met[d.Job] = workflows.Criterion{RunID: d.RunID, At: d.At.UTC()}
	}
	return met, nil
}

func (s *Store) workflowStateRef(account string, workflow configs.ConfigRef) *firestore.DocumentRef {
	return s.account(account).Collection("workflow_state").Doc(ConfigKey(workflow))
}

// WorkflowState implements workflows.Store.
func (s *Store) WorkflowState(ctx context.Context, account string, workflow configs.ConfigRef) (workflows.State, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.workflowStateRef(account, workflow).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return workflows.State{}, false, nil
	}
	if err != nil {
		return workflows.State{}, false, classify("store.WorkflowState", err)
	}
	var d workflowStateDoc
	if err := snap.DataTo(&d); err != nil {
		return workflows.State{}, false, classify("store.WorkflowState", err)
	}
	st := workflows.State{Cycle: d.Cycle, CycleStartedAt: d.CycleStartedAt.UTC(), Met: map[string]workflows.Criterion{},
		LastResetBy: d.LastResetBy, Revision: snap.UpdateTime}
	for job, c := range d.Met {
		st.Met[job] = workflows.Criterion{RunID: c.RunID, At: c.At.UTC()}
	}
	if f := d.LastFired; f != nil {
		st.LastFired = &workflows.Firing{Cycle: f.Cycle, At: f.At.UTC(), TargetRunID: f.TargetRunID, TriggerRunIDs: f.TriggerRunIDs, Skipped: f.Skipped}
	}
	return st, true, nil
}

// SaveWorkflowState implements workflows.Store. It takes no read lock: the
// write is conditional on the state's update time (or on its absence), so
// concurrent events never wait on each other, and the loser of a race
// retries on the winner's state.
func (s *Store) SaveWorkflowState(ctx context.Context, account string, workflow configs.ConfigRef, prev *workflows.State, next workflows.State, launch *runs.Run) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d := workflowStateDoc{Cycle: next.Cycle, CycleStartedAt: next.CycleStartedAt, Met: map[string]criterionDoc{}, LastResetBy: next.LastResetBy}
	for job, c := range next.Met {
		d.Met[job] = criterionDoc{RunID: c.RunID, At: c.At}
	}
	if f := next.LastFired; f != nil {
		d.LastFired = &firingDoc{Cycle: f.Cycle, At: f.At, TargetRunID: f.TargetRunID, TriggerRunIDs: f.TriggerRunIDs, Skipped: f.Skipped}
	}
	ref := s.workflowStateRef(account, workflow)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if prev == nil {
			err = tx.Create(ref, d)
		} else {
			err = tx.Update(ref, []firestore.Update{
				{Path: "cycle", Value: d.Cycle},
				{Path: "cycle_started_at", Value: d.CycleStartedAt},
				{Path: "met", Value: d.Met},
				{Path: "last_fired", Value: d.LastFired},
				{Path: "last_reset_by", Value: d.LastResetBy},
			}, firestore.LastUpdateTime(prev.Revision))
		}
		if err != nil || launch == nil {
			return err
		}
		return tx.Create(s.runs(account).Doc(launch.Key), s.encodeRun(*launch))
	})
	// FailedPrecondition: the state changed since it was read; AlreadyExists:
	// it was created meanwhile (or, equally, the cycle's run was).
	if code := status.Code(err); code == codes.FailedPrecondition || code == codes.AlreadyExists {
		return workflows.ErrStale
	}
	return classify("store.SaveWorkflowState", err)
}
