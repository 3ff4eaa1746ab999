package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/runwaydata/runway/shared/executor/message"
)

// ErrCanceled is the cause of a tracked context that a cancel message
// ended.
var ErrCanceled = errors.New("executor: the run was canceled")

// Running tracks the runs this process executes, so that a cancel message
// delivered to it can stop one at once. A cancel delivered to another
// instance finds nothing here: that execution stops at its next
// heartbeat, which Runway refuses. The zero value is ready to use.
type Running struct {
	mu   sync.Mutex
	next int
	// runs holds, per run id, the cancel function of each execution of
	// it: a launch message delivered twice to this process is tracked
	// twice, and the one that ends first must not untrack the other.
	runs map[string]map[int]context.CancelCauseFunc
}

// Track returns a context that a cancel message for runID ends, with
// cause ErrCanceled, and done, to call when the execution ends.
func (r *Running) Track(ctx context.Context, runID string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs == nil {
		r.runs = map[string]map[int]context.CancelCauseFunc{}
	}
	if r.runs[runID] == nil {
		r.runs[runID] = map[int]context.CancelCauseFunc{}
	}
	id := r.next
	r.next++
	r.runs[runID][id] = cancel
	return ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.runs[runID], id)
		if len(r.runs[runID]) == 0 {
			delete(r.runs, runID)
		}
		cancel(context.Canceled)
	}
}

// Cancel stops the execution of the run a cancel message names, if this
// process runs it. It returns the message, and whether it stopped
// anything.
func (r *Running) Cancel(data []byte) (message.Cancel, bool, error) {
	var msg message.Cancel
	if err := json.Unmarshal(data, &msg); err != nil || msg.MessageType != message.TypeCancel || msg.RunID == "" {
		return msg, false, fmt.Errorf("executor: not a cancel message: %q", data)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	executions := r.runs[msg.RunID]
	for _, cancel := range executions {
		cancel(fmt.Errorf("%w by %s: %s", ErrCanceled, msg.By, msg.Reason))
	}
	return msg, len(executions) > 0, nil
}
