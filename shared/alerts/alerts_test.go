package alerts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/runwaydata/runway/shared/alerts/smtptest"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/delivery"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
)

// TestSMTP sends through a local relay over TLS (smtps): what it takes,
// what it refuses for good, and what is tried again.
func TestSMTP(t *testing.T) {
	t.Parallel()
	// Borrow httptest's certificate, valid for 127.0.0.1.
	certs := httptest.NewTLSServer(http.NotFoundHandler())
	defer certs.Close()
	relay, err := smtptest.Start(smtptest.Config{User: "runway", Password: "s3cret", TLS: certs.TLS})
	if err != nil {
		t.Fatalf("cannot start the SMTP server: %v", err)
	}
	defer relay.Close()
	roots := x509.NewCertPool()
	roots.AddCert(certs.Certificate())
	sender := func(password string, trusted bool) *SMTP {
		u := relay.URL("alerts@example.com")
		u.User = nil
		if password != "" {
			u.User = url.UserPassword("runway", password)
		}
		s, err := NewSMTP(u)
		if err != nil {
			t.Fatal(err)
		}
		if trusted {
			s.TLS = &tls.Config{RootCAs: roots}
		}
		return s
	}
	msg := []byte("From: <alerts@example.com>\r\nTo: <ops@example.com>\r\nSubject: test\r\n\r\nbody\r\n")
	ops, bad := &mail.Address{Address: "ops@example.com"}, &mail.Address{Address: "not an address"}
	ctx := context.Background()

	for _, tc := range []struct {
		name     string
		s        *SMTP
		to       []*mail.Address
		want     delivery.Outcome
		detail   string
		accepted int
	}{
		{"taken", sender("s3cret", true), []*mail.Address{ops}, delivery.Delivered, "took it for 1 recipients", 1},
		{"one recipient refused", sender("s3cret", true), []*mail.Address{bad, ops}, delivery.Delivered, "it refused not an address (501", 2},
		{"every recipient refused", sender("s3cret", true), []*mail.Address{bad}, delivery.Abandoned, "every recipient was refused", 2},
		{"wrong password: tried again", sender("wrong", true), []*mail.Address{ops}, delivery.Failed, "refused the credentials", 2},
		{"untrusted certificate", sender("s3cret", false), []*mail.Address{ops}, delivery.Failed, "certificate", 2},
	} {
		outcome, detail := tc.s.Send(ctx, tc.to, msg)
		if outcome != tc.want || !strings.Contains(detail, tc.detail) || strings.Contains(detail, "s3cret") {
			t.Errorf("%s: %s %q, want %s …%s…", tc.name, outcome, detail, tc.want, tc.detail)
		}
		if n := len(relay.Messages()); n != tc.accepted {
			t.Errorf("%s: the relay has %d messages, want %d", tc.name, n, tc.accepted)
		}
	}
	if got := relay.Messages()[1]; got.From != "alerts@example.com" || strings.Join(got.To, ",") != "ops@example.com" {
		t.Errorf("envelope %s → %v", got.From, got.To)
	}
}

func TestSeverityAndDedupKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		impact, urgency int
		given, want     string
	}{
		{1, 1, "", "critical"}, {1, 2, "", "error"}, {2, 2, "", "warning"}, {3, 2, "", "info"}, {5, 5, "", "info"}, {5, 5, "critical", "critical"},
	} {
		if got := severity(&configs.PagerDutyAlert{Severity: tc.given}, &configs.Monitoring{Impact: tc.impact, Urgency: tc.urgency}); got != tc.want {
			t.Errorf("severity(%d, %d, %q) = %s, want %s", tc.impact, tc.urgency, tc.given, got, tc.want)
		}
	}
	short := &facts{ev: message.RunEvent{Account: "000099", Environment: "DEV", ConfigurationType: "table-to-table", ConfigurationID: "job_DEV"}}
	if got := dedupKey(short); got != "runway/000099/DEV/table-to-table/job_DEV" {
		t.Errorf("dedupKey = %s", got)
	}
	long := *short
	long.ev.ConfigurationID = strings.Repeat("x", 256)
	if got := dedupKey(&long); len(got) > 255 || got == dedupKey(short) {
		t.Errorf("dedupKey of a long id = %s (%d characters)", got, len(got))
	}
}

// TestSlackMessageKeepsToSlacksLimits: long texts are cut to Slack's
// limits, and what mrkdwn would read as markup is escaped.
func TestSlackMessageKeepsToSlacksLimits(t *testing.T) {
	t.Parallel()
	run := runs.Run{RunID: "20261123-114024-645a1c98-53de-419e-95c5-fc9fb4bda0ed", Key: "645a1c98-53de-419e-95c5-fc9fb4bda0ed",
		Error: &runs.RunError{Message: "<b>" + strings.Repeat("é", 5000)}}
	cfg := configs.Configuration{ConfigurationID: strings.Repeat("c", 200), ConfigurationType: "table-to-table"}
	f := newFacts(message.RunEvent{Status: runs.StatusFailed, Environment: "DEV"}, run, cfg, &configs.Monitoring{Impact: 2, Urgency: 2}, "")
	m := newSlackMessage(f)
	if n := utf8.RuneCountInString(m.Blocks[0].Text.Text); n > slackHeaderMax {
		t.Errorf("header of %d characters", n)
	}
	for _, b := range m.Blocks[1:] {
		if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > slackSectionMax {
			t.Errorf("section of %d characters", utf8.RuneCountInString(b.Text.Text))
		}
		if b.Text != nil && strings.Contains(b.Text.Text, "<b>") {
			t.Errorf("mrkdwn not escaped: %.40s", b.Text.Text)
		}
		for _, field := range b.Fields {
			if utf8.RuneCountInString(field.Text) > slackFieldMax {
				t.Errorf("field of %d characters", utf8.RuneCountInString(field.Text))
			}
		}
	}
}
