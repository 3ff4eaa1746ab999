package api

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// Limits of the board's runs view: how many runs a page holds.
const (
	DefaultRunsPageLimit = 50
	MaxRunsPageLimit     = 200
)

// RunsPageRequest asks for a page of an account's runs, the board's runs
// view: of every configuration or one, filtered by environment, status,
// trigger and the days they were launched, newest first.
type RunsPageRequest struct {
	Account     string
	Environment string
	// ConfigurationType and ConfigurationID, both or neither, name one
	// configuration, of Environment.
	ConfigurationType string
	ConfigurationID   string
	Status            string
	TriggerType       string
	// From and To are days, YYYY-MM-DD in UTC: the runs launched from the
	// first to the last, both included. Either may be left out.
	From, To string
	// PageToken, from the page before, asks for the runs after it.
	PageToken string
	Limit     int // 0 for DefaultRunsPageLimit
}

// AccountID implements Request.
func (r RunsPageRequest) AccountID() string { return r.Account }

// Validate implements Request.
func (r RunsPageRequest) Validate() []FieldError {
	var p problems
	p.account(r.Account)
	p.environment(r.Environment, false)
	if r.ConfigurationID != "" || r.ConfigurationType != "" {
		p.configurationType(r.ConfigurationType)
		p.configurationID(r.ConfigurationID)
		if r.Environment == "" {
			p.add("environment", "is required with configuration_id")
		}
	}
	p.status(r.Status, false)
	switch r.TriggerType {
	case "", runs.TriggerAPI, runs.TriggerWorkflow, runs.TriggerRetry, runs.TriggerSchedule:
	default:
		p.add("trigger_type", "must be one of %s, %s, %s, %s", runs.TriggerAPI, runs.TriggerWorkflow, runs.TriggerRetry, runs.TriggerSchedule)
	}
	for field, day := range map[string]string{"from": r.From, "to": r.To} {
		if day != "" && !validDate(day) {
			p.add(field, "must be a date written YYYY-MM-DD, such as 2020-12-09")
		}
	}
	if r.From != "" && r.To != "" && r.To < r.From {
		p.add("to", "must not be before from")
	}
	if _, ok := decodeRunCursor(r.PageToken); !ok {
		p.add("page_token", "is not one this board returned")
	}
	if r.Limit < 0 || r.Limit > MaxRunsPageLimit {
		p.add("limit", "must be between 1 and %d", MaxRunsPageLimit)
	}
	return p
}

// Query returns the runs query the request describes.
func (r RunsPageRequest) Query() runs.Query {
	q := runs.Query{Environment: r.Environment, ConfigurationID: r.ConfigurationID,
		Status: runs.Status(r.Status), TriggerType: r.TriggerType, Limit: r.Limit}
	if r.ConfigurationID != "" {
		q.Kind, _ = configs.KindOf(r.ConfigurationType)
	}
	if q.Limit == 0 {
		q.Limit = DefaultRunsPageLimit
	}
	if from, err := time.Parse(time.DateOnly, r.From); err == nil {
		q.Since = from
	}
	if to, err := time.Parse(time.DateOnly, r.To); err == nil {
		q.Before = to.AddDate(0, 0, 1)
	}
	if after, _ := decodeRunCursor(r.PageToken); after.Key != "" {
		q.After = &after
	}
	return q
}

// RunsPageToken is the page token of the runs after c.
func RunsPageToken(c *runs.RunCursor) string {
	if c == nil {
		return ""
	}
	return encodeCursor(c.Start, c.Key)
}

// runKeyPattern matches run keys: the UUID part of run ids.
var runKeyPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// decodeRunCursor reads a runs page token; "" is the first page.
func decodeRunCursor(token string) (runs.RunCursor, bool) {
	start, key, ok := decodeCursor(token, runKeyPattern)
	return runs.RunCursor{Start: start, Key: key}, ok
}

// BoardRunPath and BoardConfigurationRunsPath are where the board shows a
// run, and a configuration's runs, relative to the board's root. The board
// serves them and alerts link to them, so both take them from here.
func BoardRunPath(account, configurationType, configurationID, runID string) string {
	return boardPath(account, "runs", configurationType, configurationID, runID)
}

// BoardConfigurationRunsPath: see BoardRunPath.
func BoardConfigurationRunsPath(account, environment, configurationType, configurationID string) string {
	return boardPath(account, "runs") + "?configuration=" + url.QueryEscape(environment+"/"+configurationType+"/"+configurationID)
}

// boardPath joins path segments, each escaped.
func boardPath(segments ...string) string {
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.Join(segments, "/")
}
