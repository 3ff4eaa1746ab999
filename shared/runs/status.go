package runs

import "github.com/runwaydata/runway/shared/executor/message"

// Status is the state of a run. Its values are part of the executor
// contract, so they are declared with the messages that carry them; these
// names keep the core's code reading as runs.StatusSuccess.
type Status = message.Status

// The run statuses.
const (
	StatusRunning = message.StatusRunning
	StatusSuccess = message.StatusSuccess
	StatusFailed  = message.StatusFailed
	StatusNoMatch = message.StatusNoMatch
	StatusChecked = message.StatusChecked
)

// Statuses lists every status, in the order the reference gives them.
var Statuses = message.Statuses

// RunError is why a run failed, as its executor (or the Reaper) said.
type RunError = message.RunError
