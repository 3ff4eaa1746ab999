package executor

import (
	"context"
	"errors"
	"testing"
)

// TestRunningTracksEachDelivery: a launch delivered twice is tracked twice;
// the delivery that ends first leaves the other one cancelable.
func TestRunningTracksEachDelivery(t *testing.T) {
	t.Parallel()
	var r Running
	first, doneFirst := r.Track(context.Background(), "run-1")
	second, doneSecond := r.Track(context.Background(), "run-1")
	defer doneSecond()

	doneFirst()
	if !errors.Is(context.Cause(first), context.Canceled) {
		t.Errorf("the first execution's context after done: cause %v", context.Cause(first))
	}
	_, stopped, err := r.Cancel([]byte(`{"message_type":"cancel","run_id":"run-1","by":"alice@example.com","reason":"wrong day"}`))
	if err != nil || !stopped {
		t.Fatalf("Cancel = stopped %v, %v; want the second execution stopped", stopped, err)
	}
	if !errors.Is(context.Cause(second), ErrCanceled) {
		t.Errorf("the second execution's cause = %v, want ErrCanceled", context.Cause(second))
	}
	if _, stopped, _ := r.Cancel([]byte(`{"message_type":"cancel","run_id":"run-2"}`)); stopped {
		t.Error("a cancel for a run not executed here stopped something")
	}
}
