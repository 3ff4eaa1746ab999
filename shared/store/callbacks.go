package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/callbacks"
)

// The account's callback settings live in one document:
//
//	accounts/{account}/settings/callbacks   allowed hosts and signing secrets, sealed
//
// (each callback attempt is a run event: deliveries.go).
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
