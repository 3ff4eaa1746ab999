package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/delivery"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
)

// post sends an unsigned alert, JSON, to rawURL.
func (d *Dispatcher) post(ctx context.Context, f *facts, rawURL, shown string, body any) (delivery.Outcome, string) {
	data, err := json.Marshal(body)
	if err != nil {
		return delivery.Abandoned, "cannot encode the alert"
	}
	return d.sender.Post(ctx, f.ev.Account, rawURL, shown, data, nil)
}

// hidePath is a URL whose path is a secret (a Slack webhook's), as the
// run's events show it.
func hidePath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Slack: a Block Kit message to an incoming webhook.

type slackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"` // header, section, context
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"` // the notification's text
	Blocks []slackBlock `json:"blocks"`
}

func (d *Dispatcher) slack(ctx context.Context, s *configs.SlackAlert, f *facts) (delivery.Outcome, string) {
	return d.post(ctx, f, s.WebhookURL, hidePath(s.WebhookURL), newSlackMessage(f))
}

// Slack's limits on the text of a header, a section, a field.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
)

// newSlackMessage is the alert as a Slack message: a header, the facts as
// fields, the error, the alert's info and the links.
func newSlackMessage(f *facts) slackMessage {
	rows, links := f.rows()
	msg := slackMessage{
		Text:   truncate(f.title(), slackSectionMax),
		Blocks: []slackBlock{{Type: "header", Text: &slackText{"plain_text", truncate(f.title(), slackHeaderMax)}}},
	}
	var fields []slackText
	var long []string
	for _, r := range rows {
		switch r.Label {
		case "Error", "Description", "Alert info", "Deployed by":
			long = append(long, "*"+r.Label+"*\n"+slackEscape(r.Value))
		default:
			if len(fields) < slackFieldsMax {
				fields = append(fields, slackText{"mrkdwn", truncate("*"+r.Label+"*\n"+slackEscape(r.Value), slackFieldMax)})
			}
		}
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Fields: fields})
	for _, text := range long {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: &slackText{"mrkdwn", truncate(text, slackSectionMax)}})
	}
	if len(links) > 0 {
		var elements []slackText
		for _, l := range links {
			elements = append(elements, slackText{"mrkdwn", "<" + l.Value + "|" + slackEscape(l.Label) + ">"})
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: elements})
	}
	return msg
}

// slackEscape escapes the characters Slack's mrkdwn gives a meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// PagerDuty: Events API v2, an alert per configuration (its dedup_key),
// triggered on the alert statuses and resolved by the next success.

type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger or resolve
	DedupKey    string            `json:"dedup_key"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []pagerDutyLink   `json:"links,omitempty"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"` // trigger only
}

type pagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

type pagerDutyPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp"`
	Component     string            `json:"component"`
	Group         string            `json:"group"`
	Class         string            `json:"class"`
	CustomDetails map[string]string `json:"custom_details"`
}

// pagerDutySummaryMax is PagerDuty's limit on a summary.
const pagerDutySummaryMax = 1024

// dedupKey is the configuration's alert in PagerDuty: at most 255
// characters.
func dedupKey(f *facts) string {
	key := strings.Join([]string{"runway", f.ev.Account, f.ev.Environment, f.ev.ConfigurationType, f.ev.ConfigurationID}, "/")
	if len(key) > 255 {
		sum := sha256.Sum256([]byte(key))
		key = "runway/" + hex.EncodeToString(sum[:])
	}
	return key
}

// severity is the alert's PagerDuty severity: as the alert says, or from
// the ITIL priority of impact and urgency (1 and 1 make priority 1).
func severity(p *configs.PagerDutyAlert, m *configs.Monitoring) string {
	if p.Severity != "" {
		return p.Severity
	}
	switch m.Impact + m.Urgency - 1 {
	case 1:
		return "critical"
	case 2:
		return "error"
	case 3:
		return "warning"
	}
	return "info"
}

// incidentID names the incident an alert opens for a configuration.
func incidentID(ev message.RunEvent, alert string) string {
	return strings.Join([]string{ev.Environment, ev.ConfigurationType, ev.ConfigurationID, alert}, "~")
}

