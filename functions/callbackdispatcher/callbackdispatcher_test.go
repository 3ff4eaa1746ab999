package callbackdispatcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runwaydata/runway/functions/access"
	"github.com/runwaydata/runway/functions/callbackdispatcher"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/callbacks/kmstest"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const configID = "000099_iowa_liquor_prepare_pda_DEV"

// receiver is a callback receiver that answers with the statuses given,
// then 200, and keeps what it received.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []int
	requests []received
}

type received struct {
	url    string // the path and query the receiver was called at
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, tls bool, answers ...int) *receiver {
	r := &receiver{answers: answers}
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests = append(r.requests, received{req.URL.RequestURI(), req.Header.Clone(), body})
		status := http.StatusOK
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		w.WriteHeader(status)
	})
	if tls {
		r.Server = httptest.NewTLSServer(handler)
	} else {
		r.Server = httptest.NewServer(handler)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// hostPort is the allowed host that lets callbacks reach a receiver: its
// host and port (an allowed host without a port allows port 443 only).
func hostPort(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

// setUp allows hosts for callbacks on account 000099 and returns the
// signing secret.
func setUp(t *testing.T, s *stacktest.Stack, hosts ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"action": "set_callback_settings", "account": "000099", "allowed_hosts": hosts})
	s.Post(t, "/v1/access", string(body)).Decode(t, &api.CallbackSettingsResponse{})
	var rotated api.RotateCallbackSecretResponse
	s.Post(t, "/v1/access", `{"action": "rotate_callback_secret", "account": "000099"}`).Decode(t, &rotated)
	return rotated.Secret.Secret
}

// stackSealer is the stack's sealer of callback secrets: the dev stack's
// local key.
func stackSealer(t *testing.T, s *stacktest.Stack) callbacks.Sealer {
	t.Helper()
	sealer, err := s.Env.CallbackSealer()
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

func launchWithCallback(t *testing.T, s *stacktest.Stack, url string) string {
	t.Helper()
	return launchJob(t, s, configID, `, "callback_url": "`+url+`"`)
}

func launchJob(t *testing.T, s *stacktest.Stack, configID, extra string) string {
	t.Helper()
	var got api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`"`+extra+`}`).Decode(t, &got)
	return got.RunID
}

func finish(t *testing.T, s *stacktest.Stack, runID, status string) {
	t.Helper()
	s.Post(t, "/v1/dag/status", `{"action": "set_run_status", "account": "000099", "configuration_type": "table-to-table",
		"configuration_id": "`+configID+`", "run_id": "`+runID+`", "status": "`+status+`"}`).Decode(t, &api.Results{})
}

func history(t *testing.T, s *stacktest.Stack, runID string) api.RunEventsResponse {
	t.Helper()
	return historyAs(t, s, s.Token(t, stacktest.Admin), runID)
}

func historyAs(t *testing.T, s *stacktest.Stack, token, runID string) api.RunEventsResponse {
	t.Helper()
	var h api.RunEventsResponse
	s.Do(t, http.MethodPost, "/v1/dag/status", token, `{"action": "get_run_events", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "run_id": "`+runID+`"}`).Decode(t, &h)
	return h
}

// viewer returns the token of a new viewer of account 000099.
func viewer(t *testing.T, s *stacktest.Stack) string {
	t.Helper()
	s.Post(t, "/v1/access", `{"action": "add_member", "account": "000099", "email": "viewer@example.com", "role": "viewer"}`).
		Decode(t, &api.MemberResponse{})
	return s.Token(t, "viewer@example.com")
}

// rawSettings is the account's callback settings document as Firestore
// holds it, printed.
func rawSettings(t *testing.T, s *stacktest.Stack) string {
	t.Helper()
	snap, err := s.Env.Firestore.Doc("accounts/000099/settings/callbacks").Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%q", snap.Data())
}

// wantNoSecret fails the test if doc holds secret, whole or its random part.
func wantNoSecret(t *testing.T, doc, secret string) {
	t.Helper()
	if secret == "" || strings.Contains(doc, secret) || strings.Contains(doc, strings.TrimPrefix(secret, "rwcs_")) {
		t.Errorf("the stored settings hold the secret in plain text: %s", doc)
	}
	if !strings.Contains(doc, "sealed") {
		t.Errorf("the stored settings have no sealed secret: %s", doc)
	}
}

