package alerts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
)

// facts is what the alerts of one status change say.
type facts struct {
	ev     message.RunEvent
	run    runs.Run
	cfg    configs.Configuration
	m      *configs.Monitoring
	result api.RunResult // the run as of the change
	// values are the @variables of the messages (configs.TemplateVariables).
	values map[string]string
	// runURL and configURL are the links to the run and its configuration,
	// "" when there is no board to link to.
	runURL, configURL string
}

func newFacts(ev message.RunEvent, run runs.Run, cfg configs.Configuration, m *configs.Monitoring, boardURL string) *facts {
	f := &facts{ev: ev, run: run, cfg: cfg, m: m, result: api.ResultAt(run, ev)}
	if boardURL != "" {
		f.runURL = boardURL + "/" + api.BoardRunPath(ev.Account, run.ConfigurationType, run.ConfigurationID, run.RunID)
		f.configURL = boardURL + "/" + api.BoardConfigurationRunsPath(ev.Account, cfg.Environment, cfg.ConfigurationType, cfg.ConfigurationID)
	}
	description, _ := cfg.Definition["short_description"].(string)
	f.values = map[string]string{
		"url_to_tailer_studio_run_id":  f.runURL,
		"url_to_tailer_studio_conf_id": f.configURL,
		"account":                      ev.Account,
		"environment":                  ev.Environment,
		"status":                       string(ev.Status),
		"configuration_id":             cfg.ConfigurationID,
		"configuration_type":           cfg.ConfigurationType,
		"execution_date":               run.ExecutionDate,
		"short_description":            description,
		"job_id":                       run.JobID,
		"run_id":                       run.RunID,
		"updated_by":                   cfg.UpdatedBy,
		"update_date":                  api.FormatTime(cfg.UpdatedAt),
		"impact":                       strconv.Itoa(m.Impact),
		"urgency":                      strconv.Itoa(m.Urgency),
		"alert_info":                   m.Info,
		"error":                        errorText(run.Error),
		"duration":                     f.result.Duration,
	}
	return f
}

// errorText is a run's error in one line; "" for none.
func errorText(e *runs.RunError) string {
	if e == nil {
		return ""
	}
	s := e.Message
	if e.Code != "" {
		s = e.Code + ": " + s
	}
	if e.Location != "" {
		s += " (" + e.Location + ")"
	}
	return s
}

// title is what the alerts are about, in a line.
func (f *facts) title() string {
	return fmt.Sprintf("%s is %s in %s", f.cfg.ConfigurationID, f.ev.Status, f.ev.Environment)
}

// row is a labelled value of the alerts' default messages.
type row struct{ Label, Value string }

// rows are the facts the default messages list, those with a value, in
// this order; links are the links to the run and its configuration.
func (f *facts) rows() (rows, links []row) {
	v := f.values
	deployed := ""
	if v["updated_by"] != "" {
		deployed = v["updated_by"] + " at " + v["update_date"]
	}
	for _, r := range []row{
		{"Status", v["status"]},
		{"Error", v["error"]},
		{"Configuration", v["configuration_id"] + " (" + v["configuration_type"] + ")"},
		{"Description", v["short_description"]},
		{"Environment", v["environment"]},
		{"Account", v["account"]},
		{"Run", v["run_id"]},
		{"Job", v["job_id"]},
		{"Execution date", v["execution_date"]},
		{"Duration", v["duration"]},
		{"Impact", v["impact"]},
		{"Urgency", v["urgency"]},
		{"Alert info", v["alert_info"]},
		{"Deployed by", deployed},
	} {
		if strings.TrimSpace(r.Value) != "" {
			rows = append(rows, r)
		}
	}
	if f.runURL != "" {
		links = append(links, row{"The run", f.runURL}, row{"Its configuration", f.configURL})
	}
	return rows, links
}
