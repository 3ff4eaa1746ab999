package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/runs"
)

// The Reaper's queries run across every account (collection group
// queries), one shard at a time (RunShards); each has a composite index of
// COLLECTION_GROUP scope in terraform/firestore.tf, the shard first.

// UndeliveredRuns implements runs.ReaperStore.
func (s *Store) UndeliveredRuns(ctx context.Context, shard int, now time.Time, limit int) ([]runs.Run, error) {
	return s.runsOf(ctx, "store.UndeliveredRuns", s.client.CollectionGroup("runs").
		Where("shard", "==", shard).Where("deliver_by", "<=", now).
		OrderBy("deliver_by", firestore.Asc).Limit(limit))
}

// OverdueRuns implements runs.ReaperStore.
func (s *Store) OverdueRuns(ctx context.Context, shard int, now time.Time, limit int) ([]runs.Run, error) {
	return s.runsOf(ctx, "store.OverdueRuns", s.client.CollectionGroup("runs").
		Where("shard", "==", shard).Where("status", "==", string(runs.StatusRunning)).Where("deadline", "<", now).
		OrderBy("deadline", firestore.Asc).Limit(limit))
}

// DueRetries implements runs.ReaperStore.
func (s *Store) DueRetries(ctx context.Context, shard int, now time.Time, limit int) ([]runs.Run, error) {
	return s.runsOf(ctx, "store.DueRetries", s.client.CollectionGroup("runs").
		Where("shard", "==", shard).Where("status", "==", string(runs.StatusFailed)).Where("retry_at", "<=", now).
		OrderBy("retry_at", firestore.Asc).Limit(limit))
}

// LongWaiting implements runs.ReaperStore: runs waiting for a slot since
// before before, oldest first.
func (s *Store) LongWaiting(ctx context.Context, shard int, before time.Time, limit int) ([]runs.Run, error) {
	return s.runsOf(ctx, "store.LongWaiting", s.client.CollectionGroup("runs").
		Where("shard", "==", shard).Where("queued", "==", true).Where("queued_at", "<", before).
		OrderBy("queued_at", firestore.Asc).Limit(limit))
}

// UnpublishedEvents implements runs.ReaperStore. Only unpublished run
// events have a shard: configurations' events, in the same collection
// group, and published ones are not in the query's index.
func (s *Store) UnpublishedEvents(ctx context.Context, shard int, before time.Time, limit int) ([]runs.EventRef, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.client.CollectionGroup("events").Where("shard", "==", shard).Where("at", "<", before).
		OrderBy("at", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.UnpublishedEvents", err)
	}
	out := make([]runs.EventRef, 0, len(snaps))
	for _, snap := range snaps {
		var d eventDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, classify("store.UnpublishedEvents", err)
		}
		run := snap.Ref.Parent.Parent // accounts/{account}/runs/{key}
		out = append(out, runs.EventRef{Account: run.Parent.Parent.ID, RunKey: run.ID, Event: d.event(snap.Ref.ID)})
	}
	return out, nil
}

// ReleaseEventPublication implements runs.ReaperStore.
func (s *Store) ReleaseEventPublication(ctx context.Context, account, key, eventID string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.runs(account).Doc(key).Collection("events").Doc(eventID).Update(ctx, []firestore.Update{{Path: "publish_claimed_at", Value: firestore.Delete}})
	return classify("store.ReleaseEventPublication", err)
}

// ClaimEventPublication implements runs.ReaperStore: in a transaction, it
// takes the right to publish the run event for lease, if the event is not
// published and nobody took it within the lease.
func (s *Store) ClaimEventPublication(ctx context.Context, account, key, eventID string, now time.Time, lease time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	doc := s.runs(account).Doc(key).Collection("events").Doc(eventID)
	claimed := false
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		claimed = false
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		var d struct {
			Published bool       `firestore:"published"`
			ClaimedAt *time.Time `firestore:"publish_claimed_at"`
		}
		if err := snap.DataTo(&d); err != nil {
			return err
		}
		if !runs.PublicationClaimable(d.Published, valueOf(d.ClaimedAt), now, lease) {
			return nil
		}
		claimed = true
		return tx.Update(doc, []firestore.Update{{Path: "publish_claimed_at", Value: now}})
	})
	return claimed, classifyTx("store.ClaimEventPublication", err)
}

// CreateRetry implements runs.ReaperStore.
func (s *Store) CreateRetry(ctx context.Context, parent, retry runs.Run) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	doc := s.runs(parent.Account).Doc(parent.Key)
	created := false
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		created = false
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		current, err := decodeRun(snap)
		if err != nil {
			return err
		}
		if !current.RetryPending() {
			return nil // retried already, or a person took over
		}
		if err := tx.Create(s.runs(parent.Account).Doc(retry.Key), s.encodeRun(retry)); err != nil {
			return err
		}
		created = true
		return tx.Update(doc, []firestore.Update{
			{Path: "retry_at", Value: firestore.Delete},
			{Path: "retry_run_id", Value: retry.RunID},
		})
	})
	if status.Code(err) == codes.AlreadyExists {
		return false, nil
	}
	return created, classifyTx("store.CreateRetry", err)
}
