package board

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// configurationsPageSize is how many configurations a page of the
// configurations view lists; the last run of each is read with it.
const configurationsPageSize = 50

// configurationsView is the configurations view: a page of an account's
// configurations, as list_configurations answers them, with the last run
// of each.
type configurationsView struct {
	Environment, Type string
	Types             []option
	Rows              []configurationRow
	Next, First       string
	CanSwitch         bool
	Back              string // this page, where a switch returns
}

type configurationRow struct {
	api.ConfigurationResult
	LastRun   *runRow
	RunsURL   string
	GateURL   string // a workflow's gate
	SwitchURL string
}

func (h *Handler) configurationsPage(w http.ResponseWriter, r *http.Request) {
	who, ok := h.identify(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := configurationsPageSize
	req := api.ListConfigurationsRequest{Account: r.PathValue("account"), Environment: q.Get("environment"),
		ConfigurationType: q.Get("type"), PageToken: q.Get("page"), Limit: &limit}
	p, ok := h.authorize(w, r, who, req, "list_configurations")
	if !ok {
		return
	}
	ctx := r.Context()
	f := configs.Filter{Environment: req.Environment}
	f.Kind, _ = configs.KindOf(req.ConfigurationType)
	list, next, err := h.deps.Configs.List(ctx, req.Account, f, limit, req.PageToken)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	view := configurationsView{Environment: req.Environment, Type: req.ConfigurationType,
		Types: choices(req.ConfigurationType, "Every type", configs.ConfigurationTypes()...), Rows: make([]configurationRow, len(list)),
		CanSwitch: h.may(p, "set_configuration_status"), Back: r.URL.RequestURI()}
	// The last run of each, as get_last_status answers it, a few at a time.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, c := range list {
		row := &view.Rows[i]
		row.ConfigurationResult = api.NewConfigurationResult(c, false)
		row.RunsURL = Root + api.BoardConfigurationRunsPath(req.Account, c.Environment, c.ConfigurationType, c.ConfigurationID)
		row.SwitchURL = Root + pathOf(req.Account, "configurations", c.Environment, c.ConfigurationType, c.ConfigurationID, "status")
		if c.Workflow != nil {
			row.GateURL = Root + pathOf(req.Account, "workflows", c.Environment, c.ConfigurationID)
		}
		g.Go(func() error {
			last, err := h.deps.Runs.Find(gctx, req.Account, runs.Query{Kind: c.Kind, Environment: c.Environment, ConfigurationID: c.ConfigurationID, Limit: 1})
			if err == nil && len(last) == 1 {
				row.LastRun = &h.runRows(req.Account, last)[0]
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		h.fail(w, r, err)
		return
	}
	view.First, view.Next = pageLinks(Root+pathOf(req.Account, "configurations"), req.PageToken, next,
		map[string]string{"environment": req.Environment, "type": req.ConfigurationType})
	p.Title, p.Nav, p.Data = "Configurations of "+req.Account, "configurations", view
	if req.ConfigurationType == string(configs.KindWorkflow) {
		p.Title, p.Nav = "Workflows of "+req.Account, "workflows"
	}
	h.render(w, r, http.StatusOK, "configurations", p)
}

// switchForm is the form that activates or deactivates a configuration:
// the API's set_configuration_status, with archived as it is. It says what
// the configuration is to be, not to toggle it, so that two people
// clicking at once agree; and the page to go back to.
type switchForm struct {
	api.SetConfigurationStatusRequest
	back string
}

func switchRequest(r *http.Request) switchForm {
	f := switchForm{back: r.PostFormValue("back"), SetConfigurationStatusRequest: api.SetConfigurationStatusRequest{
		ConfigRefRequest: api.ConfigRefRequest{Account: r.PathValue("account"), Environment: r.PathValue("environment"),
			ConfigurationType: r.PathValue("type"), ConfigurationID: r.PathValue("configuration")}}}
	if v := r.PostFormValue("activated"); v == "true" || v == "false" {
		activated := v == "true"
		f.Activated = &activated
	}
	archived := false
	f.Archived = &archived // as it is, read once the caller may
	return f
}

func (h *Handler) setConfigurationStatus(ctx context.Context, who auth.Caller, f switchForm) (string, error) {
	cfg, err := h.deps.Configs.Get(ctx, f.Account, f.Ref())
	if err != nil {
		return "", err
	}
	if err := h.deps.Configs.SetStatus(ctx, who, f.Account, f.Ref(), *f.Activated, cfg.Archived); err != nil {
		return "", err
	}
	back := f.back
	if !strings.HasPrefix(back, Root+pathOf(f.Account, "configurations")) || strings.Contains(back, "//") {
		back = Root + pathOf(f.Account, "configurations")
	}
	done := "deactivated"
	if *f.Activated {
		done = "activated"
	}
	return withDone(back, done), nil
}

// withDone adds ?done=… to a page's URL, instead of any it had.
func withDone(page, done string) string {
	u, err := url.Parse(page)
	if err != nil {
		return page
	}
	q := u.Query()
	q.Set("done", done)
	u.RawQuery = q.Encode()
	return u.String()
}
