package store

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

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

func (s *Store) slotRef(account string, ref runs.ConfigRef, n int) *firestore.DocumentRef {
	return s.configRef(account, ref).Collection("slots").Doc(strconv.Itoa(n))
}

// queue is the query of a configuration's runs waiting for a slot, oldest
// first.
func (s *Store) queue(account string, ref runs.ConfigRef) firestore.Query {
	return s.runs(account).Where("config_key", "==", ConfigKey(ref)).Where("queued", "==", true).OrderBy("queued_at", firestore.Asc)
}

// Waiting implements runs.Store: the runs of a configuration waiting for
// a slot, oldest first, at most limit.
func (s *Store) Waiting(ctx context.Context, account string, ref runs.ConfigRef, limit int) ([]runs.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.queue(account, ref).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.Waiting", err)
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

// Admit implements runs.Store. It first reads slots (every slot up to
// slotProbes of them, slotProbes at random beyond) without a transaction:
// while all are held, as they are while runs wait, it writes nothing and
// takes no lock, so that the launches of a busy configuration do not
// contend. When one is free, one transaction reads the oldest waiting run
// and the slot again, and gives the slot to the run, which admit admits.
func (s *Store) Admit(ctx context.Context, account string, ref runs.ConfigRef, slots int, admit func(r *runs.Run, slot int)) (*runs.Run, error) {
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
	var admitted *runs.Run
	err = s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		admitted = nil // the function may run again after a conflict
		waiting, err := tx.Documents(s.queue(account, ref).Limit(1)).GetAll()
		if err != nil || len(waiting) == 0 {
			return err
		}
		run, err := decodeRun(waiting[0])
		if err != nil {
			return err
		}
		admit(&run, slot)
		// Create fails if a launch took the slot since it was read.
		if err := tx.Create(s.slotRef(account, ref, slot), slotDoc{RunKey: run.Key, RunID: run.RunID, Since: run.AdmittedAt}); err != nil {
			return err
		}
		admitted = &run
		return tx.Set(waiting[0].Ref, encodeRun(run))
	})
	if err != nil {
		return nil, classifyTx("store.Admit", err)
	}
	return admitted, nil
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
	candidates := rand.Perm(slots)[:slotProbes]
	for i := range candidates {
		candidates[i]++
	}
	return candidates
}

// createAdmitted creates run, which holds run.Slot, and takes its slot, in
// one atomic write: it fails with runs.ErrAlreadyExists when the run
// exists or the slot is held.
func (s *Store) createAdmitted(ctx context.Context, run runs.Run) error {
	//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes with preconditions, without a transaction.
	batch := s.client.Batch()
	batch.Create(s.runs(run.Account).Doc(run.Key), encodeRun(run))
	ref := runs.ConfigRef{Environment: run.Environment, Kind: run.Kind, ConfigurationID: run.ConfigurationID}
	batch.Create(s.slotRef(run.Account, ref, run.Slot), slotDoc{RunKey: run.Key, RunID: run.RunID, Since: run.AdmittedAt})
	_, err := batch.Commit(ctx)
	return classify("store.CreateRun", err)
}

// releaseSlot gives back, in tx, the slot run held: the slot's document
// is deleted, with no read, so that runs finishing at once do not contend.
// Who waits is admitted after (runs.Service.AdmitWaiting).
func (s *Store) releaseSlot(tx *firestore.Transaction, run runs.Run, slot int) error {
	ref := runs.ConfigRef{Environment: run.Environment, Kind: run.Kind, ConfigurationID: run.ConfigurationID}
	return tx.Delete(s.slotRef(run.Account, ref, slot))
}
