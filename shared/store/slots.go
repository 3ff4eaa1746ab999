package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// A configuration's max_active_runs slots are the documents
//
//	accounts/{account}/configurations/{config key}/slots/{n}
//
// n from 1 to max_active_runs: a run holds slot n while its document
// exists with its key. Taking a slot is creating its document, which
// fails if another run holds it; giving it back is deleting it. Each slot
// is its own document, so that a busy configuration with many slots does
// not write one document on every launch.

// slotProbes bounds the slots an admission reads to find a free one: all
// of them up to this many, this many at random beyond.
const slotProbes = 8

type slotDoc struct {
	RunKey string    `firestore:"run_key"`
	RunID  string    `firestore:"run_id"`
	Since  time.Time `firestore:"since"`
}

func (s *Store) slotRef(account string, ref configs.ConfigRef, n int) *firestore.DocumentRef {
	return s.configRef(account, ref).Collection("slots").Doc(strconv.Itoa(n))
}

// queue is the query of a configuration's runs waiting for a slot, oldest
// first.
//
// Its index, (config_key, queued, queued_at), has no lane (RunLanes),
// unlike the configuration's other runs indexes: Admit reads the single
// oldest waiting run on the path of every launch and end that frees a
// slot, which lanes would turn into RunLanes queries and a merge. Nor
// does it need them: a run enters the queue's range only when every slot
// of max_active_runs is held, and leaves it when a slot frees, so its
// writes (2 a queued run) run at the rate slots are handed over, which
// the slots bound first: each slot document is created and deleted once
// a run, about 1 write/s a document sustained (docs/scale.md §1), so
// filling the range at 500 writes/s takes 250 admissions/s, so at least
// 500 slots, all busy. The Reaper's index of long waits starts with the
// shard.
func (s *Store) queue(account string, ref configs.ConfigRef) firestore.Query {
	return s.runs(account).Where("config_key", "==", ConfigKey(ref)).Where("queued", "==", true).OrderBy("queued_at", firestore.Asc)
}

// Waiting implements runs.Store: the runs of a configuration waiting for
// a slot, oldest first, at most limit.
func (s *Store) Waiting(ctx context.Context, account string, ref configs.ConfigRef, limit int) ([]runs.Run, error) {
	return s.runsOf(ctx, "store.Waiting", s.queue(account, ref).Limit(limit))
}

// Admit implements runs.Store, without a transaction, so that the
// launches of a busy configuration, which all look for a slot, neither
// lock nor wait on each other: it reads slots (every slot up to
// slotProbes of them, slotProbes at random beyond); while all are held,
// as they are while runs wait, it writes nothing. When one is free, it
// reads the oldest waiting run and, in one atomic write, takes the slot
// (created only if it does not exist) and admits the run (updated only if
// it did not change since it was read). When another took the slot or
// changed the run first, it writes nothing and returns
// runs.ErrAlreadyExists: the caller looks again.
func (s *Store) Admit(ctx context.Context, account string, ref configs.ConfigRef, slots int, admit func(r *runs.Run, slot int)) (*runs.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	candidates := slotCandidates(slots)
	refs := make([]*firestore.DocumentRef, len(candidates))
	for i, n := range candidates {
		refs[i] = s.slotRef(account, ref, n)
	}
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return nil, classify("store.Admit", err)
	}
	slot := 0
	for i, snap := range snaps {
		if !snap.Exists() {
			slot = candidates[i]
			break
		}
	}
	if slot == 0 {
		return nil, nil
	}
	waiting, err := s.queue(account, ref).Limit(1).Documents(ctx).GetAll()
	if err != nil || len(waiting) == 0 {
		return nil, classify("store.Admit", err)
	}
	run, err := decodeRun(waiting[0])
	if err != nil {
		return nil, err
	}
	admit(&run, slot)
	d := s.encodeRun(run)
	//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes with preconditions, without a transaction.
	batch := s.client.Batch()
	batch.Create(s.slotRef(account, ref, slot), slotDoc{RunKey: run.Key, RunID: run.RunID, Since: run.AdmittedAt})
	batch.Update(waiting[0].Ref, []firestore.Update{
		{Path: "queued", Value: firestore.Delete},
		{Path: "slot", Value: d.Slot},
		{Path: "admitted_at", Value: nullableTime(run.AdmittedAt)},
		{Path: "deliver_by", Value: nullableTime(run.DeliveryDue())},
		{Path: "deliveries", Value: run.Deliveries},
		{Path: "deadline", Value: nullableTime(run.Deadline)},
	}, firestore.LastUpdateTime(waiting[0].UpdateTime))
	_, err = batch.Commit(ctx)
	switch status.Code(err) {
	case codes.OK:
		return &run, nil
	case codes.AlreadyExists, codes.FailedPrecondition:
		return nil, fmt.Errorf("store.Admit: %w", runs.ErrAlreadyExists)
	}
	return nil, classify("store.Admit", err)
}

// slotCandidates returns the slots an admission looks at.
func slotCandidates(slots int) []int {
	if slots <= slotProbes {
		candidates := make([]int, slots)
		for i := range candidates {
			candidates[i] = i + 1
		}
		return candidates
	}
	// Distinct slots drawn one by one: a permutation of every slot would
	// cost 8 bytes a slot, 800 KB an admission at max_active_runs 100,000.
	candidates := make([]int, 0, slotProbes)
	for len(candidates) < slotProbes {
		if n := 1 + rand.IntN(slots); !slices.Contains(candidates, n) {
			candidates = append(candidates, n)
		}
	}
	return candidates
}

// createAdmitted creates run, which holds run.Slot, and takes its slot, in
// one atomic write: it fails with runs.ErrAlreadyExists when the run
// exists or the slot is held.
func (s *Store) createAdmitted(ctx context.Context, run runs.Run) error {
	//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes with preconditions, without a transaction.
	batch := s.client.Batch()
	s.createRun(batch, run)
	_, err := batch.Commit(ctx)
	return classify("store.CreateRun", err)
}

// createRun adds to batch the creation of run and, if it holds one, of
// its slot: the batch fails if either exists.
//
//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes with preconditions, without a transaction.
func (s *Store) createRun(batch *firestore.WriteBatch, run runs.Run) {
	batch.Create(s.runs(run.Account).Doc(run.Key), s.encodeRun(run))
	if run.Slot > 0 {
		batch.Create(s.slotRef(run.Account, run.ConfigRef(), run.Slot), slotDoc{RunKey: run.Key, RunID: run.RunID, Since: run.AdmittedAt})
	}
}

// releaseSlot gives back, in tx, the slot run held: the slot's document
// is deleted, with no read, so that runs finishing at once do not contend.
// Who waits is admitted after (runs.Service.AdmitWaiting).
func (s *Store) releaseSlot(tx *firestore.Transaction, run runs.Run, slot int) error {
	return tx.Delete(s.slotRef(run.Account, run.ConfigRef(), slot))
}
