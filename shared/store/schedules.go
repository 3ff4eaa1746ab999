package store

import (
	"context"
	"hash/fnv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/configs"
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
func ScheduleShard(ref configs.ConfigRef) int {
	h := fnv.New32a()
	h.Write([]byte(ConfigKey(ref)))
	return int(h.Sum32() % ScheduleShards)
}

// DueConfigurations implements schedules.Store: the configurations of one
// shard, across every account, whose next tick is at or before now,
// soonest first. Only configurations whose ticks run have a next_tick.
func (s *Store) DueConfigurations(ctx context.Context, shard int, now time.Time, limit int) ([]configs.Configuration, error) {
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

// LaunchTicks implements schedules.Store: it creates the runs of cfg's
// due ticks, with the slot of max_active_runs a run holds if it was
// admitted, and saves its new ticks in one atomic write, on condition that
// cfg is still as it was read, that no run of those ticks exists and that
// no slot they take is held. Of
// two passes that read the same configuration, or of a pass and a
// redeploy, one write wins and the other changes nothing (false), without
// the waits of transactions that contend for the same document.
func (s *Store) LaunchTicks(ctx context.Context, cfg configs.Configuration, created []runs.Run, ticks configs.Ticks) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes with preconditions, without a transaction.
	batch := s.client.Batch()
	for _, run := range created {
		s.createRun(batch, run)
	}
	batch.Update(s.configRef(cfg.Account, cfg.Ref()), []firestore.Update{
		{Path: "next_tick", Value: nullableTime(ticks.Next)},
		{Path: "last_tick", Value: nullableTime(ticks.Last)},
	}, firestore.LastUpdateTime(cfg.Revision))
	_, err := batch.Commit(ctx)
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound:
		return false, nil // changed, launched or deleted since it was read
	}
	return false, classify("store.LaunchTicks", err)
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
