package board

import (
	"context"
	"net/http"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
)

// workflowView is a workflow's gate, as get_workflow_status answers it:
// each authorized job met or not in the current cycle, and by which run;
// the last firing; and the Reset button of Tailer Studio's Status tab.
type workflowView struct {
	Workflow  api.WorkflowStatus
	Criteria  []criterionRow
	TargetURL string // the target's runs
	// LastTargetURL is the run the last firing launched.
	LastTargetURL string
	CanReset      bool
	ResetURL      string
}

type criterionRow struct {
	api.Criterion
	RunURL string
}

func (h *Handler) workflowPage(w http.ResponseWriter, r *http.Request) {
	who, ok := h.identify(w, r)
	if !ok {
		return
	}
	req := workflowRequest(r)
	p, ok := h.authorize(w, r, who, req, "get_workflow_status")
	if !ok {
		return
	}
	wf, st, err := h.deps.Workflows.Status(r.Context(), req.Account, req.Ref())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := api.NewWorkflowStatus(wf, st)
	target := status.Target
	view := workflowView{Workflow: status, CanReset: h.may(p, "reset_workflow_status"),
		ResetURL:  Root + pathOf(req.Account, "workflows", req.Environment, req.ConfigurationID, "reset"),
		TargetURL: Root + api.BoardConfigurationRunsPath(req.Account, wf.Environment, target.ConfigurationType, target.ConfigurationID)}
	for _, c := range status.Criteria {
		row := criterionRow{Criterion: c}
		if c.Met {
			row.RunURL = jobRunURL(req.Account, c.JobID, c.RunID)
		}
		view.Criteria = append(view.Criteria, row)
	}
	if f := status.LastFired; f != nil && f.TargetRunID != "" {
		view.LastTargetURL = runURL(req.Account, target.ConfigurationType, target.ConfigurationID, f.TargetRunID)
	}
	p.Title, p.Nav, p.Data = "Workflow "+wf.ConfigurationID, "workflows", view
	h.render(w, r, http.StatusOK, "workflow", p)
}

// resetWorkflow starts a new cycle of the workflow, forgetting the jobs
// met so far: the API's reset_workflow_status.
func (h *Handler) resetWorkflow(ctx context.Context, who auth.Caller, req api.WorkflowRequest) (string, error) {
	err := h.deps.Workflows.Reset(ctx, who, req.Account, req.Ref())
	return Root + pathOf(req.Account, "workflows", req.Environment, req.ConfigurationID) + "?done=reset", err
}

func workflowRequest(r *http.Request) api.WorkflowRequest {
	return api.WorkflowRequest{ConfigRefRequest: api.ConfigRefRequest{Account: r.PathValue("account"),
		Environment: r.PathValue("environment"), ConfigurationType: string(configs.KindWorkflow), ConfigurationID: r.PathValue("configuration")}}
}

// jobRunURL is the page of a run of the job jobID, when the job id says
// its configuration (configs.ConfigurationOfJob); "" when it does not.
func jobRunURL(account, jobID, runID string) string {
	typ, id, ok := configs.ConfigurationOfJob(jobID)
	if !ok {
		return ""
	}
	return runURL(account, typ, id, runID)
}
