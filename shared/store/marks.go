package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/runwaydata/runway/shared/runs"
)

// Marks (the outbox records of published launch messages) are committed
// together: every launch waits for its own mark, so one Commit per launch
// would cost each launch a second Commit and the emulator or Firestore a
// Commit per launch. A mark that arrives while the committers are busy
// waits for the next Commit, which takes up to maxMarksPerCommit of the
// marks waiting. One at a time, a mark is committed at once, as before.
// bench/RESULTS.md (section 3) measures what it saves.
const (
	maxMarksPerCommit = 20
	markCommitters    = 2
)

// markGroup holds the marks waiting for a Commit. Committing is done by the
// goroutines of the launches themselves: the first marks to find fewer
// than markCommitters committers at work commit, and a committer that
// leaves marks waiting hands them to a goroutine of their own, so that its
// launch is answered without waiting for the others'.
type markGroup struct {
	mu         sync.Mutex
	waiting    []*mark
	committers int
}

type mark struct {
	ref     *firestore.DocumentRef
	updates []firestore.Update
	done    chan error // buffered: the committer never blocks on it
}

// markPublished records on the run's document that its launch message went
// out, committed with the marks of concurrent launches.
func (s *Store) markPublished(ctx context.Context, ref *firestore.DocumentRef, messageID string, at time.Time) error {
	m := &mark{ref: ref, done: make(chan error, 1), updates: []firestore.Update{
		{Path: "published", Value: true},
		{Path: "published_at", Value: at},
		{Path: "pubsub_message_id", Value: messageID},
	}}
	g := &s.marks
	g.mu.Lock()
	g.waiting = append(g.waiting, m)
	commit := g.committers < markCommitters
	if commit {
		g.committers++
	}
	g.mu.Unlock()
	if commit {
		s.commitMarks()
	}
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		// The mark may still be committed: it is idempotent.
		return ctx.Err()
	}
}

// commitMarks commits the marks waiting, up to maxMarksPerCommit, then
// hands what arrived meanwhile to another goroutine or, when nothing did,
// stops being a committer.
func (s *Store) commitMarks() {
	g := &s.marks
	g.mu.Lock()
	n := min(len(g.waiting), maxMarksPerCommit)
	group := g.waiting[:n:n]
	g.waiting = g.waiting[n:]
	g.mu.Unlock()

	// The group's Commit is not any one launch's, so none of their contexts
	// may cancel it; the store's timeout bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	s.commitGroup(ctx, group)

	g.mu.Lock()
	more := len(g.waiting) > 0
	if !more {
		g.committers--
	}
	g.mu.Unlock()
	if more {
		go s.commitMarks()
	}
}

// commitGroup commits group in one Commit and tells each mark the result.
// A Commit is all or nothing: when it fails for a reason other than an
// unavailable Firestore (a run deleted under its mark, say), each mark is
// committed alone, so that one mark cannot fail the others.
func (s *Store) commitGroup(ctx context.Context, group []*mark) {
	//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes; BulkWriter starts at 500 writes/s and batches on a timer.
	batch := s.client.Batch()
	for _, m := range group {
		batch.Update(m.ref, m.updates)
	}
	_, err := batch.Commit(ctx)
	err = classify("store.MarkPublished", err)
	if err != nil && len(group) > 1 && !errors.Is(err, runs.ErrUnavailable) {
		for _, m := range group {
			_, err := m.ref.Update(ctx, m.updates)
			m.done <- classify("store.MarkPublished", err)
		}
		return
	}
	for _, m := range group {
		m.done <- err
	}
}