// trigger sends a PagerDuty trigger, and notes the incident, for the next
// success to resolve.
func (d *Dispatcher) trigger(ctx context.Context, a configs.Alert, f *facts) (delivery.Outcome, string) {
	// Noted before it is sent: a resolve of an alert PagerDuty never got
	// changes nothing, a trigger never resolved would page forever.
	inc := Incident{RunID: f.run.RunID, EventID: f.ev.EventID, At: f.ev.At}
	if err := d.store.OpenIncident(ctx, f.ev.Account, incidentID(f.ev, a.Name), inc); err != nil {
		return delivery.Failed, "cannot note the incident"
	}
	p := a.PagerDuty
	rows, links := f.rows()
	details := map[string]string{}
	for _, r := range rows {
		details[strings.ToLower(strings.ReplaceAll(r.Label, " ", "_"))] = r.Value
	}
	ev := pagerDutyEvent{
		RoutingKey: p.RoutingKey, EventAction: "trigger", DedupKey: dedupKey(f), Client: "Runway", ClientURL: f.runURL,
		Payload: &pagerDutyPayload{
			Summary:       truncate(f.title()+errorSuffix(f), pagerDutySummaryMax),
			Source:        f.ev.Account + "/" + f.ev.Environment + "/" + f.ev.ConfigurationID,
			Severity:      severity(p, f.m),
			Timestamp:     f.ev.At.UTC().Format(time.RFC3339Nano),
			Component:     f.ev.ConfigurationID,
			Group:         f.ev.Environment,
			Class:         string(f.ev.Status),
			CustomDetails: details,
		},
	}
	for _, l := range links {
		ev.Links = append(ev.Links, pagerDutyLink{Href: l.Value, Text: l.Label})
	}
	outcome, detail := d.post(ctx, f, p.URL, p.URL, ev)
	return outcome, "trigger: " + detail
}

// errorSuffix is the run's error, after a colon; "" for none.
func errorSuffix(f *facts) string {
	if e := f.values["error"]; e != "" {
		return ": " + e
	}
	return ""
}

// resolve returns how to resolve the incident alert a opened for the
// configuration, if it has one open since before ev; nil otherwise.
func (d *Dispatcher) resolve(ctx context.Context, ev message.RunEvent, a configs.Alert) (send, error) {
	id := incidentID(ev, a.Name)
	inc, open, err := d.store.Incident(ctx, ev.Account, id)
	if err != nil || !open || !inc.At.Before(ev.At) {
		return nil, err
	}
	return func(ctx context.Context, f *facts, _ int) (delivery.Outcome, string) {
		resolve := pagerDutyEvent{RoutingKey: a.PagerDuty.RoutingKey, EventAction: "resolve", DedupKey: dedupKey(f)}
		outcome, detail := d.post(ctx, f, a.PagerDuty.URL, a.PagerDuty.URL, resolve)
		if outcome == delivery.Delivered {
			if err := d.store.CloseIncident(ctx, ev.Account, id); err != nil {
				// Still noted open: the next success resolves it again,
				// which PagerDuty ignores.
				logging.FromContext(ctx).WarnContext(ctx, "incident resolved but still noted open", slog.Any("error", err))
			}
		}
		return outcome, "resolve of the alert run " + inc.RunID + " triggered: " + detail
	}, nil
}

// Webhooks: the run's result as a completion callback sends it, with the
// alert's facts, signed as callbacks are.

type webhookBody struct {
	api.RunResult
	Alert webhookAlert `json:"alert"`
}

type webhookAlert struct {
	Impact           int            `json:"impact"`
	Urgency          int            `json:"urgency"`
	AlertInfo        string         `json:"alert_info,omitempty"`
	Error            *runs.RunError `json:"error,omitempty"`
	RunURL           string         `json:"run_url,omitempty"`
	ConfigurationURL string         `json:"configuration_url,omitempty"`
}

func (d *Dispatcher) webhook(ctx context.Context, w *configs.WebhookAlert, f *facts, n int) (delivery.Outcome, string) {
	body, err := json.Marshal(webhookBody{RunResult: f.result, Alert: webhookAlert{Impact: f.m.Impact, Urgency: f.m.Urgency,
		AlertInfo: f.m.Info, Error: f.run.Error, RunURL: f.runURL, ConfigurationURL: f.configURL}})
	if err != nil {
		return delivery.Abandoned, "cannot encode the alert"
	}
	return d.sender.Post(ctx, f.ev.Account, w.URL, callbacks.RedactURL(w.URL), body,
		&delivery.Signature{EventID: f.ev.EventID, Attempt: n, At: d.now()})
}

// Incident is an alert PagerDuty holds open for a configuration:
// triggered, and not resolved yet.
type Incident struct {
	RunID   string    // the run whose status change triggered it
	EventID string    // that change
	At      time.Time // when it was made
}

// IncidentStore notes the open incidents; shared/store implements it.
type IncidentStore interface {
	// OpenIncident notes inc as incident id of the account, unless one is
	// noted already.
	OpenIncident(ctx context.Context, account, id string, inc Incident) error
	// Incident returns the incident noted as id; open is false for none.
	Incident(ctx context.Context, account, id string) (inc Incident, open bool, err error)
	// CloseIncident forgets incident id.
	CloseIncident(ctx context.Context, account, id string) error
}
