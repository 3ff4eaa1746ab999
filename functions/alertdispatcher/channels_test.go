package alertdispatcher_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/callbacks"
)

// The JSON shapes the receivers accept, written from their public
// documentation: decoded strictly (an unknown field, or a field of another
// type, is an error), then checked for what the documents require.

// slackMessage is a message to a Slack incoming webhook, with Block Kit
// blocks (api.slack.com/messaging/webhooks, /reference/block-kit/blocks).
type slackMessage struct {
	Text        string       `json:"text"` // required with blocks: the notification's text
	Blocks      []slackBlock `json:"blocks"`
	Mrkdwn      *bool        `json:"mrkdwn,omitempty"`
	UnfurlLinks *bool        `json:"unfurl_links,omitempty"`
	UnfurlMedia *bool        `json:"unfurl_media,omitempty"`
}

type slackBlock struct {
	Type      string          `json:"type"`
	BlockID   string          `json:"block_id,omitempty"`
	Text      *slackText      `json:"text,omitempty"`
	Fields    []slackText     `json:"fields,omitempty"`
	Elements  []slackText     `json:"elements,omitempty"`
	Accessory json.RawMessage `json:"accessory,omitempty"`
}

type slackText struct {
	Type     string `json:"type"` // plain_text or mrkdwn
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji,omitempty"`    // plain_text only
	Verbatim *bool  `json:"verbatim,omitempty"` // mrkdwn only
}

// checkSlack returns what is wrong with a Slack message.
func checkSlack(body []byte) []string {
	var m slackMessage
	var problems []string
	if err := strictDecode(body, &m); err != nil {
		return []string{err.Error()}
	}
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	text := func(where string, t *slackText, types []string, maxLen int) {
		switch {
		case t == nil:
			add("%s: no text object", where)
		case !slices.Contains(types, t.Type):
			add("%s: text type %q, want one of %v", where, t.Type, types)
		case t.Text == "" || utf8.RuneCountInString(t.Text) > maxLen:
			add("%s: text of %d characters, want 1 to %d", where, utf8.RuneCountInString(t.Text), maxLen)
		case t.Emoji != nil && t.Type != "plain_text", t.Verbatim != nil && t.Type != "mrkdwn":
			add("%s: emoji is for plain_text, verbatim for mrkdwn", where)
		}
	}
	both := []string{"plain_text", "mrkdwn"}
	if m.Text == "" {
		add("no top-level text: Slack needs it for notifications when there are blocks")
	}
	if len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		add("%d blocks, want 1 to 50", len(m.Blocks))
	}
	for i, b := range m.Blocks {
		where := fmt.Sprintf("blocks[%d] (%s)", i, b.Type)
		switch b.Type {
		case "header":
			text(where, b.Text, []string{"plain_text"}, 150)
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				add("%s: a section needs a text or fields", where)
			}
			if b.Text != nil {
				text(where, b.Text, both, 3000)
			}
			if len(b.Fields) > 10 {
				add("%s: %d fields, at most 10", where, len(b.Fields))
			}
			for j := range b.Fields {
				text(fmt.Sprintf("%s.fields[%d]", where, j), &b.Fields[j], both, 2000)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				add("%s: %d elements, want 1 to 10", where, len(b.Elements))
			}
			for j := range b.Elements {
				text(fmt.Sprintf("%s.elements[%d]", where, j), &b.Elements[j], both, 3000)
			}
		case "divider":
		default:
			add("%s: not a block type of messages", where)
		}
		if len(b.BlockID) > 255 {
			add("%s: block_id longer than 255", where)
		}
	}
	return problems
}

