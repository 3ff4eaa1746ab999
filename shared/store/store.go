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
	"hash/fnv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/runs"
)

// DefaultTimeout bounds each store operation, so that a Firestore outage
// answers a caller with a 503 instead of holding the request open
// (RUNWAY_STORE_TIMEOUT).
const DefaultTimeout = 10 * time.Second

// Store reads and writes Runway's documents in Firestore.
type Store struct {
	client    *firestore.Client
	timeout   time.Duration
	retention time.Duration
}

// RunShards is how many shards runs, and their unpublished events, are
// spread over for the Reaper's queries across every account. Each shard
// is a range of its own in those indexes, so each takes 1/RunShards of
// the writes that one range of increasing values (deadlines, due times)
// would take: docs/scale.md has the arithmetic.
const RunShards = 64

// RunShard returns the shard of the run with key key: a hash of the key,
// so that it never changes.
func RunShard(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % RunShards)
}

// Shards implements runs.ReaperStore.
func (s *Store) Shards() int { return RunShards }

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
	s := &Store{client: client, timeout: timeout, retention: DefaultRetention}
	for _, opt := range opts {
		opt(s)
	}
	return s, nil
}

func (s *Store) account(account string) *firestore.DocumentRef {
	return s.client.Collection("accounts").Doc(account)
}

func (s *Store) memberRef(account, email string) *firestore.DocumentRef {
	return s.account(account).Collection("members").Doc(strings.ToLower(email))
}

func (s *Store) configRef(account string, ref runs.ConfigRef) *firestore.DocumentRef {
	return s.account(account).Collection("configurations").Doc(ConfigKey(ref))
}

func (s *Store) runs(account string) *firestore.CollectionRef {
	return s.account(account).Collection("runs")
}

// ConfigKey is the document id of a configuration, and the value of the
// config_key field of its runs: "{environment}~{kind}~{configuration_id}".
// The kind is part of it because Tailer configuration ids are unique per
// type only.
func ConfigKey(ref runs.ConfigRef) string {
	return ref.Environment + "~" + string(ref.Kind) + "~" + ref.ConfigurationID
}

// classify wraps a Firestore error for the domain: missing documents become
// runs.ErrNotFound, existing ones runs.ErrAlreadyExists, and an unreachable
// Firestore runs.ErrUnavailable (503).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("%s: %w", op, runs.ErrNotFound)
	case codes.AlreadyExists:
		return fmt.Errorf("%s: %w", op, runs.ErrAlreadyExists)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted:
		return runs.Unavailable("the run store", fmt.Errorf("%s: %w", op, err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return runs.Unavailable("the run store", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// classifyTx is classify for the error of a transaction: a domain error
// returned by the transaction's function is its reason for refusing, and is
// passed through as it is.
func classifyTx(op string, err error) error {
	var domainErr *runs.Error
	if errors.As(err, &domainErr) {
		return err
	}
	return classify(op, err)
}

// MemberRole implements auth.Members.
func (s *Store) MemberRole(ctx context.Context, account, email string) (auth.Role, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.memberRef(account, email).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return auth.RoleNone, auth.ErrNotMember
	}
	if err != nil {
		return auth.RoleNone, classify("store.MemberRole", err)
	}
	return roleOf(snap), nil
}

// PutMember gives email role on account, adding the member or changing its
// role. Demoting the account's last admin is refused, in the same
// transaction that would do it, so two admins demoting each other at once
// cannot leave the account without one.
func (s *Store) PutMember(ctx context.Context, account, email string, role auth.Role, by string) (auth.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	member := memberDoc{Email: strings.ToLower(email), Role: role.String(), UpdatedBy: by, UpdatedAt: time.Now().UTC()}
	ref := s.memberRef(account, email)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if role != auth.RoleAdmin {
			if err := s.keepAnAdmin(tx, account, ref); err != nil {
				return err
			}
		}
		return tx.Set(ref, member)
	})
	if err != nil {
		return auth.Member{}, classifyTx("store.PutMember", err)
	}
	return member.member(), nil
}

// RemoveMember removes email from account. Removing the last admin is
// refused; removing someone who is not a member is ErrNotFound.
func (s *Store) RemoveMember(ctx context.Context, account, email string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ref := s.memberRef(account, email)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(ref); err != nil {
			if status.Code(err) == codes.NotFound {
				return runs.NotFound("%s is not a member of account %s", strings.ToLower(email), account)
			}
			return err
		}
		if err := s.keepAnAdmin(tx, account, ref); err != nil {
			return err
		}
		return tx.Delete(ref)
	})
	return classifyTx("store.RemoveMember", err)
}

// keepAnAdmin refuses, within tx, to take the admin role from ref if ref is
// the account's only admin.
func (s *Store) keepAnAdmin(tx *firestore.Transaction, account string, ref *firestore.DocumentRef) error {
	admins, err := tx.Documents(s.account(account).Collection("members").Where("role", "==", auth.RoleAdmin.String()).Limit(2)).GetAll()
	if err != nil {
		return err
	}
	if len(admins) == 1 && admins[0].Ref.ID == ref.ID {
		return runs.Conflict("%s is the last admin of account %s; make another member admin first", ref.ID, account)
	}
	return nil
}

