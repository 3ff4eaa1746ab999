package configs

import (
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
)

// Monitoring is a configuration's monitoring block, as Tailer documents it
// (docs/alerts.md), with Runway's alert
// channels besides email: Slack, PagerDuty and signed webhooks.
type Monitoring struct {
	Impact       int              // ITIL impact, 1 (highest) to 5; 2 by default
	Urgency      int              // ITIL urgency, 1 (highest) to 5; 2 by default
	Enabled      bool             // alert_enabled
	Statuses     []message.Status // alert_status: FAILED by default
	Environments []string         // alert_environment
	Info         string           // alert_info: the @alert_info of the messages
	Alerts       []Alert          // alert: each message to send
}

// Alert is one message of a monitoring block, sent through one channel:
// exactly one of Email, Slack, PagerDuty and Webhook is set.
type Alert struct {
	// Name is the alert's key in its block: "email", or "1.email" for the
	// email of the second map of an alert array. It names the alert in the
	// run's events.
	Name      string
	Email     *EmailAlert
	Slack     *SlackAlert
	PagerDuty *PagerDutyAlert
	Webhook   *WebhookAlert
}

// EmailAlert is an alert.email; its subject and body are templates with
// @variables (TemplateVariables).
type EmailAlert struct {
	From     *mail.Address   // email_from; nil for the relay's sender
	ReplyTo  *mail.Address   // email_reply_to; nil for none
	To       []*mail.Address // email_to, ';'-separated
	Subject  string          // email_subject; "" for the default
	BodyType string          // email_body_type: "txt" or "html" (the default)
	Body     string          // email_body; "" for the default
}

// SlackAlert is an alert.slack: a message to a Slack incoming webhook.
type SlackAlert struct {
	WebhookURL string
}

// PagerDutyAlert is an alert.pagerduty: an event of PagerDuty's Events API
// v2, triggered on the alert statuses and resolved when a later run of the
// configuration succeeds.
type PagerDutyAlert struct {
	RoutingKey string // the integration key of an Events API v2 integration
	Severity   string // critical, error, warning or info; "" to derive it from impact and urgency
	URL        string // the Events API's enqueue URL
}

// PagerDutyEventsURL is PagerDuty's Events API v2 endpoint.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// WebhookAlert is an alert.webhook: a POST signed like completion
// callbacks (docs/callbacks.md).
type WebhookAlert struct {
	URL string
}

// AlertStatuses are the statuses alert_status may name: the final ones.
var AlertStatuses = []message.Status{message.StatusFailed, message.StatusSuccess, message.StatusNoMatch, message.StatusChecked}

// alertEnvironments are the environments Tailer documents for
// alert_environment; a configuration's own environment is accepted too.
var alertEnvironments = []string{"PROD", "PREPROD", "STAGING", "DEV"}

// TemplateVariables are the @variables of alert messages: Tailer's table,
// then Runway's @error and @duration.
var TemplateVariables = []string{
	"url_to_tailer_studio_run_id", "url_to_tailer_studio_conf_id", "account", "environment", "status",
	"configuration_id", "configuration_type", "execution_date", "short_description", "job_id", "run_id",
	"updated_by", "update_date", "impact", "urgency", "alert_info",
	"error", "duration",
}

// variableAliases are other spellings of variables: Tailer's own example
// writes @environnement.
var variableAliases = map[string]string{"environnement": "environment"}

// variablePattern finds @variables: an @ not preceded by what makes it part
// of an email address, then a name.
var variablePattern = regexp.MustCompile(`(^|[^A-Za-z0-9._%+\-])@([A-Za-z0-9_]+)`)

// ExpandTemplate replaces each @variable of template with its value in
// values, passed through escape (nil for none); an unknown variable is left
// as written (Parse refuses them at deploy).
func ExpandTemplate(template string, values map[string]string, escape func(string) string) string {
	return variablePattern.ReplaceAllStringFunc(template, func(m string) string {
		sub := variablePattern.FindStringSubmatch(m)
		name := sub[2]
		if alias, ok := variableAliases[name]; ok {
			name = alias
		}
		v, ok := values[name]
		if !ok {
			return m
		}
		if escape != nil {
			v = escape(v)
		}
		return sub[1] + v
	})
}

// unknownVariables returns the @variables of template that are not known.
func unknownVariables(template string) []string {
	var unknown []string
	for _, sub := range variablePattern.FindAllStringSubmatch(template, -1) {
		name := sub[2]
		if _, alias := variableAliases[name]; !alias && !slices.Contains(TemplateVariables, name) && !slices.Contains(unknown, "@"+name) {
			unknown = append(unknown, "@"+name)
		}
	}
	return unknown
}

// Limits of a monitoring block.
const (
	maxRecipients  = 50
	maxAlerts      = 10
	maxTextLength  = 2000  // alert_info, email_subject
	maxBodyLength  = 32000 // email_body
	maxURLLength   = 2048
	defaultImpact  = 2
	defaultUrgency = 2
)