// pagerDutyEvent is an event of PagerDuty's Events API v2 (the
// PagerDuty/api-schema "PagerDuty V2 Events API" OpenAPI document:
// routing_key and event_action required; a trigger's payload requires
// summary, severity and source).
type pagerDutyEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Client      string `json:"client"`
	ClientURL   string `json:"client_url"`
	Links       []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
	Images []struct {
		Src  string `json:"src"`
		Href string `json:"href"`
		Alt  string `json:"alt"`
	} `json:"images"`
	Payload *struct {
		Summary       string         `json:"summary"`
		Timestamp     string         `json:"timestamp"`
		Severity      string         `json:"severity"`
		Source        string         `json:"source"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

// checkPagerDuty returns the event, and what is wrong with it.
func checkPagerDuty(body []byte) (pagerDutyEvent, []string) {
	var e pagerDutyEvent
	var problems []string
	if err := strictDecode(body, &e); err != nil {
		return e, []string{err.Error()}
	}
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	absolute := func(where, raw string) {
		if u, err := url.Parse(raw); err != nil || u.Host == "" {
			add("%s %q is not a URL", where, raw)
		}
	}
	if len(e.RoutingKey) != 32 {
		add("routing_key of %d characters, want 32", len(e.RoutingKey))
	}
	if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, e.EventAction) {
		add("event_action %q", e.EventAction)
	}
	if e.DedupKey == "" && e.EventAction != "trigger" || len(e.DedupKey) > 255 {
		add("dedup_key %q: required but for a trigger, at most 255 characters", e.DedupKey)
	}
	if e.ClientURL != "" {
		absolute("client_url", e.ClientURL)
	}
	for _, l := range e.Links {
		absolute("links.href", l.Href)
	}
	if e.EventAction != "trigger" {
		return e, problems
	}
	p := e.Payload
	switch {
	case p == nil:
		return e, append(problems, "a trigger without a payload")
	case p.Summary == "" || utf8.RuneCountInString(p.Summary) > 1024:
		add("payload.summary of %d characters, want 1 to 1024", utf8.RuneCountInString(p.Summary))
	case p.Source == "":
		add("payload.source is required")
	case !slices.Contains([]string{"critical", "warning", "error", "info"}, p.Severity):
		add("payload.severity %q", p.Severity)
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); p.Timestamp != "" && err != nil {
		add("payload.timestamp %q is not a date-time", p.Timestamp)
	}
	return e, problems
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("does not decode as documented: %v: %s", err, body)
	}
	return nil
}

// receivers is a local HTTPS server playing Slack, PagerDuty and a webhook
// receiver, which answers as they do: a 400 for a malformed body.
type receivers struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
}

type received struct {
	path     string
	header   http.Header
	body     []byte
	problems []string
}

func newReceivers(t *testing.T) *receivers {
	r := &receivers{}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		got := received{path: req.URL.RequestURI(), header: req.Header.Clone(), body: body}
		switch {
		case req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json":
			got.problems = []string{"not a JSON POST"}
		case strings.HasPrefix(req.URL.Path, "/services/"):
			got.problems = checkSlack(body)
		case req.URL.Path == "/v2/enqueue":
			_, got.problems = checkPagerDuty(body)
		}
		r.mu.Lock()
		r.requests = append(r.requests, got)
		r.mu.Unlock()
		switch {
		case len(got.problems) > 0:
			http.Error(w, strings.Join(got.problems, "; "), http.StatusBadRequest)
		case req.URL.Path == "/v2/enqueue":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"status": "success", "message": "Event processed", "dedup_key": "x"}`)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// take returns the requests received since the last call.
func (r *receivers) take() map[string]received {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]received{}
	for _, got := range r.requests {
		out[strings.SplitN(got.path, "/", 3)[1]] = got
	}
	r.requests = nil
	return out
}

// client is the dev stack's alert client, trusting the receivers'
// certificate.
func (r *receivers) client() *http.Client {
	client := callbacks.NewClient(true)
	roots := x509.NewCertPool()
	roots.AddCert(r.Certificate())
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots}
	return client
}