// ListMembers returns the members of account, by email.
func (s *Store) ListMembers(ctx context.Context, account string) ([]auth.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.account(account).Collection("members").OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.ListMembers", err)
	}
	members := make([]auth.Member, 0, len(snaps))
	for _, snap := range snaps {
		var d memberDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store.ListMembers: decode %s: %w", snap.Ref.Path, err)
		}
		members = append(members, d.member())
	}
	return members, nil
}

// LoadLaunch implements runs.Store: one BatchGetDocuments for the member and
// the configuration.
func (s *Store) LoadLaunch(ctx context.Context, account, email string, ref runs.ConfigRef) (auth.Role, *runs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.client.GetAll(ctx, []*firestore.DocumentRef{s.memberRef(account, email), s.configRef(account, ref)})
	if err != nil {
		return auth.RoleNone, nil, classify("store.LoadLaunch", err)
	}
	role := auth.RoleNone
	if snaps[0].Exists() {
		role = roleOf(snaps[0])
	}
	if !snaps[1].Exists() {
		return role, nil, nil
	}
	cfg, err := decodeConfig(snaps[1])
	if err != nil {
		return role, nil, err
	}
	return role, &cfg, nil
}

// PutConfiguration creates or replaces a configuration.
func (s *Store) PutConfiguration(ctx context.Context, cfg runs.Configuration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ref := runs.ConfigRef{Environment: cfg.Environment, Kind: cfg.Kind, ConfigurationID: cfg.ConfigurationID}
	_, err := s.configRef(cfg.Account, ref).Set(ctx, encodeConfig(cfg))
	return classify("store.PutConfiguration", err)
}

// CreateRun implements runs.Store. The run document is its own launch
// record (started_by, start_execution_date), so creating it is a single
// write: the events subcollection holds what happens after. A run that
// holds a slot takes it in the same write.
func (s *Store) CreateRun(ctx context.Context, run runs.Run) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if run.Slot > 0 {
		return s.createAdmitted(ctx, run)
	}
	_, err := s.runs(run.Account).Doc(run.Key).Create(ctx, s.encodeRun(run))
	return classify("store.CreateRun", err)
}

// GetRun implements runs.Store.
func (s *Store) GetRun(ctx context.Context, account, key string) (runs.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.runs(account).Doc(key).Get(ctx)
	if err != nil {
		return runs.Run{}, classify("store.GetRun", err)
	}
	return decodeRun(snap)
}

// QueryRuns implements runs.Store. Each combination of filters that
// get_last_status, get_by_status and the board's runs view ask (see
// runs.Query) has a composite index in terraform/firestore.tf.
func (s *Store) QueryRuns(ctx context.Context, account string, q runs.Query) ([]runs.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	query := s.runsQuery(account, q).OrderBy("start_execution_date", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	if q.After != nil {
		query = query.StartAfter(q.After.Start, q.After.Key)
	}
	snaps, err := query.Limit(q.Limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.QueryRuns", err)
	}
	found := make([]runs.Run, 0, len(snaps))
	for _, snap := range snaps {
		run, err := decodeRun(snap)
		if err != nil {
			return nil, err
		}
		found = append(found, run)
	}
	return found, nil
}

// CountRuns implements runs.Store with an aggregation query: Firestore
// counts the index entries without reading the documents, and stops at
// most: a count costs what it scans, and a history may hold millions.
func (s *Store) CountRuns(ctx context.Context, account string, q runs.Query, most int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	query := s.runsQuery(account, q).OrderBy("start_execution_date", firestore.Desc).Limit(most)
	result, err := query.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, classify("store.CountRuns", err)
	}
	n, ok := result["n"].(*firestorepb.Value)
	if !ok {
		return 0, fmt.Errorf("store.CountRuns: unexpected count %T", result["n"])
	}
	return int(n.GetIntegerValue()), nil
}

// runsQuery is the query of the runs q selects, without order and limit.
func (s *Store) runsQuery(account string, q runs.Query) firestore.Query {
	query := s.runs(account).Query
	switch {
	case q.ConfigurationID != "":
		query = query.Where("config_key", "==", ConfigKey(runs.ConfigRef{Environment: q.Environment, Kind: q.Kind, ConfigurationID: q.ConfigurationID}))
	case q.Kind != "" && q.Environment != "":
		query = query.Where("kind", "==", string(q.Kind)).Where("environment", "==", q.Environment)
	case q.Kind != "":
		query = query.Where("kind", "==", string(q.Kind))
	case q.Environment != "":
		query = query.Where("environment", "==", q.Environment)
	}
	switch {
	case q.Status != "":
		query = query.Where("status", "==", string(q.Status))
	case len(q.Statuses) > 0:
		statuses := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			statuses[i] = string(st)
		}
		query = query.Where("status", "in", statuses)
	}
	if q.ExecutionDate != "" {
		query = query.Where("execution_date", "==", q.ExecutionDate)
	}
	if q.TriggerType != "" {
		query = query.Where("trigger_type", "==", q.TriggerType)
	}
	// Bounds on the field the runs are ordered by: no index of their own.
	if !q.Before.IsZero() {
		query = query.Where("start_execution_date", "<", q.Before)
	}
	if !q.Since.IsZero() {
		query = query.Where("start_execution_date", ">=", q.Since)
	}
	return query
}

