package store

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// Admit implements runs.Store: in one transaction, it reads the
// configuration and its oldest waiting run, looks for a free slot (every
// slot up to slotProbes of them, slotProbes at random beyond), and when it
// finds both lets admit set the run's admission, then takes the slot for
// it. It returns the run admitted and the configuration, or no run when
// none waits or no slot it looked at is free.
func (s *Store) Admit(ctx context.Context, account string, ref runs.ConfigRef, admit func(cfg runs.Configuration, r *runs.Run, slot int)) (*runs.Run, runs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var (
		admitted *runs.Run
		cfg      runs.Configuration
	)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		admitted = nil // the function may run again after a conflict
		snap, err := tx.Get(s.configRef(account, ref))
		if err != nil {
			return err
		}
		if cfg, err = decodeConfig(snap); err != nil {
			return err
		}
		waiting, err := tx.Documents(s.queue(account, ref).Limit(1)).GetAll()
		if err != nil || len(waiting) == 0 {
			return err
		}
		slot, err := s.freeSlot(tx, account, ref, cfg.Schedule.MaxActiveRuns)
		if err != nil || slot == 0 {
			return err
		}
		run, err := decodeRun(waiting[0])
		if err != nil {
			return err
		}
		admit(cfg, &run, slot)
		if err := tx.Create(s.slotRef(account, ref, slot), slotDoc{RunKey: run.Key, RunID: run.RunID, Since: run.AdmittedAt}); err != nil {
			return err
		}
		admitted = &run
		return tx.Set(waiting[0].Ref, encodeRun(run))
	})
	if err != nil {
		return nil, runs.Configuration{}, classifyTx("store.Admit", err)
	}
	return admitted, cfg, nil
}

// freeSlot returns a slot of the configuration that no run holds, read in
// tx, or 0 when those it looked at are all held.
func (s *Store) freeSlot(tx *firestore.Transaction, account string, ref runs.ConfigRef, slots int) (int, error) {
	candidates := make([]int, 0, min(slots, slotProbes))
	if slots <= slotProbes {
		for n := 1; n <= slots; n++ {
			candidates = append(candidates, n)
		}
	} else {
		for _, i := range rand.Perm(slots)[:slotProbes] {
			candidates = append(candidates, i+1)
		}
	}
	refs := make([]*firestore.DocumentRef, len(candidates))
	for i, n := range candidates {
		refs[i] = s.slotRef(account, ref, n)
	}
	snaps, err := tx.GetAll(refs)
	if err != nil {
		return 0, err
	}
	for i, snap := range snaps {
		if !snap.Exists() {
			return candidates[i], nil
		}
	}
	return 0, nil
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

// releaseSlot gives back, in tx, the slot run held. With admit, the slot
// goes to the configuration's oldest waiting run, which admit admits, in
// the same transaction, so that waiting runs go before new launches; it
// returns that run. Without admit, or when no run waits, or when the slot
// is past the configuration's max_active_runs (lowered since), the slot
// is freed.
func (s *Store) releaseSlot(tx *firestore.Transaction, run runs.Run, slot int, admit func(runs.Configuration, *runs.Run, int)) error {
	ref := runs.ConfigRef{Environment: run.Environment, Kind: run.Kind, ConfigurationID: run.ConfigurationID}
	slotRef := s.slotRef(run.Account, ref, slot)
	if admit == nil {
		return tx.Delete(slotRef)
	}
	// Reads come before writes in a transaction: the caller writes after.
	cfgSnap, err := tx.Get(s.configRef(run.Account, ref))
	if status.Code(err) == codes.NotFound {
		return tx.Delete(slotRef)
	}
	if err != nil {
		return err
	}
	cfg, err := decodeConfig(cfgSnap)
	if err != nil {
		return err
	}
	waiting, err := tx.Documents(s.queue(run.Account, ref).Limit(1)).GetAll()
	if err != nil {
		return err
	}
	if len(waiting) == 0 || slot > cfg.Schedule.MaxActiveRuns {
		return tx.Delete(slotRef)
	}
	next, err := decodeRun(waiting[0])
	if err != nil {
		return err
	}
	admit(cfg, &next, slot)
	if err := tx.Set(slotRef, slotDoc{RunKey: next.Key, RunID: next.RunID, Since: next.AdmittedAt}); err != nil {
		return err
	}
	return tx.Set(waiting[0].Ref, encodeRun(next))
}