// TestCallbackIsSignedRetriedAndRecorded: a run that finishes calls its
// callback_url back with its result, signed with the account's secret,
// which Firestore holds sealed only; the receiver's 500 makes Runway try
// again, and every attempt is in the run's events, where the account's
// viewers do not see the URL's query.
func TestCallbackIsSignedRetriedAndRecorded(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "CallbackDispatcher")
	hook := newReceiver(t, false, http.StatusInternalServerError)
	secret := setUp(t, s, hostPort(hook.URL))
	wantNoSecret(t, rawSettings(t, s), secret)
	const token = "tok_8f2e61d0c3"
	runID := launchWithCallback(t, s, hook.URL+"/runway?team=data&token="+token)

	finish(t, s, runID, "FAILED")
	stacktest.Eventually(t, "the second attempt", func() bool { return len(hook.received()) >= 2 })
	time.Sleep(2 * time.Second) // time for a wrong third attempt
	got := hook.received()
	if len(got) != 2 {
		t.Fatalf("%d callbacks, want 2 (a 500, then a 200)", len(got))
	}
	for i, r := range got {
		if err := callbacks.Verify(secret, r.header.Get("X-Runway-Signature"), r.header.Get("X-Runway-Event-Id"), r.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
		var result api.RunResult
		if err := json.Unmarshal(r.body, &result); err != nil || result.RunID != runID || result.Status != "FAILED" || result.LastUpdateDate == "" {
			t.Errorf("attempt %d body %s", i+1, r.body)
		}
		if a := r.header.Get("X-Runway-Delivery-Attempt"); a != []string{"1", "2"}[i] {
			t.Errorf("attempt %d says it is attempt %s", i+1, a)
		}
		if r.header.Get("X-Runway-Event-Id") != got[0].header.Get("X-Runway-Event-Id") || r.header.Get("X-Runway-Key-Id") == "" {
			t.Errorf("attempt %d headers %v", i+1, r.header)
		}
		if r.url != "/runway?team=data&token="+token {
			t.Errorf("attempt %d called %s: the receiver gets the URL as launched", i+1, r.url)
		}
	}
	// A wrong secret does not verify.
	if callbacks.Verify(secret+"x", got[1].header.Get("X-Runway-Signature"), got[1].header.Get("X-Runway-Event-Id"), got[1].body, time.Now(), time.Minute) == nil {
		t.Error("the signature verifies with another secret")
	}

	var trail []string
	for _, e := range historyAs(t, s, viewer(t, s), runID).Events {
		if strings.HasPrefix(e.Type, "callback") {
			trail = append(trail, e.Type)
			if e.To != "FAILED" || !strings.Contains(e.Detail, hook.URL+"/runway?REDACTED answered") || strings.Contains(e.Detail, token) {
				t.Errorf("event %+v: want the URL with its query redacted", e)
			}
		}
	}
	if strings.Join(trail, ",") != "callback_failed,callback_delivered" {
		t.Errorf("callback events %v", trail)
	}

	// Acknowledging the failure is another final status: another callback.
	finish(t, s, runID, "CHECKED")
	stacktest.Eventually(t, "the CHECKED callback", func() bool { return len(hook.received()) == 3 })
	if third := hook.received()[2]; !strings.Contains(string(third.body), `"status":"CHECKED"`) ||
		third.header.Get("X-Runway-Event-Id") == got[0].header.Get("X-Runway-Event-Id") {
		t.Errorf("CHECKED callback %s %v", third.body, third.header)
	}
}