// ParseMonitoring reads a definition's monitoring block; it returns nil
// when there is none. Each problem names its field as
// configuration.monitoring.<field>.
func ParseMonitoring(definition map[string]any) (*Monitoring, error) {
	m, problems := parseMonitoring(definition)
	return m, problems.Err()
}

func parseMonitoring(definition map[string]any) (*Monitoring, failure.Invalid) {
	raw, present := definition["monitoring"]
	if !present {
		return nil, nil
	}
	var problems failure.Invalid
	block := object{path: "configuration.monitoring", problems: &problems}
	if !block.from(raw) {
		return nil, problems
	}
	environment, _ := definition["environment"].(string)
	m := &Monitoring{
		Impact:  block.level("impact", defaultImpact),
		Urgency: block.level("urgency", defaultUrgency),
		Info:    block.text("alert_info", false, maxTextLength),
	}
	if v, ok := block.take("alert_enabled"); !ok {
		problems.Add(block.field("alert_enabled"), "is required: true to send the alerts, false not to")
	} else if m.Enabled, ok = v.(bool); !ok {
		problems.Add(block.field("alert_enabled"), "must be true or false")
	}
	m.Statuses = block.statuses()
	m.Environments = block.environments(environment)
	m.Alerts = block.alerts()
	block.rejectUnknown()
	if len(problems) > 0 {
		return nil, problems
	}
	return m, nil
}

// Due reports whether a run of environment reaching status sends the
// block's alerts.
func (m *Monitoring) Due(environment string, status message.Status) bool {
	return m.Enabled && slices.Contains(m.Statuses, status) && slices.Contains(m.Environments, environment)
}

// object reads the fields of one JSON object of the block, collecting
// problems named path.<field>.
type object struct {
	path     string
	fields   map[string]any
	taken    map[string]bool
	problems *failure.Invalid
}

// from reads raw as the object, or reports that it is not one.
func (o *object) from(raw any) bool {
	fields, ok := raw.(map[string]any)
	if !ok {
		o.problems.Add(o.path, "must be an object")
		return false
	}
	o.fields, o.taken = fields, map[string]bool{}
	return true
}

func (o *object) field(name string) string { return o.path + "." + name }

// take returns the field's value, and marks it known.
func (o *object) take(name string) (any, bool) {
	o.taken[name] = true
	v, ok := o.fields[name]
	return v, ok
}

