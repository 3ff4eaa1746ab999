package api

import (
	"encoding/base64"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// RunIdentity names a run with the identity of its configuration, as the
// run-level actions take it.
type RunIdentity struct {
	Account           string `json:"account"`
	Environment       string `json:"environment,omitempty"`
	ConfigurationType string `json:"configuration_type"`
	ConfigurationID   string `json:"configuration_id"`
	JobID             string `json:"job_id,omitempty"`
	RunID             string `json:"run_id"`
}

// AccountID implements Request.
func (r RunIdentity) AccountID() string { return r.Account }

func (r RunIdentity) validate(p *problems) {
	p.account(r.Account)
	p.environment(r.Environment, false)
	p.configurationType(r.ConfigurationType)
	p.configurationID(r.ConfigurationID)
	p.jobID(r.JobID)
	p.runID(r.RunID)
}

// RunRef returns the run the request names.
func (r RunIdentity) RunRef() runs.RunRef {
	kind, _ := configs.KindOf(r.ConfigurationType)
	return runs.RunRef{Account: r.Account, Environment: r.Environment, Kind: kind,
		ConfigurationID: r.ConfigurationID, JobID: r.JobID, RunID: r.RunID}
}

// ReportRunStatusRequest is the body of report_run_status on
// /v1/dag/status: an executor's report on a run it executes
// (docs/executors.md). People use set_run_status.
type ReportRunStatusRequest struct {
	Action string `json:"action"`
	RunIdentity
	// ExecutorID names this execution of the run; the first report claims
	// the run for it.
	ExecutorID string         `json:"executor_id"`
	Status     string         `json:"status"`
	Error      *runs.RunError `json:"error,omitempty"`
	Metrics    map[string]any `json:"metrics,omitempty"`
}

// Validate implements Request.
func (r ReportRunStatusRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	if r.ExecutorID == "" || len(r.ExecutorID) > 128 || strings.ContainsFunc(r.ExecutorID, unicode.IsControl) {
		p.add("executor_id", "is required: 1 to 128 characters naming this execution of the run")
	}
	switch runs.Status(r.Status) {
	case runs.StatusRunning, runs.StatusSuccess, runs.StatusFailed, runs.StatusNoMatch:
	default:
		p.add("status", "must be RUNNING (a heartbeat), SUCCESS, FAILED or NO_MATCH")
	}
	if e := r.Error; e != nil {
		if e.Message == "" || len(e.Message) > 10_000 {
			p.add("error.message", "is required with an error: 1 to 10000 characters")
		}
		if len(e.Code) > 128 || len(e.Location) > 1024 {
			p.add("error", "code is at most 128 characters, location at most 1024")
		}
		if r.Status == string(runs.StatusRunning) || r.Status == string(runs.StatusSuccess) {
			p.add("error", "goes with FAILED or NO_MATCH only")
		}
	}
	return p
}

// CancelRunRequest is the body of cancel_run on /v1/dag/status.
type CancelRunRequest struct {
	Action string `json:"action"`
	RunIdentity
	// Reason goes into the run's error message; by default, who canceled.
	Reason string `json:"reason,omitempty"`
}

// Validate implements Request.
func (r CancelRunRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	p.printable("reason", r.Reason)
	return p
}

// Limits of get_run_events: how many recorded events a page holds.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 1000
)

// GetRunEventsRequest is the body of get_run_events on /v1/dag/status: a
// page of a run's history. A run's events have no bound (a person may flip
// its status for ever), so they come in pages: the answer's
// next_page_token, sent back as page_token, gives the next.
type GetRunEventsRequest struct {
	Action string `json:"action"`
	RunIdentity
	Limit     *int   `json:"limit,omitempty"`
	PageToken string `json:"page_token,omitempty"`
}

// Validate implements Request.
func (r GetRunEventsRequest) Validate() []FieldError {
	var p problems
	r.validate(&p)
	if r.Limit != nil && (*r.Limit < 1 || *r.Limit > MaxEventsLimit) {
		p.add("limit", "must be between 1 and %d", MaxEventsLimit)
	}
	if _, ok := decodeEventCursor(r.PageToken); !ok {
		p.add("page_token", "is not one this API returned")
	}
	return p
}

// Page returns the page of events the request asks for.
func (r GetRunEventsRequest) Page() runs.EventPage {
	page := runs.EventPage{Limit: DefaultEventsLimit}
	if r.Limit != nil {
		page.Limit = *r.Limit
	}
	page.After, _ = decodeEventCursor(r.PageToken)
	return page
}

// eventIDPattern matches the ids Firestore gives new documents.
var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

// encodeEventCursor writes the page token of the events after c, the
// page's last event.
func encodeEventCursor(c runs.EventCursor) string { return encodeCursor(c.At, c.ID) }

