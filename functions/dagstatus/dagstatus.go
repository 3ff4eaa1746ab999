// Package dagstatus is the DagStatus function, POST /v1/dag/status: it
// reads runs (check_run_status, get_last_status, get_by_status,
// get_run_events), lets people set their status (set_run_status,
// set_runs_status for many) or cancel them (cancel_run), and executors
// report on them (report_run_status).
package dagstatus

import (
	"context"
	"errors"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/runs"
)

// Deps are the DagStatus function's dependencies.
type Deps struct {
	Runs  *runs.Service
	Authn api.Authenticator
	Authz api.Authorizer
	// Limits keep one caller from starving the others; nil for none.
	Limits *api.Limits
	// Now is the clock durations of running runs are measured with; nil
	// means time.Now.
	Now func() time.Time
}

// Handler serves DagStatus.
type Handler struct {
	*api.Endpoint
	runs   *runs.Service
	limits *api.Limits
	now    func() time.Time
}

// New returns the DagStatus handler.
func New(deps Deps) (*Handler, error) {
	if deps.Runs == nil {
		return nil, errors.New("dagstatus: missing runs service")
	}
	h := &Handler{runs: deps.Runs, limits: deps.Limits, now: deps.Now}
	if h.now == nil {
		h.now = time.Now
	}
	endpoint, err := api.NewEndpoint("dagstatus", deps.Authn, deps.Authz, deps.Limits,
		api.NewAction("check_run_status", h.checkRunStatus),
		api.NewAction("get_last_status", findRuns[api.GetLastStatusRequest](h)),
		api.NewAction("get_by_status", findRuns[api.GetByStatusRequest](h)),
		api.NewAction("set_run_status", h.setRunStatus),
		api.NewAction("report_run_status", h.reportRunStatus),
		api.NewAction("get_run_events", h.getRunEvents),
		api.NewAction("cancel_run", h.cancelRun),
		api.NewAction("set_runs_status", h.setRunsStatus),
	)
	if err != nil {
		return nil, err
	}
	h.Endpoint = endpoint
	return h, nil
}

func (h *Handler) checkRunStatus(ctx context.Context, who auth.Caller, req api.CheckRunStatusRequest) (api.Results, error) {
	run, err := h.runs.Get(ctx, req.RunRef())
	if err != nil {
		return api.Results{}, err
	}
	if req.WaitSeconds > 0 && !run.Status.Final() {
		// A wait holds one of the instance's requests for up to a minute:
		// the slots cap them, so that executors' reports always get in.
		release, refused := h.limits.HoldWait(who.Email)
		if refused != nil {
			return api.Results{}, refused
		}
		defer release()
		if run, err = h.runs.Watch(ctx, req.RunRef(), run, time.Duration(req.WaitSeconds)*time.Second); err != nil {
			return api.Results{}, err
		}
	}
	return api.NewResults(h.now(), run), nil
}

// runsQuery is a request for the runs a query selects: get_last_status's
// and get_by_status's.
type runsQuery interface {
	api.Request
	Query() runs.Query
}

// findRuns answers a runsQuery: the runs it selects, newest first.
func findRuns[R runsQuery](h *Handler) func(context.Context, auth.Caller, R) (api.Results, error) {
	return func(ctx context.Context, _ auth.Caller, req R) (api.Results, error) {
		found, err := h.runs.Find(ctx, req.AccountID(), req.Query())
		if err != nil {
			return api.Results{}, err
		}
		return api.NewResults(h.now(), found...), nil
	}
}

func (h *Handler) setRunStatus(ctx context.Context, who auth.Caller, req api.SetRunStatusRequest) (api.Results, error) {
	run, err := h.runs.SetStatus(ctx, who, req.RunRef(), runs.Status(req.Status), runs.Status(req.ExpectedStatus), req.Note)
	if err != nil {
		return api.Results{}, err
	}
	return api.NewResults(h.now(), run), nil
}

func (h *Handler) reportRunStatus(ctx context.Context, who auth.Caller, req api.ReportRunStatusRequest) (api.Results, error) {
	run, err := h.runs.ReportStatus(ctx, who, req.RunRef(), runs.Report{
		ExecutorID: req.ExecutorID, Status: runs.Status(req.Status), Error: req.Error, Metrics: req.Metrics,
	})
	if err != nil {
		return api.Results{}, err
	}
	return api.NewResults(h.now(), run), nil
}

func (h *Handler) getRunEvents(ctx context.Context, _ auth.Caller, req api.GetRunEventsRequest) (api.RunEventsResponse, error) {
	page := req.Page()
	run, events, next, err := h.runs.History(ctx, req.RunRef(), page)
	if err != nil {
		return api.RunEventsResponse{}, err
	}
	return api.NewRunEventsResponse(run, events, page, next), nil
}

func (h *Handler) cancelRun(ctx context.Context, who auth.Caller, req api.CancelRunRequest) (api.Results, error) {
	run, err := h.runs.Cancel(ctx, who, req.RunRef(), req.Reason)
	if err != nil {
		return api.Results{}, err
	}
	return api.NewResults(h.now(), run), nil
}

func (h *Handler) setRunsStatus(ctx context.Context, who auth.Caller, req api.SetRunsStatusRequest) (api.SetRunsStatusResponse, error) {
	result, err := h.runs.SetStatuses(ctx, who, req.Account, req.Query(), runs.Status(req.Status), req.DryRun)
	if err != nil {
		return api.SetRunsStatusResponse{}, err
	}
	resp := api.SetRunsStatusResponse{DryRun: req.DryRun, Matched: result.Matched, Changed: len(result.Changed), RunIDs: result.Planned}
	for _, r := range result.Changed {
		resp.RunIDs = append(resp.RunIDs, r.RunID)
	}
	if resp.RunIDs == nil {
		resp.RunIDs = []string{}
	}
	// What would be left after this call, had it been real.
	resp.Remaining = max(0, resp.Matched-len(resp.RunIDs))
	return resp, nil
}
