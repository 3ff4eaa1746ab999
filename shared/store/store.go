// Package store is Runway's Firestore adapter. Every document path and
// every query lives here.
//
// Everything of an account lives under accounts/{account}, so no query can
// cross accounts by mistake:
//
//	accounts/{account}/members/{email}                          role
//	accounts/{account}/configurations/{env}~{kind}~{config id}   a deployed configuration
//	accounts/{account}/runs/{run key}                           a run (key: the UUID part of its run id)
//	accounts/{account}/runs/{run key}/events/{auto id}          the run's changes after its launch
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/runs"
)

// DefaultTimeout bounds each store operation, so that a Firestore outage
// answers a caller with a 503 instead of holding the request open
// (RUNWAY_STORE_TIMEOUT).
const DefaultTimeout = 10 * time.Second

// Store reads and writes Runway's documents in Firestore.
type Store struct {
	client    *firestore.Client
	refs      *accountRefCache
	timeout   time.Duration
	retention time.Duration
	launched  configCache // the configurations LoadLaunch decoded
}

// DefaultRetention is how long runs and their events are kept: their
// expire_at, which Firestore's TTL policies (terraform/firestore.tf)
// delete them by, is that long after a run's launch, or an event.
const DefaultRetention = 400 * 24 * time.Hour

// Option changes how New makes a Store.
type Option func(*Store)

// WithRetention keeps runs and their events for d (RUNWAY_RETENTION_DAYS).
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// New returns a Store on client whose operations each take at most
// timeout.
func New(client *firestore.Client, timeout time.Duration, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("store: missing Firestore client")
	}
	if timeout <= 0 {
		return nil, errors.New("store: the timeout must be positive")
	}
	s := &Store{client: client, refs: &accountRefCache{accounts: client.Collection("accounts")}, timeout: timeout, retention: DefaultRetention}
	for _, opt := range opts {
		opt(s)
	}
	return s, nil
}

func (s *Store) account(account string) *firestore.DocumentRef {
	return s.refs.of(account).doc
}

func (s *Store) members(account string) *firestore.CollectionRef {
	return s.refs.of(account).members
}

func (s *Store) memberRef(account, email string) *firestore.DocumentRef {
	return s.members(account).Doc(strings.ToLower(email))
}

func (s *Store) configurations(account string) *firestore.CollectionRef {
	return s.refs.of(account).configurations
}

func (s *Store) configRef(account string, ref configs.ConfigRef) *firestore.DocumentRef {
	return s.configurations(account).Doc(ConfigKey(ref))
}

func (s *Store) runs(account string) *firestore.CollectionRef {
	return s.refs.of(account).runs
}

// ConfigKey is the document id of a configuration, and the value of the
// config_key field of its runs: "{environment}~{kind}~{configuration_id}".
// The kind is part of it because Tailer configuration ids are unique per
// type only.
func ConfigKey(ref configs.ConfigRef) string {
	return ref.Environment + "~" + string(ref.Kind) + "~" + ref.ConfigurationID
}

// classify wraps a Firestore error for the domain: missing documents become
// failure.ErrNotFound, existing ones runs.ErrAlreadyExists, and an unreachable
// Firestore failure.ErrUnavailable (503).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("%s: %w", op, failure.ErrNotFound)
	case codes.AlreadyExists:
		return fmt.Errorf("%s: %w", op, runs.ErrAlreadyExists)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted:
		return failure.Unavailable("the run store", fmt.Errorf("%s: %w", op, err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return failure.Unavailable("the run store", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// classifyTx is classify for the error of a transaction: a domain error
// returned by the transaction's function is its reason for refusing, and is
// passed through as it is.
func classifyTx(op string, err error) error {
	var domainErr *failure.Error
	if errors.As(err, &domainErr) {
		return err
	}
	return classify(op, err)
}