// decodeEventCursor reads a page token; "" is the first page.
func decodeEventCursor(token string) (runs.EventCursor, bool) {
	at, id, ok := decodeCursor(token, eventIDPattern)
	return runs.EventCursor{At: at, ID: id}, ok
}

// encodeCursor writes a page token: the time and id of the page's last
// item, "<RFC 3339>/<id>" in base64.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "/" + id))
}

// decodeCursor reads a page token of encodeCursor whose id matches
// idPattern; "" is the first page (a zero time and no id).
func decodeCursor(token string, idPattern *regexp.Regexp) (time.Time, string, bool) {
	if token == "" {
		return time.Time{}, "", true
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return time.Time{}, "", false
	}
	at, id, ok := strings.Cut(string(raw), "/")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || t.IsZero() || !idPattern.MatchString(id) {
		return time.Time{}, "", false
	}
	return t.UTC(), id, true
}

// RunEventsResponse is a run's history: its launch, its publication, who
// executed it, every status change and who made it, and the executor's
// last words.
type RunEventsResponse struct {
	RunID         string         `json:"run_id"`
	Status        string         `json:"status"`
	TriggerType   string         `json:"trigger_type"`
	Attempt       int            `json:"attempt"`
	ParentRunID   string         `json:"parent_run_id,omitempty"`
	RetryRunID    string         `json:"retry_run_id,omitempty"`
	RetryAt       string         `json:"retry_at,omitempty"`
	ExecutorID    string         `json:"executor_id,omitempty"`
	Heartbeats    int            `json:"heartbeats"`
	LastHeartbeat string         `json:"last_heartbeat,omitempty"`
	Deadline      string         `json:"deadline,omitempty"`
	Error         *runs.RunError `json:"error,omitempty"`
	Metrics       map[string]any `json:"metrics,omitempty"`
	Events        []RunEvent     `json:"events"`
	// NextPageToken, when present, asks for the events after these.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// RunEvent is one entry of a run's history.
type RunEvent struct {
	Type   string `json:"type"` // launched, queued, admitted, published, claimed, status, callback_delivered, callback_failed, callback_abandoned
	At     string `json:"at"`
	By     string `json:"by"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// NewRunEventsResponse puts a run and a page of its recorded events in one
// history, oldest first, with the token of the next page when next is not
// nil. The launch and the publication are read off the run itself, which
// records them: the launch opens the first page (page.After is zero), and
// the publication goes on the page whose span of time holds it.
func NewRunEventsResponse(run runs.Run, events []runs.Event, page runs.EventPage, next *runs.EventCursor) RunEventsResponse {
	out := RunEventsResponse{
		RunID: run.RunID, Status: string(run.Status), TriggerType: run.TriggerType, Attempt: run.Attempt,
		ParentRunID: run.ParentRunID, RetryRunID: run.RetryRunID, RetryAt: formatOptional(run.RetryAt),
		ExecutorID: run.ClaimedBy, Heartbeats: run.Heartbeats, LastHeartbeat: formatOptional(run.LastHeartbeat),
		Deadline: formatOptional(run.Deadline), Error: run.Error, Metrics: run.Metrics,
	}
	type timed struct {
		at time.Time
		ev RunEvent
	}
	var all []timed
	first := page.After.At.IsZero()
	if first {
		all = append(all, timed{run.StartExecutionDate, RunEvent{Type: "launched", At: FormatTime(run.StartExecutionDate), By: run.StartedBy,
			To: string(runs.StatusRunning), Detail: run.TriggerType}})
	}
	// The run's own records of what happened to it, each on the page
	// whose span of time holds it.
	onPage := func(t time.Time) bool {
		return !t.IsZero() && (first || t.After(page.After.At)) && (next == nil || !t.After(next.At))
	}
	if q := run.QueuedAt; onPage(q) {
		all = append(all, timed{q, RunEvent{Type: "queued", At: FormatTime(q), By: "runway",
			Detail: "every slot of the configuration's max_active_runs was held: waiting for one"}})
	}
	if a := run.AdmittedAt; onPage(a) && !run.QueuedAt.IsZero() {
		all = append(all, timed{a, RunEvent{Type: "admitted", At: FormatTime(a), By: "runway",
			Detail: "a slot of the configuration's max_active_runs freed: in executors' hands from now"}})
	}
	if p := run.PublishedAt; onPage(p) {
		all = append(all, timed{p, RunEvent{Type: "published", At: FormatTime(p), By: "runway", Detail: run.MessageID}})
	}
	for _, e := range events {
		all = append(all, timed{e.At, RunEvent{Type: e.Type, At: FormatTime(e.At), By: e.By, From: string(e.From), To: string(e.To), Detail: e.Detail}})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out.Events = make([]RunEvent, 0, len(all))
	for _, t := range all {
		out.Events = append(out.Events, t.ev)
	}
	if next != nil {
		out.NextPageToken = encodeEventCursor(*next)
	}
	return out
}

func formatOptional(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}
