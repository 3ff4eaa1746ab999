package board

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// shownConfigurations bounds the configurations the runs view's filter
// offers; one named in the filter is offered whatever its place.
const shownConfigurations = 200

// runsView is the runs view: a page of an account's runs, and its filters.
type runsView struct {
	Filter         api.RunsPageRequest
	Configuration  string // the filter's configuration: ENV/TYPE/ID
	Configurations []option
	Environments   []option
	Statuses       []option
	Triggers       []option
	Rows           []runRow
	Next, First    string // the next page and the first, when there are
}

// option is one choice of a filter.
type option struct {
	Value, Label string
	Selected     bool
}

// runRow is one run of the runs view.
type runRow struct {
	api.RunResult
	TriggerType string
	URL         string
	// RowURL, while the run is RUNNING, is where its row refreshes from.
	RowURL string
}

func (h *Handler) runsPage(w http.ResponseWriter, r *http.Request) {
	who, ok := h.identify(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	req := api.RunsPageRequest{Account: r.PathValue("account"), Environment: q.Get("environment"), Status: q.Get("status"),
		TriggerType: q.Get("trigger"), From: q.Get("from"), To: q.Get("to"), PageToken: q.Get("page")}
	configuration := q.Get("configuration")
	if configuration != "" {
		// ENV/TYPE/ID: the configuration's environment wins over the
		// environment filter.
		parts := strings.SplitN(configuration, "/", 3)
		if len(parts) != 3 {
			parts = []string{"", "", configuration}
		}
		req.Environment, req.ConfigurationType, req.ConfigurationID = parts[0], parts[1], parts[2]
	}
	p, ok := h.authorize(w, r, who, req, "get_by_status")
	if !ok {
		return
	}
	ctx := r.Context()
	found, next, err := h.deps.Runs.FindPage(ctx, req.Account, req.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	offered, _, err := h.deps.Configs.List(ctx, req.Account, configs.Filter{}, shownConfigurations, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	view := runsView{Filter: req, Configuration: configuration, Rows: h.runRows(req.Account, found)}
	view.Configurations, view.Environments = configurationOptions(offered, configuration, req.Environment)
	view.Statuses = choices(req.Status, "Every status", statusNames()...)
	view.Triggers = choices(req.TriggerType, "Every trigger", runs.TriggerAPI, runs.TriggerSchedule, runs.TriggerWorkflow, runs.TriggerRetry)
	view.First, view.Next = pageLinks(Root+pathOf(req.Account, "runs"), req.PageToken, api.RunsPageToken(next), map[string]string{
		"configuration": configuration, "environment": q.Get("environment"), "status": req.Status, "trigger": req.TriggerType, "from": req.From, "to": req.To})
	p.Title, p.Nav, p.Data = "Runs of "+req.Account, "runs", view
	h.render(w, r, http.StatusOK, "runs", p)
}

// runRows converts runs to rows, with the API's durations as of now.
func (h *Handler) runRows(account string, found []runs.Run) []runRow {
	results := api.NewResults(h.now(), found...).Results
	rows := make([]runRow, len(found))
	for i, run := range found {
		rows[i] = runRow{RunResult: results[i], TriggerType: run.TriggerType, URL: runURL(account, run.ConfigurationType, run.ConfigurationID, run.RunID)}
		if run.Status == runs.StatusRunning {
			rows[i].RowURL = rows[i].URL + "/row"
		}
	}
	return rows
}

// runRow serves one row of the runs view, which refreshes itself while the
// run is RUNNING.
func (h *Handler) runRow(w http.ResponseWriter, r *http.Request) {
	who, ok := h.identify(w, r)
	if !ok {
		return
	}
	req := api.GetRunEventsRequest{RunIdentity: runIdentity(r)}
	if _, ok := h.authorize(w, r, who, req, "check_run_status"); !ok {
		return
	}
	run, err := h.deps.Runs.Get(r.Context(), req.RunRef())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.execute(w, r, http.StatusOK, h.pages["runs"], "row", h.runRows(req.Account, []runs.Run{run})[0])
}

// runView is a run's page: check_run_status's fields and get_run_events'
// history, as the API answers them.
type runView struct {
	Run     api.RunResult
	History api.RunEventsResponse
	// Links to the pages of the runs and workflow it is related to.
	RunsURL, WorkflowURL, ParentURL, RetryURL string
	// The history's pages: the first, and the next.
	FirstEvents, NextEvents string
	// The actions the caller may take on it now, and where they post.
	CanCheck, CanCancel bool
	URL                 string
}

func (h *Handler) runPage(w http.ResponseWriter, r *http.Request) {
	who, ok := h.identify(w, r)
	if !ok {
		return
	}
	req := api.GetRunEventsRequest{RunIdentity: runIdentity(r), PageToken: r.URL.Query().Get("events")}
	p, ok := h.authorize(w, r, who, req, "get_run_events")
	if !ok {
		return
	}
	events := req.Page()
	run, recorded, next, err := h.deps.Runs.History(r.Context(), req.RunRef(), events)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	self := runURL(req.Account, req.ConfigurationType, req.ConfigurationID, run.RunID)
	view := runView{
		Run:       api.NewResults(h.now(), run).Results[0],
		History:   api.NewRunEventsResponse(run, recorded, events, next),
		RunsURL:   Root + api.BoardConfigurationRunsPath(req.Account, run.Environment, run.ConfigurationType, run.ConfigurationID),
		URL:       self,
		CanCheck:  run.Status == runs.StatusFailed && h.may(p, "set_run_status"),
		CanCancel: run.Status == runs.StatusRunning && h.may(p, "cancel_run"),
	}
	if run.ParentRunID != "" {
		view.ParentURL = runURL(req.Account, req.ConfigurationType, req.ConfigurationID, run.ParentRunID)
	}
	if run.RetryRunID != "" {
		view.RetryURL = runURL(req.Account, req.ConfigurationType, req.ConfigurationID, run.RetryRunID)
	}
	if workflow, ok := strings.CutPrefix(run.StartedBy, "workflow:"); ok && run.TriggerType == runs.TriggerWorkflow {
		view.WorkflowURL = Root + pathOf(req.Account, "workflows", run.Environment, workflow)
	}
	if req.PageToken != "" {
		view.FirstEvents = self
	}
	if view.History.NextPageToken != "" {
		view.NextEvents = self + "?events=" + url.QueryEscape(view.History.NextPageToken)
	}
	p.Title, p.Nav, p.Data = "Run "+run.RunID, "runs", view
	h.render(w, r, http.StatusOK, "run", p)
}

// checkRequest is the form that sets a FAILED run to CHECKED, with the
// person's note: the API's set_run_status with expected_status, the status
// the page showed, so that of two people clicking at once only the first
// changes it.
func checkRequest(r *http.Request) api.SetRunStatusRequest {
	return api.SetRunStatusRequest{RunIdentity: runIdentity(r), Status: string(runs.StatusChecked),
		ExpectedStatus: r.PostFormValue("expected_status"), Note: strings.TrimSpace(r.PostFormValue("note"))}
}

func (h *Handler) checkRun(ctx context.Context, who auth.Caller, req api.SetRunStatusRequest) (string, error) {
	_, err := h.deps.Runs.SetStatus(ctx, who, req.RunRef(), runs.StatusChecked, runs.Status(req.ExpectedStatus), req.Note)
	return runURL(req.Account, req.ConfigurationType, req.ConfigurationID, req.RunID) + "?done=checked", err
}

// cancelRequest is the form that cancels a RUNNING run: the API's
// cancel_run, which refuses a run that is no longer RUNNING.
func cancelRequest(r *http.Request) api.CancelRunRequest {
	return api.CancelRunRequest{RunIdentity: runIdentity(r), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
}

func (h *Handler) cancelRun(ctx context.Context, who auth.Caller, req api.CancelRunRequest) (string, error) {
	_, err := h.deps.Runs.Cancel(ctx, who, req.RunRef(), req.Reason)
	return runURL(req.Account, req.ConfigurationType, req.ConfigurationID, req.RunID) + "?done=canceled", err
}

// runIdentity is the run a run page's path names.
func runIdentity(r *http.Request) api.RunIdentity {
	return api.RunIdentity{Account: r.PathValue("account"), ConfigurationType: r.PathValue("type"),
		ConfigurationID: r.PathValue("configuration"), RunID: r.PathValue("run")}
}

// runURL is the page of a run.
func runURL(account, configurationType, configurationID, runID string) string {
	return Root + api.BoardRunPath(account, configurationType, configurationID, runID)
}

// pathOf joins path segments, each escaped.
func pathOf(segments ...string) string {
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.Join(segments, "/")
}

// pageLinks are the links of a list's pages, with its filters: to the
// first page, when this one (of pageToken) is not it, and to the next one,
// when there is one.
func pageLinks(path, pageToken, next string, filters map[string]string) (first, after string) {
	v := url.Values{}
	for name, value := range filters {
		if value != "" {
			v.Set(name, value)
		}
	}
	if pageToken != "" {
		first = path
		if len(v) > 0 {
			first += "?" + v.Encode()
		}
	}
	if next != "" {
		v.Set("page", next)
		after = path + "?" + v.Encode()
	}
	return first, after
}

// configurationOptions offers the configurations listed, and their
// environments, to the runs view's filter.
func configurationOptions(listed []configs.Configuration, selected, environment string) (configurations, environments []option) {
	configurations = []option{{Value: "", Label: "Every configuration"}}
	environments = []option{{Value: "", Label: "Every environment"}}
	seenEnv := map[string]bool{}
	found := selected == ""
	for _, c := range listed {
		value := c.Environment + "/" + c.ConfigurationType + "/" + c.ConfigurationID
		found = found || value == selected
		configurations = append(configurations, option{Value: value, Label: c.ConfigurationID + " (" + c.ConfigurationType + ", " + c.Environment + ")", Selected: value == selected})
		if !seenEnv[c.Environment] {
			seenEnv[c.Environment] = true
			environments = append(environments, option{Value: c.Environment, Label: c.Environment, Selected: c.Environment == environment})
		}
	}
	if !found {
		configurations = append(configurations, option{Value: selected, Label: selected, Selected: true})
	}
	if environment != "" && !seenEnv[environment] {
		environments = append(environments, option{Value: environment, Label: environment, Selected: true})
	}
	return configurations, environments
}

// choices offers values, and none ("" labelled any).
func choices(selected, any string, values ...string) []option {
	out := []option{{Value: "", Label: any}}
	for _, v := range values {
		out = append(out, option{Value: v, Label: v, Selected: v == selected})
	}
	return out
}

func statusNames() []string {
	names := make([]string, len(runs.Statuses))
	for i, s := range runs.Statuses {
		names[i] = string(s)
	}
	return names
}