// rejectUnknown reports the fields nothing took.
func (o *object) rejectUnknown() {
	var unknown []string
	for name := range o.fields {
		if !o.taken[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		o.problems.Add(o.field(name), "unknown field")
	}
}

// text reads a string field of at most maxLen characters.
func (o *object) text(name string, required bool, maxLen int) string {
	v, present := o.take(name)
	s, ok := v.(string)
	switch {
	case !present && required:
		o.problems.Add(o.field(name), "is required")
	case present && !ok:
		o.problems.Add(o.field(name), "must be a string")
	case required && strings.TrimSpace(s) == "":
		o.problems.Add(o.field(name), "must not be empty")
	case len(s) > maxLen:
		o.problems.Add(o.field(name), "must be at most %d characters", maxLen)
	}
	return s
}

// level reads impact or urgency: a whole number from 1 to 5.
func (o *object) level(name string, fallback int) int {
	v, present := o.take(name)
	if !present {
		return fallback
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < 1 || f > 5 {
		o.problems.Add(o.field(name), "must be a whole number from 1 (highest) to 5")
		return fallback
	}
	return int(f)
}

// list reads an array of strings; absent is nil.
func (o *object) list(name, example string) ([]string, bool) {
	v, present := o.take(name)
	if !present {
		return nil, false
	}
	items, ok := v.([]any)
	if !ok {
		o.problems.Add(o.field(name), "must be an array, such as %s", example)
		return nil, true
	}
	out := make([]string, len(items))
	for i, item := range items {
		if out[i], ok = item.(string); !ok {
			o.problems.Add(fmt.Sprintf("%s[%d]", o.field(name), i), "must be a string")
		}
	}
	return out, true
}

func (o *object) statuses() []message.Status {
	names, present := o.list("alert_status", `["FAILED", "NO_MATCH"]`)
	if !present {
		return []message.Status{message.StatusFailed}
	}
	var statuses []message.Status
	for i, name := range names {
		status := message.Status(name)
		switch {
		case !slices.Contains(AlertStatuses, status):
			o.problems.Add(fmt.Sprintf("%s[%d]", o.field("alert_status"), i), "%q is not a status an alert can be sent on: FAILED, SUCCESS, NO_MATCH or CHECKED", name)
		case !slices.Contains(statuses, status):
			statuses = append(statuses, status)
		}
	}
	return statuses
}

func (o *object) environments(own string) []string {
	names, present := o.list("alert_environment", `["PROD", "DEV"]`)
	if !present {
		o.problems.Add(o.field("alert_environment"), `is required: the environments whose runs alert, such as ["PROD"]`)
	}
	for i, name := range names {
		if !slices.Contains(alertEnvironments, name) && name != own {
			o.problems.Add(fmt.Sprintf("%s[%d]", o.field("alert_environment"), i),
				"%q is not an environment: PROD, PREPROD, STAGING, DEV, or the configuration's own (%s)", name, own)
		}
	}
	return names
}

// alerts reads alert: one object of channels, as Tailer's example writes
// it, or an array of them, as its table types it.
func (o *object) alerts() []Alert {
	v, present := o.take("alert")
	if !present {
		return nil
	}
	if list, ok := v.([]any); ok {
		if len(list) > maxAlerts {
			o.problems.Add(o.field("alert"), "must have at most %d maps", maxAlerts)
			return nil
		}
		var alerts []Alert
		for i, item := range list {
			alerts = append(alerts, o.channels(item, fmt.Sprintf("%s[%d]", o.field("alert"), i), fmt.Sprintf("%d.", i))...)
		}
		return alerts
	}
	return o.channels(v, o.field("alert"), "")
}

// channels reads one map of alert channels.
func (o *object) channels(raw any, path, namePrefix string) []Alert {
	c := object{path: path, problems: o.problems}
	if !c.from(raw) {
		return nil
	}
	var alerts []Alert
	add := func(name string, read func(e *object, a *Alert)) {
		v, present := c.take(name)
		if !present {
			return
		}
		e := object{path: c.field(name), problems: o.problems}
		if !e.from(v) {
			return
		}
		a := Alert{Name: namePrefix + name}
		read(&e, &a)
		e.rejectUnknown()
		alerts = append(alerts, a)
	}
	add("email", func(e *object, a *Alert) { a.Email = e.email() })
	add("slack", func(e *object, a *Alert) { a.Slack = &SlackAlert{WebhookURL: e.url("webhook_url", true)} })
	add("pagerduty", func(e *object, a *Alert) { a.PagerDuty = e.pagerDuty() })
	add("webhook", func(e *object, a *Alert) { a.Webhook = &WebhookAlert{URL: e.url("url", true)} })
	for name := range c.fields {
		if !c.taken[name] {
			o.problems.Add(c.field(name), "unknown alert: email, slack, pagerduty or webhook")
		}
	}
	if len(c.fields) == 0 {
		o.problems.Add(path, "must name at least one alert: email, slack, pagerduty or webhook")
	}
	return alerts
}

func (o *object) email() *EmailAlert {
	e := &EmailAlert{
		From:     o.address("email_from"),
		ReplyTo:  o.address("email_reply_to"),
		Subject:  o.template("email_subject", maxTextLength),
		BodyType: "html",
		Body:     o.template("email_body", maxBodyLength),
	}
	if t := o.text("email_body_type", false, 16); t != "" {
		if t != "txt" && t != "html" {
			o.problems.Add(o.field("email_body_type"), `must be "txt" or "html"`)
		}
		e.BodyType = t
	}
	to, bad := o.text("email_to", true, maxRecipients*256), 0
	for i, part := range strings.Split(to, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		addr, err := mail.ParseAddress(part)
		if err != nil {
			o.problems.Add(o.field("email_to"), "address %d, %q, is not an email address: write addresses separated by ';', such as toto@example.com;titi@example.com", i+1, part)
			bad++
			continue
		}
		e.To = append(e.To, addr)
	}
	switch {
	case strings.TrimSpace(to) != "" && len(e.To) == 0 && bad == 0:
		o.problems.Add(o.field("email_to"), "must name at least one address")
	case len(e.To) > maxRecipients:
		o.problems.Add(o.field("email_to"), "must name at most %d addresses", maxRecipients)
	}
	return e
}

// address reads an optional email address.
func (o *object) address(name string) *mail.Address {
	s := o.text(name, false, 320)
	if s == "" {
		return nil
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		o.problems.Add(o.field(name), "%q is not an email address", s)
	}
	return addr
}

// template reads an optional message template, whose @variables must all
// be known.
func (o *object) template(name string, maxLen int) string {
	s := o.text(name, false, maxLen)
	if unknown := unknownVariables(s); len(unknown) > 0 {
		o.problems.Add(o.field(name), "unknown variable %s; the variables are @%s", strings.Join(unknown, ", "), strings.Join(TemplateVariables, ", @"))
	}
	return s
}

// url reads an absolute http(s) URL without credentials.
func (o *object) url(name string, required bool) string {
	s := o.text(name, required, maxURLLength)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		o.problems.Add(o.field(name), "must be an absolute https URL")
	case u.User != nil:
		o.problems.Add(o.field(name), "must not carry credentials")
	}
	return s
}

var routingKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

func (o *object) pagerDuty() *PagerDutyAlert {
	p := &PagerDutyAlert{
		RoutingKey: o.text("routing_key", true, 64),
		Severity:   o.text("severity", false, 16),
		URL:        o.url("url", false),
	}
	if p.RoutingKey != "" && !routingKeyPattern.MatchString(p.RoutingKey) {
		o.problems.Add(o.field("routing_key"), "must be the 32-character integration key of an Events API v2 integration")
	}
	if p.Severity != "" && !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
		o.problems.Add(o.field("severity"), "must be critical, error, warning or info")
	}
	if p.URL == "" {
		p.URL = PagerDutyEventsURL
	}
	return p
}
