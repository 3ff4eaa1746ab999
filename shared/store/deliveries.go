package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/runwaydata/runway/shared/runs"
)

// The attempts to deliver what a status change sends out (shared/delivery)
// are run events with predictable ids, a prefix per thing delivered then
// the attempt's number:
//
//	accounts/{account}/runs/{run key}/events/callback-{event id}-{attempt}
//	accounts/{account}/runs/{run key}/events/alert-{event id}-{alert}-{attempt}

// DeliveryAttempts returns the run's events whose ids start with prefix,
// oldest first.
func (s *Store) DeliveryAttempts(ctx context.Context, account, key, prefix string) ([]runs.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	events := s.runs(account).Doc(key).Collection("events")
	// Document ids sort as strings: the prefix, then "~" past every digit.
	snaps, err := events.Where(firestore.DocumentID, ">=", events.Doc(prefix)).Where(firestore.DocumentID, "<", events.Doc(prefix+"~")).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.DeliveryAttempts", err)
	}
	attempts := make([]runs.Event, 0, len(snaps))
	for _, snap := range snaps {
		var d eventDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store.DeliveryAttempts: decode %s: %w", snap.Ref.Path, err)
		}
		attempts = append(attempts, d.event(snap.Ref.ID))
	}
	return attempts, nil
}

// ClaimDeliveryAttempt records attempt as the run's event id; if it exists
// already, another delivery claimed the attempt first:
// runs.ErrAlreadyExists.
func (s *Store) ClaimDeliveryAttempt(ctx context.Context, account, key, id string, attempt runs.Event) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	attempt.Published = true // nothing to publish: only status changes go to the run events topic
	_, err := s.runs(account).Doc(key).Collection("events").Doc(id).Create(ctx, s.encodeEvent(key, attempt))
	return classify("store.ClaimDeliveryAttempt", err)
}

// RecordDeliveryAttempt replaces the run's event id, an attempt's claim,
// with how the attempt went.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, account, key, id string, attempt runs.Event) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	attempt.Published = true
	_, err := s.runs(account).Doc(key).Collection("events").Doc(id).Set(ctx, s.encodeEvent(key, attempt))
	return classify("store.RecordDeliveryAttempt", err)
}
