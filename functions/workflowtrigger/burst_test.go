package workflowtrigger_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/runwaydata/runway/functions/workflowtrigger"
	"github.com/runwaydata/runway/shared/stacktest"
)

// stateWrites counts, among writes, those to workflow state documents and
// to their jobs' met documents.
func stateWrites(writes []*firestorepb.Write) (state, met int) {
	for _, write := range writes {
		switch name := write.GetUpdate().GetName(); {
		case strings.Contains(name, "/workflow_state/") && strings.Contains(name, "/met/"):
			met++
		case strings.Contains(name, "/workflow_state/"):
			state++
		}
	}
	return state, met
}

// TestABurstOfOneJobDoesNotContend: 500 successes of one authorized job,
// delivered 50 at a time, write its met document once and the workflow's
// state never; the two other jobs then complete the cycle, which writes
// the state once and launches the target once.
func TestABurstOfOneJobDoesNotContend(t *testing.T) {
	commits := &stacktest.CommitRecorder{}
	s := stacktest.New(t, stacktest.WithFirestoreDialOptions(grpc.WithChainUnaryInterceptor(commits.Intercept)))
	s.Seed(t)
	h, err := workflowtrigger.New(s.Env.Workflows)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Now().UTC()
	commits.Take()

	var g errgroup.Group
	g.SetLimit(50)
	for i := range 500 {
		g.Go(func() error { return h.Handle(ctx, success("JA", base.Add(time.Duration(i+1)*time.Millisecond))) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if state, met := stateWrites(commits.Take()); state != 0 || met != 1 {
		t.Errorf("the burst wrote the workflow state %d times and JA's met document %d times; want 0 and 1", state, met)
	}
	_, st, err := s.Env.Workflows.Status(ctx, "000099", workflow)
	if err != nil || st.Cycle != 1 || len(st.Met) != 1 {
		t.Fatalf("after the burst: cycle %d, met %v, %v; want cycle 1 with JA met", st.Cycle, st.Met, err)
	}

	for _, name := range []string{"JB", "JC"} {
		if err := h.Handle(ctx, success(name, base.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	if state, met := stateWrites(commits.Take()); state != 1 || met != 2 {
		t.Errorf("completing the cycle wrote the state %d times and met documents %d times; want 1 and 2", state, met)
	}
	if n := len(targetRuns(t, s)); n != 1 {
		t.Errorf("%d target runs, want 1", n)
	}
}