// WatchRun implements runs.Store with a snapshot listener: Firestore
// pushes each change of the run document, so waiting costs no polling.
// When ctx ends first, it returns the last state it saw.
func (s *Store) WatchRun(ctx context.Context, account, key string, done func(runs.Run) bool) (runs.Run, error) {
	it := s.runs(account).Doc(key).Snapshots(ctx)
	defer it.Stop()
	var last *runs.Run
	for {
		snap, err := it.Next()
		if err != nil {
			if last != nil && ctx.Err() != nil {
				return *last, nil
			}
			return runs.Run{}, classify("store.WatchRun", err)
		}
		if !snap.Exists() {
			return runs.Run{}, fmt.Errorf("store.WatchRun: %w", runs.ErrNotFound)
		}
		run, err := decodeRun(snap)
		if err != nil {
			return runs.Run{}, err
		}
		if done(run) {
			return run, nil
		}
		last = &run
	}
}

// UpdateRun implements runs.Store with a transaction: the run is read,
// changed, written back and the event appended, or nothing is written.
func (s *Store) UpdateRun(ctx context.Context, account, key string, change func(*runs.Run) (runs.Update, error)) (runs.Run, *runs.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	doc := s.runs(account).Doc(key)
	var (
		result runs.Run
		saved  *runs.Event
	)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		saved = nil // the function may run again after a conflict
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		run, err := decodeRun(snap)
		if err != nil {
			return err
		}
		update, err := change(&run)
		result = run
		if err != nil || !update.Save {
			return err
		}
		if update.Release > 0 {
			if err := s.releaseSlot(tx, run, update.Release); err != nil {
				return err
			}
		}
		if err := tx.Set(doc, s.encodeRun(run)); err != nil {
			return err
		}
		if update.Event == nil {
			return nil
		}
		ref := doc.Collection("events").NewDoc()
		if err := tx.Create(ref, s.encodeEvent(key, *update.Event)); err != nil {
			return err
		}
		update.Event.ID = ref.ID
		saved = update.Event
		return nil
	})
	if err != nil {
		return runs.Run{}, nil, classifyTx("store.UpdateRun", err)
	}
	return result, saved, nil
}

// UpdateRuns implements runs.Store: one transaction reads every run,
// changes them, and writes those change saves, with their events.
func (s *Store) UpdateRuns(ctx context.Context, account string, keys []string, change func(*runs.Run) (runs.Update, error)) ([]runs.Run, []runs.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	refs := make([]*firestore.DocumentRef, len(keys))
	for i, key := range keys {
		refs[i] = s.runs(account).Doc(key)
	}
	var (
		saved  []runs.Run
		events []runs.Event
	)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		saved, events = nil, nil // the function may run again after a conflict
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		for _, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			run, err := decodeRun(snap)
			if err != nil {
				return err
			}
			update, err := change(&run)
			if err != nil {
				return err
			}
			if !update.Save || update.Event == nil {
				continue // what is saved here is always recorded: no event, no change
			}
			if update.Release > 0 {
				if err := s.releaseSlot(tx, run, update.Release); err != nil {
					return err
				}
			}
			if err := tx.Set(snap.Ref, s.encodeRun(run)); err != nil {
				return err
			}
			ref := snap.Ref.Collection("events").NewDoc()
			if err := tx.Create(ref, s.encodeEvent(snap.Ref.ID, *update.Event)); err != nil {
				return err
			}
			update.Event.ID = ref.ID
			saved, events = append(saved, run), append(events, *update.Event)
		}
		return nil
	})
	if err != nil {
		return nil, nil, classifyTx("store.UpdateRuns", err)
	}
	return saved, events, nil
}

// MarkEventPublished implements runs.Store.
func (s *Store) MarkEventPublished(ctx context.Context, account, key, eventID string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.runs(account).Doc(key).Collection("events").Doc(eventID).Update(ctx, []firestore.Update{
		{Path: "published", Value: true},
		{Path: "shard", Value: firestore.Delete},
	})
	return classify("store.MarkEventPublished", err)
}

// Events implements runs.Store: a page of the run's recorded changes,
// oldest first, in the order of (at, document id), after page.After.
func (s *Store) Events(ctx context.Context, account, key string, page runs.EventPage) ([]runs.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := s.runs(account).Doc(key).Collection("events").OrderBy("at", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc)
	if !page.After.At.IsZero() {
		q = q.StartAfter(page.After.At, page.After.ID)
	}
	snaps, err := q.Limit(page.Limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.Events", err)
	}
	events := make([]runs.Event, 0, len(snaps))
	for _, snap := range snaps {
		var d eventDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store.Events: decode %s: %w", snap.Ref.Path, err)
		}
		events = append(events, d.event(snap.Ref.ID))
	}
	return events, nil
}
