package alertdispatcher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/pubsub/v2"

	"github.com/runwaydata/runway/functions/alertdispatcher"
	"github.com/runwaydata/runway/shared/alerts"
	"github.com/runwaydata/runway/shared/alerts/smtptest"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/logging"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	board  = "https://runway.example.com/board"
	sender = "alerts@runway.example.com"
)

// startSMTP starts an SMTP server that wants credentials, stopped when the
// test ends.
func startSMTP(t *testing.T) *smtptest.Server {
	t.Helper()
	srv, err := smtptest.Start(smtptest.Config{User: "runway", Password: "s3cret-smtp", Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("cannot start the SMTP server: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newStack starts a seeded stack whose alerts link to board.
func newStack(t *testing.T, opts ...stacktest.Option) *stacktest.Stack {
	t.Helper()
	s := stacktest.New(t, append([]stacktest.Option{stacktest.WithConfig("RUNWAY_BOARD_URL", board)}, opts...)...)
	s.Seed(t)
	return s
}

// handler returns an AlertDispatcher of the stack sending email through
// mailer (nil for none), as the dev stack's: private addresses allowed.
func handler(t *testing.T, s *stacktest.Stack, mailer *alerts.SMTP, client *http.Client, maxAttempts int) *alertdispatcher.Handler {
	t.Helper()
	sealer, err := s.Env.CallbackSealer()
	if err != nil {
		t.Fatal(err)
	}
	if client == nil {
		client = callbacks.NewClient(true)
	}
	h, err := alertdispatcher.New(alerts.Deps{Store: s.Env.Store, Mailer: mailer, Client: client, Sealer: sealer, AllowPrivate: true,
		BoardURL: board, MaxAttempts: maxAttempts})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mailer(t *testing.T, srv *smtptest.Server) *alerts.SMTP {
	t.Helper()
	m, err := alerts.NewSMTP(srv.URL(sender))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// referenceConfiguration is the example of
// reference/tailer-monitoring-and-alerting.md, in account 000099.
func referenceConfiguration(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/tailer-monitoring-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(data, &def); err != nil {
		t.Fatal(err)
	}
	return def
}

// deploy deploys def and returns the stored configuration.
func deploy(t *testing.T, s *stacktest.Stack, def map[string]any) api.ConfigurationResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": def})
	var got api.ConfigurationResponse
	s.Post(t, "/v1/configuration", string(body)).Decode(t, &got)
	return got.Configuration
}

// withBlock is the reference's configuration under another id, with
// another monitoring block.
func withBlock(t *testing.T, id, block string) map[string]any {
	t.Helper()
	def := referenceConfiguration(t)
	def["configuration_id"] = id
	delete(def, "schedule_interval")
	var m any
	if err := json.Unmarshal([]byte(block), &m); err != nil {
		t.Fatal(err)
	}
	def["monitoring"] = m
	return def
}

func launch(t *testing.T, s *stacktest.Stack, configID string) string {
	t.Helper()
	var got api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`"}`).Decode(t, &got)
	return got.RunID
}

func setStatus(t *testing.T, s *stacktest.Stack, configID, runID, status string) {
	t.Helper()
	s.Post(t, "/v1/dag/status", `{"action": "set_run_status", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+configID+`", "run_id": "`+runID+`", "status": "`+status+`"}`).Decode(t, &api.Results{})
}

func runStatus(t *testing.T, s *stacktest.Stack, configID, runID string) api.RunResult {
	t.Helper()
	var got api.Results
	s.Post(t, "/v1/dag/status", `{"action": "check_run_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "run_id": "`+runID+`"}`).Decode(t, &got)
	return got.Results[0]
}

// alertEvents returns the run's alert events, as get_run_events shows them.
func alertEvents(t *testing.T, s *stacktest.Stack, configID, runID string) []api.RunEvent {
	t.Helper()
	var h api.RunEventsResponse
	s.Post(t, "/v1/dag/status", `{"action": "get_run_events", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "run_id": "`+runID+`"}`).Decode(t, &h)
	var out []api.RunEvent
	for _, e := range h.Events {
		if strings.HasPrefix(e.Type, "alert_") {
			out = append(out, e)
		}
	}
	return out
}

func types(events []api.RunEvent) string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

// receive returns the n run events the subscription gets, as messages to
// hand to a dispatcher.
func receive(t *testing.T, sub *pubsub.Subscriber, n int) []bus.Message {
	t.Helper()
	got := stacktest.Receive(t, sub, n)
	if len(got) != n {
		t.Fatalf("%d run events, want %d", len(got), n)
	}
	msgs := make([]bus.Message, n)
	for i, m := range got {
		msgs[i] = bus.Message{ID: m.ID, Data: m.Data, Attributes: m.Attributes}
	}
	return msgs
}

// parsedMail is a message read back with net/mail and mime/multipart.
type parsedMail struct {
	header  mail.Header
	to      []string
	subject string
	parts   map[string]string // media type → decoded content
}

func readMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the mail does not parse: %v\n%s", err, data)
	}
	p := parsedMail{header: msg.Header, parts: map[string]string{}}
	addrs, err := msg.Header.AddressList("To")
	if err != nil {
		t.Fatalf("To: %v", err)
	}
	for _, a := range addrs {
		p.to = append(p.to, a.Address)
	}
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		partType, partParams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil || partParams["charset"] != "utf-8" {
			t.Fatalf("part Content-Type %q", part.Header.Get("Content-Type"))
		}
		body, err := io.ReadAll(part) // quoted-printable, decoded by the reader
		if err != nil {
			t.Fatal(err)
		}
		// Lines end in CRLF on the wire, as RFC 5322 has them.
		p.parts[partType] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	if len(p.parts) != 2 || p.parts["text/plain"] == "" || p.parts["text/html"] == "" {
		t.Fatalf("parts %v: want a text/plain and a text/html part", p.parts)
	}
	return p
}

var leftVariable = regexp.MustCompile(`(^|[^A-Za-z0-9._%+\-])@[A-Za-z_]+`)

// TestFailedRunMailsAsTheReferenceSays: a run of the reference's example
// configuration set to FAILED by a person sends exactly one mail, through
// the stack's own AlertDispatcher fed by Pub/Sub, to a real SMTP server:
// to both recipients, from and replying to the block's addresses, with
// the subject and the txt body's variables replaced, in a plain-text and
// an HTML part.
func TestFailedRunMailsAsTheReferenceSays(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	s := newStack(t, stacktest.WithConfig("RUNWAY_SMTP_URL", srv.URL(sender).String()))
	s.StartDelivery(t, "AlertDispatcher")
	cfg := deploy(t, s, referenceConfiguration(t))
	runID := launch(t, s, cfg.ConfigurationID)
	setStatus(t, s, cfg.ConfigurationID, runID, "FAILED")

	var events []api.RunEvent
	stacktest.Eventually(t, "the alert to be delivered", func() bool {
		events = alertEvents(t, s, cfg.ConfigurationID, runID)
		return types(events) == "alert_delivered"
	})
	if e := events[0]; e.To != "FAILED" || e.By != "runway" ||
		!strings.HasPrefix(e.Detail, "email: attempt 1: "+srv.Addr()+" took it for 2 recipients") {
		t.Errorf("alert event %+v", e)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	if got[0].From != sender || strings.Join(got[0].To, ";") != "toto@tailer.ia;titi@tailer.ia" {
		t.Errorf("envelope from %s to %v", got[0].From, got[0].To)
	}
	m := readMail(t, got[0].Data)
	if strings.Join(m.to, ";") != "toto@tailer.ia;titi@tailer.ia" || m.header.Get("From") != "<alert@brand.com>" ||
		m.header.Get("Reply-To") != "<support@brand.com>" {
		t.Errorf("To %v, From %q, Reply-To %q", m.to, m.header.Get("From"), m.header.Get("Reply-To"))
	}
	if want := "Data Operation Alert : 000001_append_some_data_DEV has just failed"; m.subject != want {
		t.Errorf("Subject %q, want %q", m.subject, want)
	}
	wantBody := "Type : table-to-table\nID : 000001_append_some_data_DEV\nImpact : 2\nEnvironnement : DEV"
	if m.parts["text/plain"] != wantBody {
		t.Errorf("text/plain part %q, want %q", m.parts["text/plain"], wantBody)
	}
	if !strings.Contains(m.parts["text/html"], "<pre") || !strings.Contains(m.parts["text/html"], wantBody) {
		t.Errorf("text/html part %q: want the txt body, preformatted", m.parts["text/html"])
	}
	if m.header.Get("X-Runway-Run-Id") != runID || m.header.Get("Auto-Submitted") != "auto-generated" || m.header.Get("Message-ID") == "" {
		t.Errorf("headers %v", m.header)
	}
	if st := runStatus(t, s, cfg.ConfigurationID, runID); st.Status != "FAILED" {
		t.Errorf("the run is %s after its alert", st.Status)
	}
}

// TestExecutorAndReaperFailuresAlert: a FAILED reported by the run's
// executor alerts, and so does the Reaper's FAILED of a run whose executor
// went silent past its timeout.
func TestExecutorAndReaperFailuresAlert(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	s := newStack(t, stacktest.WithConfig("RUNWAY_SMTP_URL", srv.URL(sender).String()))
	s.StartDelivery(t, "ReferenceExecutor", "AlertDispatcher")
	def := withBlock(t, "watched", `{"alert_enabled": true, "alert_environment": ["DEV"], "alert": {"email": {"email_to": "ops@example.com",
		"email_subject": "@run_id @status", "email_body_type": "txt", "email_body": "@error"}}}`)
	def["timeout"] = "1s"
	cfg := deploy(t, s, def)
	launchWith := func(parameters string) string {
		var got api.LaunchResponse
		s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
			"configuration_id": "`+cfg.ConfigurationID+`", "parameters": `+parameters+`}`).Decode(t, &got)
		return got.RunID
	}
	mailOf := func(runID string) (parsedMail, bool) {
		for _, m := range srv.Messages() {
			if p := readMail(t, m.Data); strings.HasPrefix(p.subject, runID) {
				return p, true
			}
		}
		return parsedMail{}, false
	}

	reported := launchWith(`{"outcome": "FAILED", "sleep_ms": 10}`)
	stacktest.Eventually(t, "the executor's FAILED to alert", func() bool { _, ok := mailOf(reported); return ok })
	if m, _ := mailOf(reported); m.parts["text/plain"] != "REFERENCE_FAILURE: the definition's outcome is FAILED (referenceexecutor)" {
		t.Errorf("the executor's error: %q", m.parts["text/plain"])
	}

	silent := launchWith(`{"silent": true}`)
	ctx := context.Background()
	stacktest.Eventually(t, "the Reaper's FAILED to alert", func() bool {
		if _, err := s.Env.Runs.Reap(ctx, runs.DefaultReaperConfig); err != nil {
			t.Fatal(err)
		}
		_, ok := mailOf(silent)
		return ok
	})
	if m, _ := mailOf(silent); !strings.HasPrefix(m.parts["text/plain"], "TIMEOUT: ") {
		t.Errorf("the Reaper's error: %q", m.parts["text/plain"])
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}

// TestEveryVariableIsReplaced: every variable of the Tailer table (and
// Runway's @error and @duration) is replaced in a txt body, in an html
// body (escaped), and the default body shows each value, in both parts.
func TestEveryVariableIsReplaced(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	s := newStack(t)
	h := handler(t, s, mailer(t, srv), nil, 0)

	var lines []string
	for _, v := range configs.TemplateVariables {
		lines = append(lines, v+"=@"+v)
	}
	body, _ := json.Marshal(strings.Join(lines, "\n"))
	block := func(bodyType string) string {
		return `{"alert_enabled": true, "alert_environment": ["DEV"], "alert_info": "call <Ops> & co",
			"alert": [{"email": {"email_to": "ops@example.com", "email_subject": "@status: @configuration_id (@account/@environment)",
			"email_body_type": "` + bodyType + `", "email_body": ` + string(body) + `}}, {"email": {"email_to": "ops@example.com"}}]}`
	}
	events := s.Subscribe(t, "runway-run-events")
	for _, kind := range []string{"txt", "html"} {
		cfg := deploy(t, s, withBlock(t, "every_variable_"+kind, block(kind)))
		runID := launch(t, s, cfg.ConfigurationID)
		// Canceled: FAILED with an error, CANCELED and the reason.
		s.Post(t, "/v1/dag/status", `{"action": "cancel_run", "account": "000099", "configuration_type": "table-to-table",
			"configuration_id": "`+cfg.ConfigurationID+`", "run_id": "`+runID+`", "reason": "wrong <input> file"}`).Decode(t, &api.Results{})
		msgs := receive(t, events, 1)
		before := len(srv.Messages())
		if err := h.Handle(context.Background(), msgs[0]); err != nil {
			t.Fatal(err)
		}
		got := srv.Messages()[before:]
		if len(got) != 2 {
			t.Fatalf("%d mails, want 2: one per email alert", len(got))
		}
		key, _ := runs.RunKey(runID)
		run, err := s.Env.Store.GetRun(context.Background(), "000099", key)
		if err != nil {
			t.Fatal(err)
		}
		var ev message.RunEvent
		if err := json.Unmarshal(msgs[0].Data, &ev); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			// The board's run page, and its runs view of the configuration.
			"url_to_tailer_studio_run_id":  board + "/000099/runs/table-to-table/" + cfg.ConfigurationID + "/" + runID,
			"url_to_tailer_studio_conf_id": board + "/000099/runs?configuration=DEV%2Ftable-to-table%2F" + cfg.ConfigurationID,
			"account":                      "000099",
			"environment":                  "DEV",
			"status":                       "FAILED",
			"configuration_id":             cfg.ConfigurationID,
			"configuration_type":           "table-to-table",
			"execution_date":               run.ExecutionDate,
			"short_description":            "Append some data to a partitioned table",
			"job_id":                       "gbq-to-gbq|" + cfg.ConfigurationID,
			"run_id":                       runID,
			"updated_by":                   stacktest.Admin,
			"update_date":                  cfg.UpdatedAt,
			"impact":                       "2",
			"urgency":                      "2",
			"alert_info":                   "call <Ops> & co",
			"error":                        "CANCELED: wrong <input> file",
			"duration":                     api.ResultAt(run, ev).Duration,
		}
		// The two alerts are sent at the same time: in any order.
		custom, def := readMail(t, got[0].Data), readMail(t, got[1].Data)
		if strings.HasPrefix(custom.subject, "RUNWAY") {
			custom, def = def, custom
		}
		if wantSubject := "FAILED: " + cfg.ConfigurationID + " (000099/DEV)"; custom.subject != wantSubject {
			t.Errorf("%s: subject %q, want %q", kind, custom.subject, wantSubject)
		}
		part := custom.parts["text/plain"]
		if kind == "html" {
			part = custom.parts["text/html"]
			if !strings.Contains(part, "error=CANCELED: wrong &lt;input&gt; file") {
				t.Errorf("html body: the values are not escaped:\n%s", part)
			}
			part = html.UnescapeString(part)
		}
		for name, value := range want {
			if !strings.Contains(part+"\n", name+"="+value+"\n") {
				t.Errorf("%s body: no %s=%s in\n%s", kind, name, value, part)
			}
		}
		if left := leftVariable.FindString(part); left != "" {
			t.Errorf("%s body: %q left unreplaced", kind, left)
		}

		// The default body: every value, in both parts.
		if wantSubject := "RUNWAY RUN ALERT: gbq-to-gbq|" + cfg.ConfigurationID + " FAILED at " + run.ExecutionDate; def.subject != wantSubject {
			t.Errorf("default subject %q, want %q", def.subject, wantSubject)
		}
		for name, value := range want {
			if !strings.Contains(def.parts["text/plain"], value) || !strings.Contains(html.UnescapeString(def.parts["text/html"]), value) {
				t.Errorf("the default body does not show @%s (%s):\n%s\n%s", name, value, def.parts["text/plain"], def.parts["text/html"])
			}
		}
	}
}

// TestOneAlertPerStatusChange: FAILED, CHECKED, FAILED again alerts once
// per FAILED; an event delivered three times at once, then three times
// more, alerts once; a DEV run of a block that alerts on PROD never does.
func TestOneAlertPerStatusChange(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	s := newStack(t)
	h := handler(t, s, mailer(t, srv), nil, 0)
	events := s.Subscribe(t, "runway-run-events")
	cfg := deploy(t, s, withBlock(t, "flapping", `{"alert_enabled": true, "alert_environment": ["DEV"],
		"alert": {"email": {"email_to": "ops@example.com"}}}`))
	runID := launch(t, s, cfg.ConfigurationID)
	for _, status := range []string{"FAILED", "CHECKED", "FAILED"} {
		setStatus(t, s, cfg.ConfigurationID, runID, status)
	}
	msgs := receive(t, events, 3)
	byStatus := map[string][]bus.Message{}
	for _, m := range msgs {
		byStatus[m.Attributes["status"]] = append(byStatus[m.Attributes["status"]], m)
	}
	if len(byStatus["FAILED"]) != 2 || len(byStatus["CHECKED"]) != 1 {
		t.Fatalf("run events by status: %v", byStatus)
	}

	ctx := context.Background()
	first := byStatus["FAILED"][0]
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _ = h.Handle(ctx, first) }) // the losers ask for a redelivery
	}
	wg.Wait()
	for range 3 {
		if err := h.Handle(ctx, first); err != nil {
			t.Fatalf("redelivery: %v", err)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails after six deliveries of one FAILED, want 1", n)
	}
	for _, m := range append(byStatus["CHECKED"], byStatus["FAILED"][1]) {
		if err := h.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.Messages()
	if len(got) != 2 {
		t.Fatalf("%d mails after FAILED, CHECKED, FAILED, want 2", len(got))
	}
	if a, b := readMail(t, got[0].Data).header, readMail(t, got[1].Data).header; a.Get("X-Runway-Event-Id") == b.Get("X-Runway-Event-Id") ||
		a.Get("Message-ID") == b.Get("Message-ID") {
		t.Errorf("the two mails are about the same change: %v, %v", a, b)
	}
	if got := types(alertEvents(t, s, cfg.ConfigurationID, runID)); got != "alert_delivered,alert_delivered" {
		t.Errorf("alert events %s", got)
	}

	// Alerting on PROD only: a DEV run never alerts.
	prodOnly := deploy(t, s, withBlock(t, "prod_only", `{"alert_enabled": true, "alert_environment": ["PROD"],
		"alert": {"email": {"email_to": "ops@example.com"}}}`))
	devRun := launch(t, s, prodOnly.ConfigurationID)
	setStatus(t, s, prodOnly.ConfigurationID, devRun, "FAILED")
	for _, m := range receive(t, events, 1) {
		if err := h.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("a DEV run of a block alerting on PROD sent a mail (%d in all)", n)
	}
	if got := alertEvents(t, s, prodOnly.ConfigurationID, devRun); len(got) != 0 {
		t.Errorf("alert events %+v", got)
	}
}

// TestSMTPDownIsRetriedThenAbandoned: with the relay unreachable, each
// delivery of the event makes one attempt and asks for another, until the
// last, which is recorded as abandoned and logged at ERROR; the run's
// status is left alone. A relay back before the last attempt gets the
// mail.
func TestSMTPDownIsRetriedThenAbandoned(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	relay := testenv.NewProxy(t, srv.Addr())
	u := srv.URL(sender)
	u.Host = relay.Addr()
	m, err := alerts.NewSMTP(u)
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t)
	h := handler(t, s, m, nil, 3)
	events := s.Subscribe(t, "runway-run-events")
	cfg := deploy(t, s, withBlock(t, "relay_down", `{"alert_enabled": true, "alert_environment": ["DEV"],
		"alert": {"email": {"email_to": "ops@example.com"}}}`))
	lost, saved := launch(t, s, cfg.ConfigurationID), ""
	setStatus(t, s, cfg.ConfigurationID, lost, "FAILED")
	saved = launch(t, s, cfg.ConfigurationID)
	setStatus(t, s, cfg.ConfigurationID, saved, "FAILED")
	msgs := map[string]bus.Message{}
	for _, m := range receive(t, events, 2) {
		msgs[m.Attributes["run_id"]] = m
	}
	before := runStatus(t, s, cfg.ConfigurationID, lost)

	relay.SetDown(true)
	ctx := logging.WithLogger(context.Background(), s.Env.Logger)
	var asked []bool
	for i := range 4 {
		if i == 1 {
			// The saved run's second attempt finds the relay back.
			if err := h.Handle(ctx, msgs[saved]); err == nil {
				t.Fatal("the first attempt, relay down, did not ask for a redelivery")
			}
		}
		asked = append(asked, h.Handle(ctx, msgs[lost]) != nil)
	}
	if fmt.Sprint(asked) != "[true true false false]" {
		t.Errorf("redelivery asked %v, want twice, then no more", asked)
	}
	if got := types(alertEvents(t, s, cfg.ConfigurationID, lost)); got != "alert_failed,alert_failed,alert_abandoned" {
		t.Errorf("alert events %s", got)
	}
	last := alertEvents(t, s, cfg.ConfigurationID, lost)[2]
	if !strings.Contains(last.Detail, "email: attempt 3: not sent through "+relay.Addr()) || !strings.Contains(last.Detail, "no attempts left") {
		t.Errorf("last attempt %+v", last)
	}
	if !regexp.MustCompile(`"severity":"ERROR".*"message":"alert not sent, and not tried again".*"run_id":"` + lost).MatchString(s.Logs()) {
		t.Errorf("no ERROR log of the abandoned alert:\n%s", s.Logs())
	}
	if after := runStatus(t, s, cfg.ConfigurationID, lost); !reflect.DeepEqual(after, before) || after.Status != "FAILED" {
		t.Errorf("the run changed: %+v, then %+v", before, after)
	}
	if strings.Contains(s.Logs(), "s3cret-smtp") {
		t.Error("the relay's password is in the logs")
	}

	relay.SetDown(false)
	if err := h.Handle(ctx, msgs[saved]); err != nil {
		t.Fatalf("relay back: %v", err)
	}
	if got := types(alertEvents(t, s, cfg.ConfigurationID, saved)); got != "alert_failed,alert_delivered" {
		t.Errorf("alert events of the saved run %s", got)
	}
	if got := srv.Messages(); len(got) != 1 || readMail(t, got[0].Data).header.Get("X-Runway-Run-Id") != saved {
		t.Errorf("%d mails, want the saved run's", len(got))
	}
}

// TestInvalidBlocksAreRefused: a deploy whose monitoring block has a bad
// address, an unknown variable or an unknown status is a 400 naming the
// field, and stores nothing.
func TestInvalidBlocksAreRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const field = "configuration.monitoring."
	for _, tc := range []struct{ name, block, field string }{
		{"bad address", `{"alert_enabled": true, "alert_environment": ["DEV"], "alert": {"email": {"email_to": "toto@tailer.ia;titi"}}}`,
			field + "alert.email.email_to"},
		{"unknown variable", `{"alert_enabled": true, "alert_environment": ["DEV"], "alert": {"email": {"email_to": "toto@tailer.ia",
			"email_subject": "@configuration_id failed on @hostname"}}}`, field + "alert.email.email_subject"},
		{"unknown status", `{"alert_enabled": true, "alert_environment": ["DEV"], "alert_status": ["FAILED", "ERROR"]}`,
			field + "alert_status[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "invalid_" + strings.ReplaceAll(tc.name, " ", "_")
			body, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": withBlock(t, id, tc.block)})
			e := s.Post(t, "/v1/configuration", string(body)).WantError(t, http.StatusBadRequest, tc.field)
			if e.Errors[0].Problem == "" {
				t.Errorf("no problem said: %+v", e)
			}
			s.Post(t, "/v1/configuration", `{"action": "get_configuration", "account": "000099", "environment": "DEV",
				"configuration_type": "table-to-table", "configuration_id": "`+id+`_DEV"}`).WantError(t, http.StatusNotFound)
		})
	}
}
