package store

import (
	"context"
	"hash/fnv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/runs"
)

// ScheduleShards is how many ranges the Scheduler's index is cut into.
// Every launched tick moves a configuration's next_tick later: one index
// range of increasing times written by every scheduled configuration
// would be a hot spot past ~500 writes/s (docs/scale.md). Each shard is a
// range of its own, which a Scheduler pass reads in parallel.
const ScheduleShards = 16

// ScheduleShard returns the shard of a configuration's schedule: a hash of
// its key, so that it never changes.
func ScheduleShard(ref runs.ConfigRef) int {
	h := fnv.New32a()
	h.Write([]byte(ConfigKey(ref)))
	return int(h.Sum32() % ScheduleShards)
}

// DueConfigurations implements schedules.Store: the configurations of one
// shard, across every account, whose next tick is at or before now,
// soonest first. Only configurations whose ticks run have a next_tick.
func (s *Store) DueConfigurations(ctx context.Context, shard int, now time.Time, limit int) ([]runs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.client.CollectionGroup("configurations").
		Where("schedule_shard", "==", shard).Where("next_tick", "<=", now).
		OrderBy("next_tick", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.DueConfigurations", err)
	}
	return decodeConfigs(snaps)
}

// LaunchTicks implements schedules.Store: in one transaction, it reads the
// configuration, lets decide say which runs its due ticks launch and where
// its schedule then stands, and creates those runs with the new ticks. A
// run of a tick is created once: its key is the tick's, and the ticks it
// launched are behind the next tick written with it. When another pass
// created a tick's run first, nothing is written and no run is returned.
func (s *Store) LaunchTicks(ctx context.Context, account string, ref runs.ConfigRef,
	decide func(runs.Configuration) ([]runs.Run, runs.Ticks)) ([]runs.Run, runs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	doc := s.configRef(account, ref)
	var (
		launched []runs.Run
		cfg      runs.Configuration
	)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		launched = nil // the function may run again after a conflict
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		if cfg, err = decodeConfig(snap); err != nil {
			return err
		}
		created, ticks := decide(cfg)
		if len(created) == 0 && ticks == cfg.Ticks {
			return nil
		}
		for _, run := range created {
			if err := tx.Create(s.runs(account).Doc(run.Key), encodeRun(run)); err != nil {
				return err
			}
		}
		cfg.Ticks = ticks
		launched = created
		return tx.Update(doc, []firestore.Update{
			{Path: "next_tick", Value: nullableTime(ticks.Next)},
			{Path: "last_tick", Value: nullableTime(ticks.Last)},
		})
	})
	if status.Code(err) == codes.AlreadyExists {
		return nil, cfg, nil
	}
	if err != nil {
		return nil, runs.Configuration{}, classifyTx("store.LaunchTicks", err)
	}
	return launched, cfg, nil
}

// nullableTime is t as an update's value: the field's removal when t is
// zero, so that an absent next_tick keeps a configuration out of the
// Scheduler's index.
func nullableTime(t time.Time) any {
	if t.IsZero() {
		return firestore.Delete
	}
	return t
}
