package store

import (
	"context"
	"fmt"
	"hash/fnv"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/runs"
)

// RunShards is how many shards runs, and their unpublished events, are
// spread over for the Reaper's queries across every account. Each shard
// is a range of its own in those indexes, so each takes 1/RunShards of
// the writes that one range of increasing values (deadlines, due times)
// would take: docs/scale.md has the arithmetic.
const RunShards = 64

// RunShard returns the shard of the run with key key: a hash of the key,
// so that it never changes.
func RunShard(key string) int {
	return int(keyHash(key) % RunShards)
}

// RunLanes is how many lanes an account's runs are spread over for the
// runs queries of get_last_status, get_by_status, set_runs_status and the
// board: every composite index of those queries (local.run_filters in
// terraform/firestore.tf) starts with the lane, so each lane is a range
// of its own, and a range of increasing start_execution_date takes 1/RunLanes of the
// writes one range per account or configuration would take. A run writes
// 2 entries into its busiest such range (it enters RUNNING at its launch,
// its final status at its end), so at about 500 writes/s a range, one
// configuration, or one account, sustains 500 × RunLanes / 2 launches/s:
// 1,000 with 4 lanes, twice the 500/s a configuration is asked to
// sustain (docs/scale.md §1). Each lane more costs every such query a
// query more (QueryRuns), so the number is the least that clears the
// target with room.
const RunLanes = 4

// RunLane returns the lane of the run with key key: a hash of the key, so
// that it never changes, stored on the run at its creation (the field
// lane). Runs written before lanes existed have no lane, so no lane's
// query finds them: there was no deployment then, so there is nothing to
// migrate.
func RunLane(key string) int {
	return int(keyHash(key) % RunLanes)
}

// keyHash is the hash of a run's key its shard and lane are taken from.
func keyHash(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// Shards implements runs.ReaperStore.
func (s *Store) Shards() int { return RunShards }

// LoadLaunch implements runs.Store: one BatchGetDocuments for the member and
// the configuration, which is decoded once per version (configCache).
func (s *Store) LoadLaunch(ctx context.Context, account, email string, ref configs.ConfigRef) (auth.Role, *configs.Configuration, error) {
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
	cfg, err := s.launched.decode(snaps[1])
	if err != nil {
		return role, nil, err
	}
	return role, &cfg, nil
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
// runs.Query) has a composite index in terraform/firestore.tf, the lane
// first (RunLanes): it queries the lanes at once, each in the order
// (start_execution_date, document id), newest first, after the cursor,
// and merges them in that order (mergeLanes). The order is total, so the
// page is the first q.Limit runs of the account in that order, and the
// cursor means what it did with one query: paging is unchanged. Each
// lane is read at its own instant, not in one snapshot: while runs
// change, a page may mix states a few milliseconds apart (docs/scale.md
// §1).
//
// Reads stay bounded by the page, not by the history: mergeLanes asks
// each lane for its share of the page and a margin, and asks again only
// a lane that may hold more of it, so a page of 10 costs about 24
// document reads, at least RunLanes (a query that finds nothing is
// billed one read), whether the account holds ten runs or ten million.
func (s *Store) QueryRuns(ctx context.Context, account string, q runs.Query) ([]runs.Run, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("store.QueryRuns: limit %d, want at least 1", q.Limit)
	}
	return mergeLanes(ctx, RunLanes, q.Limit, q.After, func(ctx context.Context, lane int, after *runs.RunCursor, n int) ([]runs.Run, error) {
		query := s.runsQuery(account, lane, q).OrderBy("start_execution_date", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
		if after != nil {
			query = query.StartAfter(after.Start, after.Key)
		}
		return s.runsOf(ctx, "store.QueryRuns", query.Limit(n))
	})
}

// RunByAuditID returns the run of account with the given audit id.
func (s *Store) RunByAuditID(ctx context.Context, account string, auditID int64) (runs.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.runs(account).Where("audit_id", "==", auditID).Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return runs.Run{}, classify("store.RunByAuditID", err)
	}
	if len(snaps) == 0 {
		return runs.Run{}, failure.ErrNotFound
	}
	return decodeRun(snaps[0])
}

// runsOf returns the runs q finds; op names the caller in errors.
func (s *Store) runsOf(ctx context.Context, op string, q firestore.Query) ([]runs.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]runs.Run, 0, len(snaps))
	for _, snap := range snaps {
		run, err := decodeRun(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// CountRuns implements runs.Store with aggregation queries, one per lane
// (RunLanes), at once: Firestore counts the index entries without reading
// the documents, and each count stops at most: a count costs what it
// scans, and a history may hold millions. The sum is capped at most, so
// a count scans at most RunLanes × most entries.
func (s *Store) CountRuns(ctx context.Context, account string, q runs.Query, most int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	counts := make([]int, RunLanes)
	g, gctx := errgroup.WithContext(ctx)
	for lane := range RunLanes {
		query := s.runsQuery(account, lane, q).OrderBy("start_execution_date", firestore.Desc).Limit(most)
		g.Go(func() error {
			result, err := query.NewAggregationQuery().WithCount("n").Get(gctx)
			if err != nil {
				return classify("store.CountRuns", err)
			}
			n, ok := result["n"].(*firestorepb.Value)
			if !ok {
				return fmt.Errorf("store.CountRuns: unexpected count %T", result["n"])
			}
			counts[lane] = int(n.GetIntegerValue())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return min(total, most), nil
}

// runsQuery is the query of the runs of one lane q selects, without order
// and limit.
func (s *Store) runsQuery(account string, lane int, q runs.Query) firestore.Query {
	query := s.runs(account).Where("lane", "==", lane)
	switch {
	case q.ConfigurationID != "":
		query = query.Where("config_key", "==", ConfigKey(configs.ConfigRef{Environment: q.Environment, Kind: q.Kind, ConfigurationID: q.ConfigurationID}))
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
			return runs.Run{}, fmt.Errorf("store.WatchRun: %w", failure.ErrNotFound)
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