// TestCallbackNeverSentToAPrivateAddress: with the production client, a
// callback to a host that resolves to a private address is refused when
// connecting, recorded, and not tried again.
func TestCallbackNeverSentToAPrivateAddress(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	hook := newReceiver(t, true)
	port := hook.URL[strings.LastIndex(hook.URL, ":"):]
	setUp(t, s, "localhost"+port)
	// https and an allowed name pass the launch's checks; where the name
	// leads is only known when connecting.
	const token = "tok_5d1c9a"
	runID := launchWithCallback(t, s, "https://localhost"+port+"/hook?token="+token)
	events := s.Subscribe(t, "runway-run-events")
	finish(t, s, runID, "SUCCESS")
	msgs := stacktest.Receive(t, events, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d run events", len(msgs))
	}

	h, err := callbackdispatcher.New(callbackdispatcher.Deps{Store: s.Env.Store, Client: callbacks.NewClient(false), Sealer: stackSealer(t, s)})
	if err != nil {
		t.Fatal(err)
	}
	m := bus.Message{ID: msgs[0].ID, Data: msgs[0].Data, Attributes: msgs[0].Attributes}
	for range 2 { // a redelivery changes nothing
		if err := h.Handle(context.Background(), m); err != nil {
			t.Fatalf("Handle = %v; a refused address is not retried", err)
		}
	}
	if n := len(hook.received()); n != 0 {
		t.Fatalf("the private receiver got %d callbacks", n)
	}
	var abandoned []api.RunEvent
	for _, e := range history(t, s, runID).Events {
		if strings.HasPrefix(e.Type, "callback") {
			abandoned = append(abandoned, e)
		}
	}
	if len(abandoned) != 1 || abandoned[0].Type != "callback_abandoned" || !strings.Contains(abandoned[0].Detail, "not a public internet address") ||
		strings.Contains(abandoned[0].Detail, token) {
		t.Errorf("callback events %+v: want one abandoned, without the URL's query", abandoned)
	}

	// Without dev mode, launches refuse http and private addresses outright.
	policy := callbacks.Policy{Settings: s.Env.Store}
	for _, url := range []string{"http://localhost/hook", "https://127.0.0.1/hook"} {
		if err := policy.CheckCallbackURL(context.Background(), "000099", url); err == nil {
			t.Errorf("%s was accepted", url)
		}
	}
}

