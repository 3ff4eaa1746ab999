package api

import (
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
)

// ResultAt is the run's result as of the status change ev: its status, and
// its last update at the change's time, even if the run has changed since.
// Callbacks and alerts report it.
func ResultAt(run runs.Run, ev message.RunEvent) RunResult {
	run.Status, run.LastUpdateDate = ev.Status, ev.At
	if run.EndDate.IsZero() || run.EndDate.After(ev.At) {
		run.EndDate = ev.At
	}
	return NewResults(ev.At, run).Results[0]
}