// TestSlackPagerDutyAndWebhookAlerts: a failed run posts a Slack message
// and a PagerDuty trigger in their published shapes, and a webhook signed
// as callbacks are; the configuration's next success resolves the
// PagerDuty alert, once; a host the account no longer allows is not
// called.
func TestSlackPagerDutyAndWebhookAlerts(t *testing.T) {
	t.Parallel()
	r := newReceivers(t)
	host := strings.TrimPrefix(r.URL, "https://")
	s := newStack(t)
	s.Post(t, "/v1/access", `{"action": "set_callback_settings", "account": "000099", "allowed_hosts": ["`+host+`"]}`).
		Decode(t, &api.CallbackSettingsResponse{})
	var rotated api.RotateCallbackSecretResponse
	s.Post(t, "/v1/access", `{"action": "rotate_callback_secret", "account": "000099"}`).Decode(t, &rotated)
	h := handler(t, s, nil, r.client(), 0)
	events := s.Subscribe(t, "runway-run-events")
	const routingKey = "e93facc04764012d7bfb002500d5d1a6"
	cfg := deploy(t, s, withBlock(t, "paged", `{"alert_enabled": true, "alert_environment": ["DEV"], "impact": 1, "urgency": 2,
		"alert_info": "Page the data team", "alert": {
		"slack": {"webhook_url": "`+r.URL+`/services/T000/B000/XXXXsecret"},
		"pagerduty": {"routing_key": "`+routingKey+`", "url": "`+r.URL+`/v2/enqueue"},
		"webhook": {"url": "`+r.URL+`/hooks/alerts?token=tok_c0ffee"}}}`))
	ctx := context.Background()
	handle := func(runID, status string) {
		t.Helper()
		if status == "CANCELED" {
			s.Post(t, "/v1/dag/status", `{"action": "cancel_run", "account": "000099", "configuration_type": "table-to-table",
				"configuration_id": "`+cfg.ConfigurationID+`", "run_id": "`+runID+`", "reason": "source table missing"}`).Decode(t, &api.Results{})
		} else {
			setStatus(t, s, cfg.ConfigurationID, runID, status)
		}
		for _, m := range receive(t, events, 1) {
			if err := h.Handle(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}

	failed := launch(t, s, cfg.ConfigurationID)
	handle(failed, "CANCELED")
	got := r.take()
	if len(got) != 3 {
		t.Fatalf("requests to %v, want slack, pagerduty and webhook", got)
	}
	for name, req := range got {
		if len(req.problems) > 0 {
			t.Errorf("%s: %v", name, req.problems)
		}
	}
	slack := checkSlackContent(t, got["services"].body)
	if !strings.Contains(slack, cfg.ConfigurationID+" is FAILED in DEV") || !strings.Contains(slack, "CANCELED: source table missing") ||
		!strings.Contains(slack, "<"+board+"/000099/runs/table-to-table/"+cfg.ConfigurationID+"/"+failed+"|The run>") {
		t.Errorf("Slack message %s", got["services"].body)
	}
	trigger, _ := checkPagerDuty(got["v2"].body)
	wantKey := "runway/000099/DEV/table-to-table/" + cfg.ConfigurationID
	if trigger.EventAction != "trigger" || trigger.RoutingKey != routingKey || trigger.DedupKey != wantKey ||
		trigger.Payload.Severity != "error" || trigger.Payload.CustomDetails["run"] != failed || len(trigger.Links) != 2 {
		t.Errorf("PagerDuty trigger %s", got["v2"].body)
	}
	hook := got["hooks"]
	if err := callbacks.Verify(rotated.Secret.Secret, hook.header.Get("X-Runway-Signature"), hook.header.Get("X-Runway-Event-Id"), hook.body,
		time.Now(), 5*time.Minute); err != nil || hook.path != "/hooks/alerts?token=tok_c0ffee" {
		t.Errorf("webhook to %s not signed as callbacks are: %v", hook.path, err)
	}
	var body struct {
		api.RunResult
		Alert struct {
			Impact    int    `json:"impact"`
			AlertInfo string `json:"alert_info"`
			Error     struct {
				Code string `json:"code"`
			} `json:"error"`
			RunURL string `json:"run_url"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(hook.body, &body); err != nil || body.RunID != failed || body.Status != "FAILED" || body.Alert.Impact != 1 ||
		body.Alert.AlertInfo != "Page the data team" || body.Alert.Error.Code != "CANCELED" || body.Alert.RunURL == "" {
		t.Errorf("webhook body %s", hook.body)
	}
	details := map[string]string{}
	for _, e := range alertEvents(t, s, cfg.ConfigurationID, failed) {
		details[strings.Split(e.Detail, ":")[0]] = e.Type + " " + e.Detail
	}
	for name, want := range map[string]string{
		"slack":     "alert_delivered slack: attempt 1: " + r.URL + "/… answered 200 OK",
		"pagerduty": "alert_delivered pagerduty: attempt 1: trigger: " + r.URL + "/v2/enqueue answered 202 Accepted",
		"webhook":   "alert_delivered webhook: attempt 1: " + r.URL + "/hooks/alerts?REDACTED answered 200 OK",
	} {
		if !strings.HasPrefix(details[name], want) {
			t.Errorf("%s event %q, want %q…", name, details[name], want)
		}
	}
	if all := fmt.Sprint(details); strings.Contains(all, "XXXXsecret") || strings.Contains(all, "tok_c0ffee") {
		t.Errorf("the events show the Slack webhook's path or the webhook's token: %s", all)
	}

	// The next success resolves the PagerDuty alert, and only it.
	succeeded := launch(t, s, cfg.ConfigurationID)
	handle(succeeded, "SUCCESS")
	got = r.take()
	resolve, problems := checkPagerDuty(got["v2"].body)
	if len(got) != 1 || len(problems) > 0 || resolve.EventAction != "resolve" || resolve.DedupKey != wantKey || resolve.RoutingKey != routingKey {
		t.Errorf("after the success: %v, PagerDuty got %s %v", got, got["v2"].body, problems)
	}
	if e := alertEvents(t, s, cfg.ConfigurationID, succeeded); len(e) != 1 || !strings.Contains(e[0].Detail, "resolve of the alert run "+failed+" triggered") {
		t.Errorf("alert events of the success: %+v", e)
	}
	again := launch(t, s, cfg.ConfigurationID)
	handle(again, "SUCCESS")
	if got := r.take(); len(got) != 0 {
		t.Errorf("a second success sent %v: the alert was resolved already", got)
	}

	// Taken out of the allowed hosts: no alert to it, and no retry.
	s.Post(t, "/v1/access", `{"action": "set_callback_settings", "account": "000099", "allowed_hosts": ["hooks.example.com"]}`).
		Decode(t, &api.CallbackSettingsResponse{})
	refused := launch(t, s, cfg.ConfigurationID)
	handle(refused, "FAILED")
	if got := r.take(); len(got) != 0 {
		t.Errorf("a host no longer allowed got %v", got)
	}
	for _, e := range alertEvents(t, s, cfg.ConfigurationID, refused) {
		if e.Type != "alert_abandoned" || !strings.Contains(e.Detail, "not in the account's allowed_hosts") {
			t.Errorf("alert event %+v", e)
		}
	}
}

// checkSlackContent returns the texts of a Slack message, joined.
func checkSlackContent(t *testing.T, body []byte) string {
	t.Helper()
	var m slackMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	texts := []string{m.Text}
	for _, b := range m.Blocks {
		if b.Text != nil {
			texts = append(texts, b.Text.Text)
		}
		for _, f := range append(b.Fields, b.Elements...) {
			texts = append(texts, f.Text)
		}
	}
	return strings.Join(texts, "\n")
}
