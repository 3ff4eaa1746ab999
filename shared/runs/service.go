package runs

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
)

// ErrAlreadyExists is returned by Store.CreateRun when a run with the same
// key exists. It never reaches a caller: Launch turns it into a replay or a
// conflict.
var ErrAlreadyExists = errors.New("already exists")

// Store is the storage the domain needs. shared/store implements it on
// Firestore.
type Store interface {
	// LoadLaunch reads, in one round trip, the caller's role on the account
	// and the configuration to launch (nil if it does not exist).
	LoadLaunch(ctx context.Context, account, email string, ref configs.ConfigRef) (auth.Role, *configs.Configuration, error)
	// CreateRun creates the run, or returns ErrAlreadyExists and writes
	// nothing. The new run document is itself the record of the launch.
	CreateRun(ctx context.Context, run Run) error
	// GetRun returns the run with the given key, or an error wrapping
	// ErrNotFound.
	GetRun(ctx context.Context, account, key string) (Run, error)
	// RunByAuditID returns the run with the given audit id, or an error
	// wrapping ErrNotFound.
	RunByAuditID(ctx context.Context, account string, auditID int64) (Run, error)
	// QueryRuns returns the runs q selects, newest first.
	QueryRuns(ctx context.Context, account string, q Query) ([]Run, error)
	// CountRuns counts the runs q selects, ignoring its limit, up to most.
	CountRuns(ctx context.Context, account string, q Query, most int) (int, error)
	// UpdateRuns applies change to each of the runs with the given keys,
	// in one transaction, and returns the runs it saved, with their events.
	UpdateRuns(ctx context.Context, account string, keys []string, change func(*Run) (Update, error)) ([]Run, []Event, error)
	// GetConfiguration returns a configuration, or an error wrapping
	// ErrNotFound.
	GetConfiguration(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error)
	// WatchRun returns the run as soon as done accepts it, or its last
	// state when ctx ends, without polling.
	WatchRun(ctx context.Context, account, key string, done func(Run) bool) (Run, error)
	// UpdateRun applies change to the run in a transaction, and saves what
	// change decides: the run and an event (returned, with its ID), or
	// nothing.
	UpdateRun(ctx context.Context, account, key string, change func(*Run) (Update, error)) (Run, *Event, error)
	// MarkEventPublished records that a run event was published.
	MarkEventPublished(ctx context.Context, account, key, eventID string) error
	// Waiting returns the runs of a configuration waiting for a slot,
	// oldest first, at most limit.
	Waiting(ctx context.Context, account string, ref configs.ConfigRef, limit int) ([]Run, error)
	// Admit looks for a free slot among the configuration's slots and,
	// when it finds one, in one transaction, gives it to the oldest
	// waiting run, which admit admits. It returns the run admitted, or nil
	// when no slot it looked at is free or none waits; ErrAlreadyExists
	// when a launch took the slot first.
	Admit(ctx context.Context, account string, ref configs.ConfigRef, slots int, admit func(r *Run, slot int)) (*Run, error)
	// Events returns a page of the run's recorded events, oldest first.
	Events(ctx context.Context, account, key string, page EventPage) ([]Event, error)
	// ReaperStore is what the Reaper reads and writes across accounts.
	ReaperStore
}

// Publisher publishes Runway's messages. shared/bus implements it on
// Pub/Sub.
type Publisher interface {
	PublishLaunch(ctx context.Context, msg message.Launch) (messageID string, err error)
	PublishRunEvent(ctx context.Context, ev message.RunEvent) (messageID string, err error)
	PublishCancel(ctx context.Context, msg message.Cancel) (messageID string, err error)
}

// CallbackPolicy decides whether a launch may ask to be called back at a
// URL. shared/callbacks implements it with the account's settings.
type CallbackPolicy interface {
	CheckCallbackURL(ctx context.Context, account, url string) error
}

// Service carries out launches, status reads and status changes.
type Service struct {
	store     Store
	bus       Publisher
	authz     *auth.Authorizer
	callbacks CallbackPolicy
	now       func() time.Time
	// publishTimeout bounds the publish that follows a launch, so that a
	// Pub/Sub outage delays the answer by at most this much.
	publishTimeout time.Duration
	// redeliverAfter is how long a run's launch message may go unclaimed
	// before the Reaper publishes it again.
	redeliverAfter time.Duration
}

// DefaultRedeliverAfter is Deps.RedeliverAfter's default: long enough for
// executors to claim what they are sent, short enough that a lost publish
// costs a minute.
const DefaultRedeliverAfter = time.Minute

// Deps are a Service's dependencies.
type Deps struct {
	Store     Store
	Bus       Publisher
	Authz     *auth.Authorizer
	Callbacks CallbackPolicy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RedeliverAfter is how long a launch message may go unclaimed before
	// the Reaper publishes it again (doubling with each publish); 0 means
	// DefaultRedeliverAfter.
	RedeliverAfter time.Duration
	// PublishTimeout bounds each publish (RUNWAY_PUBLISH_TIMEOUT); 0 means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
}

// DefaultPublishTimeout is Deps.PublishTimeout's default.
const DefaultPublishTimeout = 10 * time.Second

// NewService returns a Service.
func NewService(deps Deps) (*Service, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("runs: missing store")
	case deps.Bus == nil:
		return nil, errors.New("runs: missing publisher")
	case deps.Authz == nil:
		return nil, errors.New("runs: missing authorizer")
	case deps.Callbacks == nil:
		return nil, errors.New("runs: missing callback policy")
	}
	s := &Service{store: deps.Store, bus: deps.Bus, authz: deps.Authz, callbacks: deps.Callbacks, now: deps.Now, publishTimeout: cmp.Or(deps.PublishTimeout, DefaultPublishTimeout),
		redeliverAfter: cmp.Or(deps.RedeliverAfter, DefaultRedeliverAfter)}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// clock returns the time now, in UTC, to the microsecond: the precision
// Firestore keeps, so that a time read back equals the time written.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
