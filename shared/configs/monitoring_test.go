package configs

import (
	"errors"
	"html"
	"net/mail"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
)

// ReferenceMonitoring is the monitoring block of the example of
// reference/tailer-monitoring-and-alerting.md, as written there.
const ReferenceMonitoring = `{
 "impact": 2,
 "urgency": 2,
 "alert_enabled": true,
 "alert_status": ["FAILED","NO_MATCH"],
 "alert_environment": ["PROD","DEV"],
 "alert_info": "Put here information about the alert",
 "alert": {
  "email" : {
   "email_from": "alert@brand.com",
   "email_to": "toto@tailer.ia;titi@tailer.ia",
   "email_reply_to": "support@brand.com",
   "email_subject": "Data Operation Alert : @configuration_id has just failed",
   "email_body_type": "txt",
   "email_body": "Type : @configuration_type\nID : @configuration_id\nImpact : @impact\nEnvironnement : @environnement"
  }
 }
}`

func withMonitoring(t *testing.T, block string) map[string]any {
	t.Helper()
	return definition(t, `{"configuration_type": "table-to-table", "configuration_id": "000001_append_some_data",
		"account": "000099", "environment": "DEV", "monitoring": `+block+`}`)
}

func TestParseMonitoringOfTheReference(t *testing.T) {
	t.Parallel()
	got, err := ParseMonitoring(withMonitoring(t, ReferenceMonitoring))
	if err != nil {
		t.Fatal(err)
	}
	want := &Monitoring{
		Impact: 2, Urgency: 2, Enabled: true,
		Statuses:     []message.Status{message.StatusFailed, message.StatusNoMatch},
		Environments: []string{"PROD", "DEV"},
		Info:         "Put here information about the alert",
		Alerts: []Alert{{Name: "email", Email: &EmailAlert{
			From:     &mail.Address{Address: "alert@brand.com"},
			ReplyTo:  &mail.Address{Address: "support@brand.com"},
			To:       []*mail.Address{{Address: "toto@tailer.ia"}, {Address: "titi@tailer.ia"}},
			Subject:  "Data Operation Alert : @configuration_id has just failed",
			BodyType: "txt",
			Body:     "Type : @configuration_type\nID : @configuration_id\nImpact : @impact\nEnvironnement : @environnement",
		}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseMonitoring (-want +got):\n%s", diff)
	}
	if !got.Due("DEV", message.StatusNoMatch) || got.Due("DEV", message.StatusSuccess) || got.Due("STAGING", message.StatusFailed) {
		t.Error("Due does not follow alert_status and alert_environment")
	}
	if _, err := Parse(withMonitoring(t, ReferenceMonitoring)); err != nil {
		t.Errorf("Parse of the reference's configuration: %v", err)
	}
}

func TestParseMonitoringDefaultsAndChannels(t *testing.T) {
	t.Parallel()
	got, err := ParseMonitoring(withMonitoring(t, `{"alert_enabled": false, "alert_environment": ["DEV"], "alert": [
		{"email": {"email_to": "ops@example.com; "}, "slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/x"}},
		{"pagerduty": {"routing_key": "e93facc04764012d7bfb002500d5d1a6"}, "webhook": {"url": "https://hooks.example.com/alerts"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Impact != 2 || got.Urgency != 2 || got.Enabled || !cmp.Equal(got.Statuses, []message.Status{message.StatusFailed}) {
		t.Errorf("defaults: %+v", got)
	}
	var names []string
	for _, a := range got.Alerts {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "0.email,0.slack,1.pagerduty,1.webhook" {
		t.Errorf("alerts %v", names)
	}
	if e := got.Alerts[0].Email; e.BodyType != "html" || len(e.To) != 1 || e.From != nil {
		t.Errorf("email defaults: %+v", e)
	}
	if p := got.Alerts[2].PagerDuty; p.URL != PagerDutyEventsURL || p.Severity != "" {
		t.Errorf("pagerduty defaults: %+v", p)
	}
	if got.Due("DEV", message.StatusFailed) {
		t.Error("alert_enabled false is due")
	}
	if m, err := ParseMonitoring(definition(t, `{"environment": "DEV"}`)); m != nil || err != nil {
		t.Errorf("no block: %+v, %v", m, err)
	}
}

// TestParseMonitoringRejects: each bad block is refused, naming the field
// at fault.
func TestParseMonitoringRejects(t *testing.T) {
	t.Parallel()
	const ok = `"alert_enabled": true, "alert_environment": ["DEV"]`
	email := func(fields string) string {
		return `{` + ok + `, "alert": {"email": {"email_to": "ops@example.com"` + fields + `}}}`
	}
	const f = "configuration.monitoring."
	for _, tc := range []struct{ name, block, field, problem string }{
		{"not an object", `[]`, "configuration.monitoring", "must be an object"},
		{"no alert_enabled", `{"alert_environment": ["DEV"]}`, f + "alert_enabled", "is required"},
		{"alert_enabled a string", `{"alert_enabled": "yes", "alert_environment": ["DEV"]}`, f + "alert_enabled", "true or false"},
		{"no alert_environment", `{"alert_enabled": true}`, f + "alert_environment", "is required"},
		{"unknown environment", `{"alert_enabled": true, "alert_environment": ["DEV", "PRDO"]}`, f + "alert_environment[1]", `"PRDO" is not an environment`},
		{"unknown status", `{` + ok + `, "alert_status": ["FAILED", "BROKEN"]}`, f + "alert_status[1]", `"BROKEN" is not a status`},
		{"RUNNING is no alert status", `{` + ok + `, "alert_status": ["RUNNING"]}`, f + "alert_status[0]", `"RUNNING" is not a status`},
		{"alert_status a string", `{` + ok + `, "alert_status": "FAILED"}`, f + "alert_status", "must be an array"},
		{"impact out of range", `{` + ok + `, "impact": 0}`, f + "impact", "from 1 (highest) to 5"},
		{"urgency not whole", `{` + ok + `, "urgency": 1.5}`, f + "urgency", "from 1 (highest) to 5"},
		{"unknown field", `{` + ok + `, "alert_level": 3}`, f + "alert_level", "unknown field"},
		{"bad address", email(`, "email_to": "toto@tailer.ia;titi at tailer.ia"`), f + "alert.email.email_to", `address 2, "titi at tailer.ia", is not an email address`},
		{"no address", email(`, "email_to": " ; "`), f + "alert.email.email_to", "at least one address"},
		{"bad sender", email(`, "email_from": "alert"`), f + "alert.email.email_from", "not an email address"},
		{"unknown variable in the subject", email(`, "email_subject": "@configuration_id failed on @host"`), f + "alert.email.email_subject", "unknown variable @host"},
		{"unknown variable in the body", email(`, "email_body": "see @run_url"`), f + "alert.email.email_body", "unknown variable @run_url"},
		{"body type", email(`, "email_body_type": "markdown"`), f + "alert.email.email_body_type", `"txt" or "html"`},
		{"unknown email field", email(`, "email_cc": "x@example.com"`), f + "alert.email.email_cc", "unknown field"},
		{"unknown alert", `{` + ok + `, "alert": {"sms": {"to": "+33600000000"}}}`, f + "alert.sms", "unknown alert"},
		{"empty alert", `{` + ok + `, "alert": {}}`, f + "alert", "at least one alert"},
		{"slack without a URL", `{` + ok + `, "alert": {"slack": {}}}`, f + "alert.slack.webhook_url", "is required"},
		{"slack URL not absolute", `{` + ok + `, "alert": {"slack": {"webhook_url": "hooks.slack.com/x"}}}`, f + "alert.slack.webhook_url", "absolute https URL"},
		{"webhook with credentials", `{` + ok + `, "alert": [{"webhook": {"url": "https://u:p@hooks.example.com/"}}]}`, f + "alert[0].webhook.url", "credentials"},
		{"routing key", `{` + ok + `, "alert": {"pagerduty": {"routing_key": "short"}}}`, f + "alert.pagerduty.routing_key", "32-character"},
		{"severity", `{` + ok + `, "alert": {"pagerduty": {"routing_key": "e93facc04764012d7bfb002500d5d1a6", "severity": "high"}}}`, f + "alert.pagerduty.severity", "critical, error, warning or info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			def := withMonitoring(t, tc.block)
			for _, parse := range []func() error{
				func() error { _, err := ParseMonitoring(def); return err },
				func() error { _, err := Parse(def); return err },
			} {
				var invalid failure.Invalid
				if err := parse(); !errors.As(err, &invalid) {
					t.Fatalf("accepted, or not a failure.Invalid: %v", err)
				}
				found := false
				for _, p := range invalid {
					found = found || (p.Field == tc.field && strings.Contains(p.Problem, tc.problem))
				}
				if !found {
					t.Errorf("problems %v, want %s: …%s…", invalid, tc.field, tc.problem)
				}
			}
		})
	}
}

func TestExpandTemplate(t *testing.T) {
	t.Parallel()
	values := map[string]string{"configuration_id": "job_<1>", "environment": "DEV", "status": "FAILED"}
	for _, tc := range []struct {
		template, want string
		escape         func(string) string
	}{
		{"@configuration_id is @status", "job_<1> is FAILED", nil},
		{"Environnement : @environnement", "Environnement : DEV", nil},
		{"write to support@status.example.com", "write to support@status.example.com", nil},
		{"(@status)@status", "(FAILED)FAILED", nil},
		{"<b>@configuration_id</b>", "<b>job_&lt;1&gt;</b>", html.EscapeString},
		{"@unknown stays", "@unknown stays", nil},
	} {
		if got := ExpandTemplate(tc.template, values, tc.escape); got != tc.want {
			t.Errorf("ExpandTemplate(%q) = %q, want %q", tc.template, got, tc.want)
		}
	}
	if got := unknownVariables("mail ops@example.com about @job_id, @jobid and @environnement"); !cmp.Equal(got, []string{"@jobid"}) {
		t.Errorf("unknownVariables = %v", got)
	}
}
