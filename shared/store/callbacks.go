package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/runs"
)

// The account's callback settings live in one document:
//
//	accounts/{account}/settings/callbacks   allowed hosts and signing secrets, sealed
//
// and each callback attempt is a run event with a predictable id:
//
//	accounts/{account}/runs/{run key}/events/callback-{event id}-{attempt}
func (s *Store) callbackSettingsRef(account string) *firestore.DocumentRef {
	return s.account(account).Collection("settings").Doc("callbacks")
}

// CallbackSettings returns the account's callback settings; an account
// that never set any has none. Its secrets are as stored: sealed, to be
// opened by callbacks.Settings.Open where they sign.
func (s *Store) CallbackSettings(ctx context.Context, account string) (callbacks.Settings, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.callbackSettingsRef(account).Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return callbacks.Settings{}, classify("store.CallbackSettings", err)
	}
	return decodeCallbackSettings(snap)
}

// UpdateCallbackSettings applies change to the account's callback
// settings in a transaction, on behalf of by. The secrets change leaves
// must all be sealed (callbacks.Settings.Seal): a secret in plain text is
// refused, never stored.
func (s *Store) UpdateCallbackSettings(ctx context.Context, account, by string, change func(*callbacks.Settings) error) (callbacks.Settings, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ref := s.callbackSettingsRef(account)
	var result callbacks.Settings
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		settings, err := decodeCallbackSettings(snap)
		if err != nil {
			return err
		}
		if err := change(&settings); err != nil {
			return err
		}
		doc, err := encodeCallbackSettings(settings, by, time.Now().UTC())
		if err != nil {
			return err
		}
		result = settings
		return tx.Set(ref, doc)
	})
	if err != nil {
		return callbacks.Settings{}, classifyTx("store.UpdateCallbackSettings", err)
	}
	return result, nil
}

// callbackPrefix is the start of the ids of the attempts to call back
// about the run event eventID.
func callbackPrefix(eventID string) string { return "callback-" + eventID + "-" }

// CallbackAttempts returns the recorded attempts to call back about the
// run event eventID, oldest first.
func (s *Store) CallbackAttempts(ctx context.Context, account, key, eventID string) ([]runs.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	events := s.runs(account).Doc(key).Collection("events")
	prefix := callbackPrefix(eventID)
	// Document ids sort as strings: the prefix, then "~" past every digit.
	snaps, err := events.Where(firestore.DocumentID, ">=", events.Doc(prefix)).Where(firestore.DocumentID, "<", events.Doc(prefix+"~")).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.CallbackAttempts", err)
	}
	attempts := make([]runs.Event, 0, len(snaps))
	for _, snap := range snaps {
		var d eventDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store.CallbackAttempts: decode %s: %w", snap.Ref.Path, err)
		}
		attempts = append(attempts, d.event(snap.Ref.ID))
	}
	return attempts, nil
}

// RecordCallbackAttempt records attempt n to call back about the run
// event eventID. Two deliveries recording the same attempt is
// runs.ErrAlreadyExists: the second one learns it lost the race.
func (s *Store) RecordCallbackAttempt(ctx context.Context, account, key, eventID string, n int, attempt runs.Event) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	attempt.Published = true // nothing to publish: only status changes go to the run events topic
	id := fmt.Sprintf("%s%02d", callbackPrefix(eventID), n)
	_, err := s.runs(account).Doc(key).Collection("events").Doc(id).Create(ctx, encodeEvent(attempt))
	return classify("store.RecordCallbackAttempt", err)
}
