package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
)

// Every launch records on its run that its message went out (the outbox
// mark) before it answers. Marks of concurrent launches are committed
// together, so that under load the database sees a Commit per batch
// rather than one per launch: a mark that arrives while the committers are
// busy waits for the next Commit, which takes up to maxMarksPerCommit of
// the marks waiting. Alone, a mark is committed at once. bench/RESULTS.md
// (section 3) measures what it saves.
const (
	maxMarksPerCommit = 20
	markCommitters    = 2
)

// markGroup holds the marks waiting for a Commit. At most markCommitters
// goroutines commit at a time; each takes the marks waiting, commits them,
// and goes on while marks are left, so a mark never waits with nobody to
// commit it. The launches themselves only wait for their own mark, within
// their own deadline.
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

// MarkPublished implements runs.Store: it records on the run's document
// that its launch message went out, committed with the marks of concurrent
// launches.
func (s *Store) MarkPublished(ctx context.Context, account, key, messageID string, at time.Time) error {
	m := &mark{ref: s.runs(account).Doc(key), done: make(chan error, 1), updates: []firestore.Update{
		{Path: "published", Value: true},
		{Path: "published_at", Value: at},
		{Path: "pubsub_message_id", Value: messageID},
	}}
	g := &s.marks
	g.mu.Lock()
	g.waiting = append(g.waiting, m)
	if g.committers < markCommitters {
		g.committers++
		go s.commitMarks()
	}
	g.mu.Unlock()
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		// A mark nobody waits for any more leaves the queue, so that
		// abandoned marks cannot hold up live ones when Firestore is slow.
		// One already taken into a Commit may still land: it is idempotent.
		g.mu.Lock()
		g.waiting = slices.DeleteFunc(g.waiting, func(w *mark) bool { return w == m })
		g.mu.Unlock()
		return classify("store.MarkPublished", ctx.Err())
	}
}

// commitMarks commits the marks waiting, up to maxMarksPerCommit at a time,
// until none are left.
func (s *Store) commitMarks() {
	g := &s.marks
	for {
		g.mu.Lock()
		n := min(len(g.waiting), maxMarksPerCommit)
		if n == 0 {
			g.committers--
			g.mu.Unlock()
			return
		}
		group := slices.Clone(g.waiting[:n])
		g.waiting = g.waiting[n:]
		g.mu.Unlock()
		s.commitGroup(group)
	}
}

// commitGroup commits group in one Commit and tells each mark the result.
// The Commit is no one launch's, so none of their contexts may cancel it;
// the store's timeout bounds it. A Commit is all or nothing: when one of
// several marks fails, for any reason (a run deleted under its mark,
// contention on one document), each mark is committed alone, at once, so
// that one mark cannot fail the others.
func (s *Store) commitGroup(group []*mark) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	//lint:ignore SA1019 WriteBatch is the client's one Commit of several writes; BulkWriter starts at 500 writes/s and batches on a timer.
	batch := s.client.Batch()
	for _, m := range group {
		batch.Update(m.ref, m.updates)
	}
	_, err := batch.Commit(ctx)
	if err == nil || len(group) == 1 {
		err = classify("store.MarkPublished", err)
		for _, m := range group {
			m.done <- err
		}
		return
	}
	var wg sync.WaitGroup
	for _, m := range group {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			defer cancel()
			_, err := m.ref.Update(ctx, m.updates)
			m.done <- classify("store.MarkPublished", err)
		})
	}
	wg.Wait()
}