// TestCallbackGivesUp: a receiver that keeps failing is tried
// MaxAttempts times, then abandoned; a 4xx is not retried.
func TestCallbackGivesUp(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	failing := newReceiver(t, false, 503, 503, 503, 503)
	refusing := newReceiver(t, false, http.StatusGone)
	setUp(t, s, hostPort(failing.URL), hostPort(refusing.URL))
	events := s.Subscribe(t, "runway-run-events")
	failingRun := launchWithCallback(t, s, failing.URL)
	refusedRun := launchWithCallback(t, s, refusing.URL)
	finish(t, s, failingRun, "SUCCESS")
	finish(t, s, refusedRun, "SUCCESS")
	msgs := stacktest.Receive(t, events, 2)
	if len(msgs) != 2 {
		t.Fatalf("%d run events", len(msgs))
	}
	h, err := callbackdispatcher.New(callbackdispatcher.Deps{Store: s.Env.Store, Client: callbacks.NewClient(true), Sealer: stackSealer(t, s),
		AllowPrivate: true, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	results := map[string][]bool{} // run id → retry asked, per delivery
	for range 4 {
		for _, msg := range msgs {
			err := h.Handle(context.Background(), bus.Message{ID: msg.ID, Data: msg.Data, Attributes: msg.Attributes})
			results[msg.Attributes["run_id"]] = append(results[msg.Attributes["run_id"]], err != nil)
		}
	}
	if got := fmt.Sprint(results[failingRun]); got != "[true true false false]" {
		t.Errorf("failing receiver: retry asked %s, want twice, then no more", got)
	}
	if n := len(failing.received()); n != 3 {
		t.Errorf("the failing receiver got %d attempts, want 3", n)
	}
	if got := results[refusedRun]; got[0] || len(refusing.received()) != 1 {
		t.Errorf("a 410 was retried: %v, %d attempts", got, len(refusing.received()))
	}
	last := history(t, s, failingRun).Events
	if e := last[len(last)-1]; e.Type != "callback_abandoned" || !strings.Contains(e.Detail, "no attempts left") {
		t.Errorf("last event %+v", e)
	}
}

// retryingStack is a stack delivering to the reference executor and the
// dispatcher, with a receiver allowed for callbacks and a configuration
// retried once at once; it returns the configuration's id.
func retryingStack(t *testing.T) (*stacktest.Stack, *receiver, string) {
	t.Helper()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "ReferenceExecutor", "CallbackDispatcher")
	hook := newReceiver(t, false)
	setUp(t, s, hostPort(hook.URL))
	var deployed api.ConfigurationResponse
	s.Post(t, "/v1/configuration", `{"action": "deploy_configuration", "configuration": {"account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_flaky", "retries": 1, "retry_delay": "0s"}}`).Decode(t, &deployed)
	return s, hook, deployed.Configuration.ConfigurationID
}

// TestRetriedRunCallsBackOnce: a failed run that is retried does not call
// back; its retry, which keeps the callback_url and the parameters, does.
func TestRetriedRunCallsBackOnce(t *testing.T) {
	t.Parallel()
	s, hook, id := retryingStack(t)
	first := launchJob(t, s, id, `, "callback_url": "`+hook.URL+`", "parameters": {"sleep_ms": 50, "fail_attempts": 1}`)

	ctx := context.Background()
	var retry runs.Run
	stacktest.Eventually(t, "the retry to succeed", func() bool {
		if _, err := s.Env.Runs.Reap(ctx, runs.ReaperConfig{PublishAfter: time.Minute, Lease: time.Minute, Batch: 100}); err != nil {
			t.Fatal(err)
		}
		key, _ := runs.RunKey(first)
		parent, err := s.Env.Store.GetRun(ctx, "000099", key)
		if err != nil || parent.RetryRunID == "" {
			return false
		}
		key, _ = runs.RunKey(parent.RetryRunID)
		retry, err = s.Env.Store.GetRun(ctx, "000099", key)
		return err == nil && retry.Status == runs.StatusSuccess
	})
	if retry.CallbackURL != hook.URL || string(retry.Parameters) != `{"sleep_ms":50,"fail_attempts":1}` {
		t.Errorf("the retry lost the launch's callback_url or parameters: %q, %s", retry.CallbackURL, retry.Parameters)
	}
	stacktest.Eventually(t, "the callback", func() bool { return len(hook.received()) > 0 })
	time.Sleep(time.Second) // time for a wrong second callback
	got := hook.received()
	if len(got) != 1 || !strings.Contains(string(got[0].body), `"run_id":"`+retry.RunID+`"`) || !strings.Contains(string(got[0].body), `"status":"SUCCESS"`) {
		t.Errorf("%d callbacks, the first %s; want one, for the retry's SUCCESS", len(got), got[0].body)
	}
}

// TestAbandonedRetryCallsBack: a failed run waits for its retry without a
// callback; when the retry is abandoned (the configuration was deactivated
// meanwhile), the run's FAILED is final and the callback goes out.
func TestAbandonedRetryCallsBack(t *testing.T) {
	t.Parallel()
	s, hook, id := retryingStack(t)
	first := launchJob(t, s, id, `, "callback_url": "`+hook.URL+`", "parameters": {"fail_attempts": 1}`)

	ctx := context.Background()
	key, _ := runs.RunKey(first)
	stacktest.Eventually(t, "the run to fail with a retry due", func() bool {
		run, err := s.Env.Store.GetRun(ctx, "000099", key)
		return err == nil && run.Status == runs.StatusFailed && !run.RetryAt.IsZero()
	})
	time.Sleep(500 * time.Millisecond) // time for a wrong callback
	if got := hook.received(); len(got) != 0 {
		t.Fatalf("%d callbacks while a retry was due, want none", len(got))
	}

	s.Post(t, "/v1/configuration/status", `{"action": "set_configuration_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+id+`", "activated": false, "archived": false}`).Decode(t, &api.OK{})
	if _, err := s.Env.Runs.Reap(ctx, runs.ReaperConfig{PublishAfter: time.Minute, Lease: time.Minute, Batch: 100}); err != nil {
		t.Fatal(err)
	}
	run, err := s.Env.Store.GetRun(ctx, "000099", key)
	if err != nil {
		t.Fatal(err)
	}
	if run.RetryRunID != "" || !run.RetryAt.IsZero() || run.Status != runs.StatusFailed {
		t.Fatalf("after the Reaper: %+v, want FAILED, no retry", run)
	}
	events, err := s.Env.Store.Events(ctx, "000099", key, runs.EventPage{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var last runs.Event
	for _, e := range events {
		if e.Type == runs.EventStatus {
			last = e
		}
	}
	if last.By != runs.Reaper || last.To != runs.StatusFailed || !strings.Contains(last.Detail, "not retried") || !strings.Contains(last.Detail, "deactivated") {
		t.Errorf("the run's last event = %+v, want the Reaper's FAILED saying it was not retried and why", last)
	}
	stacktest.Eventually(t, "the callback", func() bool { return len(hook.received()) > 0 })
	if got := hook.received(); !strings.Contains(string(got[0].body), `"run_id":"`+first+`"`) || !strings.Contains(string(got[0].body), `"status":"FAILED"`) {
		t.Errorf("callback %s, want the first run's FAILED", got[0].body)
	}
}

// TestCallbackOnlyToTheAllowedPort: an allowed host without a port allows
// the default port only (443 for https), at launch and when calling back;
// another port must be named in allowed_hosts.
func TestCallbackOnlyToTheAllowedPort(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	hook := newReceiver(t, false)
	setUp(t, s, "127.0.0.1")
	e := s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "callback_url": "`+hook.URL+`/x"}`).
		WantError(t, http.StatusBadRequest, "callback_url")
	if !strings.Contains(e.Errors[0].Problem, "port "+hook.URL[strings.LastIndex(hook.URL, ":")+1:]+" of host 127.0.0.1 is not allowed") {
		t.Errorf("refusal %q does not say the port is not allowed", e.Errors[0].Problem)
	}

	// Allowed with its port, then taken out: the pending callback is
	// abandoned, without reaching the port.
	setUp(t, s, hostPort(hook.URL))
	events := s.Subscribe(t, "runway-run-events")
	runID := launchWithCallback(t, s, hook.URL+"/x")
	setUp(t, s, "127.0.0.1")
	finish(t, s, runID, "SUCCESS")
	msgs := stacktest.Receive(t, events, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d run events", len(msgs))
	}
	h, err := callbackdispatcher.New(callbackdispatcher.Deps{Store: s.Env.Store, Client: callbacks.NewClient(true), Sealer: stackSealer(t, s), AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), bus.Message{ID: msgs[0].ID, Data: msgs[0].Data, Attributes: msgs[0].Attributes}); err != nil {
		t.Fatalf("Handle = %v; a refused port is not retried", err)
	}
	if n := len(hook.received()); n != 0 {
		t.Errorf("the receiver on a port not allowed got %d callbacks", n)
	}
	last := history(t, s, runID).Events
	if e := last[len(last)-1]; e.Type != "callback_abandoned" || !strings.Contains(e.Detail, "is not allowed: an entry of allowed_hosts without a port") {
		t.Errorf("last event %+v", e)
	}

	// The production policy: https on 443 unless the port is named.
	setUp(t, s, "hooks.example.com", "alt.example.com:8443")
	policy := callbacks.Policy{Settings: s.Env.Store}
	for url, ok := range map[string]bool{
		"https://hooks.example.com/x":      true,
		"https://hooks.example.com:443/x":  true,
		"https://hooks.example.com:8443/x": false,
		"https://alt.example.com:8443/x":   true,
		"https://alt.example.com/x":        false,
	} {
		if err := policy.CheckCallbackURL(context.Background(), "000099", url); (err == nil) != ok {
			t.Errorf("CheckCallbackURL(%s) = %v, want allowed %v", url, err, ok)
		}
	}
}

// TestPlainTextSecretsStillSignThenGetSealed: a settings document stored
// before secrets were sealed still signs callbacks; the next change of the
// settings seals its secrets, which keep signing.
func TestPlainTextSecretsStillSignThenGetSealed(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	s.StartDelivery(t, "CallbackDispatcher")
	hook := newReceiver(t, false)
	legacy, _ := callbacks.NewSecret("admin@example.com", time.Now().UTC().Truncate(time.Microsecond))
	_, err := s.Env.Firestore.Doc("accounts/000099/settings/callbacks").Set(context.Background(), map[string]any{
		"allowed_hosts": []string{hostPort(hook.URL)},
		"secrets":       []map[string]any{{"id": legacy.ID, "value": legacy.Value, "created_at": legacy.CreatedAt, "created_by": legacy.CreatedBy}},
		"updated_by":    "admin@example.com", "updated_at": time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	verified := func(r received) error {
		return callbacks.Verify(legacy.Value, r.header.Get("X-Runway-Signature"), r.header.Get("X-Runway-Event-Id"), r.body, time.Now(), 5*time.Minute)
	}
	runID := launchWithCallback(t, s, hook.URL+"/x")
	finish(t, s, runID, "FAILED")
	stacktest.Eventually(t, "the callback signed with the plain-text secret", func() bool { return len(hook.received()) == 1 })
	if err := verified(hook.received()[0]); err != nil {
		t.Errorf("signed with the plain-text secret: %v", err)
	}

	s.Post(t, "/v1/access", `{"action": "set_callback_settings", "account": "000099", "allowed_hosts": ["`+hostPort(hook.URL)+`"]}`).
		Decode(t, &api.CallbackSettingsResponse{})
	wantNoSecret(t, rawSettings(t, s), legacy.Value)
	finish(t, s, runID, "CHECKED")
	stacktest.Eventually(t, "the callback signed with the sealed secret", func() bool { return len(hook.received()) == 2 })
	if err := verified(hook.received()[1]); err != nil {
		t.Errorf("signed with the sealed secret: %v", err)
	}
}

// TestCallbacksWithCloudKMS: the Access function and the dispatcher of a
// deployment, sealing and opening through the Cloud KMS client (against a
// local KeyManagementService): the secret is stored wrapped by KMS, and
// callbacks verify with it. A dispatcher without the key cannot sign.
func TestCallbacksWithCloudKMS(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	kms := kmstest.Start(t)
	sealer := kms.Sealer(t, kmstest.Key)
	accessFn, err := access.New(access.Deps{Members: s.Env.Store, Callbacks: s.Env.Store, Sealer: sealer, Authn: s.Env.Verifier, Authz: s.Env.Authorizer})
	if err != nil {
		t.Fatal(err)
	}
	accessServer := httptest.NewServer(accessFn)
	t.Cleanup(accessServer.Close)
	post := func(body string, v any) {
		req, _ := http.NewRequest(http.MethodPost, accessServer.URL+"/v1/access", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.Token(t, stacktest.Admin))
		s.Send(t, req).Decode(t, v)
	}
	hook := newReceiver(t, false)
	post(`{"action": "set_callback_settings", "account": "000099", "allowed_hosts": ["`+hostPort(hook.URL)+`"]}`, &api.CallbackSettingsResponse{})
	var rotated api.RotateCallbackSecretResponse
	post(`{"action": "rotate_callback_secret", "account": "000099"}`, &rotated)
	raw := rawSettings(t, s)
	wantNoSecret(t, raw, rotated.Secret.Secret)
	if !strings.Contains(raw, "rwkms1:") || kms.Encrypts.Load() != 1 || kms.Decrypts.Load() != 0 {
		t.Errorf("stored %s after %d Encrypt and %d Decrypt calls: want the secret wrapped by Cloud KMS, which Access never asks to decrypt",
			raw, kms.Encrypts.Load(), kms.Decrypts.Load())
	}

	events := s.Subscribe(t, "runway-run-events")
	runID := launchWithCallback(t, s, hook.URL+"/x")
	finish(t, s, runID, "SUCCESS")
	msgs := stacktest.Receive(t, events, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d run events", len(msgs))
	}
	m := bus.Message{ID: msgs[0].ID, Data: msgs[0].Data, Attributes: msgs[0].Attributes}

	// The dev stack's local key cannot open what Cloud KMS sealed: the
	// attempt fails, to be tried again, and nothing is sent.
	local, err := callbackdispatcher.New(callbackdispatcher.Deps{Store: s.Env.Store, Client: callbacks.NewClient(true), Sealer: stackSealer(t, s), AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Handle(context.Background(), m); err == nil || len(hook.received()) != 0 {
		t.Fatalf("a dispatcher without the key: Handle = %v, %d callbacks sent", err, len(hook.received()))
	}
	h, err := callbackdispatcher.New(callbackdispatcher.Deps{Store: s.Env.Store, Client: callbacks.NewClient(true), Sealer: sealer, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := hook.received()
	if len(got) != 1 || kms.Decrypts.Load() != 1 {
		t.Fatalf("%d callbacks after %d Decrypt calls", len(got), kms.Decrypts.Load())
	}
	if err := callbacks.Verify(rotated.Secret.Secret, got[0].header.Get("X-Runway-Signature"), got[0].header.Get("X-Runway-Event-Id"), got[0].body,
		time.Now(), 5*time.Minute); err != nil {
		t.Errorf("the callback does not verify with the rotated secret: %v", err)
	}
	var trail []string
	for _, e := range history(t, s, runID).Events {
		if strings.HasPrefix(e.Type, "callback") {
			trail = append(trail, e.Type+": "+e.Detail)
		}
	}
	if len(trail) != 2 || !strings.Contains(trail[0], "callback_failed: attempt 1: the signing secrets could not be opened") ||
		!strings.HasPrefix(trail[1], "callback_delivered: attempt 2") {
		t.Errorf("callback events %q", trail)
	}
}
