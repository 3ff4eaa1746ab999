// Package executor is for the authors of Runway executors: it decodes
// launch messages, and claims runs and reports on them through the Runway
// API, with a Google ID token of the executor's service account. The
// contract it follows is docs/executors.md.
//
//	client, _ := executor.NewClient(ctx, "https://runway.example.com")
//	if executor.IsCancel(m.Attributes) { running.Cancel(m.Data); return nil }
//	msg, _ := executor.DecodeLaunch(m.Data)
//	run, err := client.Start(ctx, msg)
//	if errors.Is(err, executor.ErrNotYours) { return nil } // another delivery has it
//	ctx, done := running.Track(ctx, msg.RunID)
//	defer done()
//	ctx, stop := run.KeepAlive(ctx) // ctx ends if the run is canceled
//	... the work, which stops when ctx ends ...
//	stop()
//	if executor.Stopped(ctx) { return nil } // canceled: nothing to report
//	return run.Finish(ctx, message.StatusSuccess, nil, metrics)
package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2/google"
	"google.golang.org/api/idtoken"

	"github.com/runwaydata/runway/shared/executor/message"
)

// ErrNotYours is returned when Runway refuses a report because the run is
// not this execution's: another delivery of the launch message claimed it,
// or it has finished (someone may have set its status by hand). The
// executor should stop and acknowledge the message.
var ErrNotYours = errors.New("executor: the run is not this execution's to report on")

// ErrUnknownRun is returned when Runway does not know the run: the message
// is not a launch of this Runway's.
var ErrUnknownRun = errors.New("executor: Runway does not know the run")

// Client reports on runs through the Runway API.
type Client struct {
	statusURL string
	attempts  int           // tries per report when Runway is unreachable
	backoff   time.Duration // before the second try, doubled after

	mu      sync.Mutex
	http    *http.Client                 // nil until newHTTP makes it
	newHTTP func() (*http.Client, error) // makes http, again after a failure
}

// NewClient returns a Client for the Runway API at apiURL, authenticated by
// Google ID tokens for the application default credentials (the
// function's service account on Cloud Functions), with apiURL as audience.
//
// It fails at once if there are no credentials. Making the ID token client
// may need a token from Google, which can fail for a while: it is made at
// the first report, and a failure there is one the report retries.
func NewClient(ctx context.Context, apiURL string) (*Client, error) {
	if _, err := google.FindDefaultCredentials(ctx); err != nil {
		return nil, fmt.Errorf("executor: no application default credentials to report to %s with: %w", apiURL, err)
	}
	c := newClient(apiURL)
	c.newHTTP = func() (*http.Client, error) {
		hc, err := idtoken.NewClient(context.WithoutCancel(ctx), apiURL)
		if err != nil {
			return nil, fmt.Errorf("executor: ID token client for %s: %w", apiURL, err)
		}
		return hc, nil
	}
	return c, nil
}

// NewClientWithHTTP returns a Client that sends its reports with hc, which
// must authenticate them.
func NewClientWithHTTP(apiURL string, hc *http.Client) *Client {
	c := newClient(apiURL)
	c.http = hc
	return c
}

func newClient(apiURL string) *Client {
	return &Client{statusURL: strings.TrimSuffix(apiURL, "/") + "/v1/dag/status", attempts: 5, backoff: 200 * time.Millisecond}
}

// httpClient returns the client to report with, making it if need be.
func (c *Client) httpClient() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.http == nil {
		hc, err := c.newHTTP()
		if err != nil {
			return nil, &retryable{err}
		}
		c.http = hc
	}
	return c.http, nil
}

// IsCancel reports whether a message of the launch topic, by its
// attributes, is a cancel message rather than a launch.
func IsCancel(attributes map[string]string) bool {
	return attributes[message.AttrType] == message.TypeCancel
}

// DecodeLaunch reads a launch message's data.
func DecodeLaunch(data []byte) (message.Launch, error) {
	var msg message.Launch
	if err := json.Unmarshal(data, &msg); err != nil {
		return message.Launch{}, fmt.Errorf("executor: not a launch message: %w", err)
	}
	// Messages published before message_type existed have none.
	if msg.MessageType != message.TypeLaunch && msg.MessageType != "" {
		return message.Launch{}, fmt.Errorf("executor: a %q message, not a launch", msg.MessageType)
	}
	if msg.RunID == "" || msg.Account == "" || msg.ConfigurationID == "" || msg.ConfigurationType == "" {
		return message.Launch{}, fmt.Errorf("executor: launch message without a run identity: %q", data)
	}
	return msg, nil
}

// Execution is one execution of a launched run.
type Execution struct {
	client *Client
	msg    message.Launch
	id     string
}

// Start claims msg's run for a new execution by reporting it RUNNING. It
// returns ErrNotYours when another execution has the run, or when it has
// finished.
func (c *Client) Start(ctx context.Context, msg message.Launch) (*Execution, error) {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	e := &Execution{client: c, msg: msg, id: hex.EncodeToString(id)}
	if err := e.report(ctx, message.StatusRunning, nil, nil); err != nil {
		return nil, err
	}
	return e, nil
}

// ID is the execution's executor_id.
func (e *Execution) ID() string { return e.id }

// Heartbeat reports the run still RUNNING, which moves its deadline.
func (e *Execution) Heartbeat(ctx context.Context) error {
	return e.report(ctx, message.StatusRunning, nil, nil)
}

// DefaultHeartbeatInterval is how often KeepAlive reports when the launch
// message asks for no heartbeat (its configuration has no timeout): the
// heartbeats then only serve to learn that the run was canceled.
const DefaultHeartbeatInterval = 30 * time.Second

// KeepAlive reports heartbeats every launch message's heartbeat_interval
// (a third of the configuration's timeout) until stop is called. The
// context it returns ends, with cause ErrNotYours, when Runway refuses a
// heartbeat because the run is no longer this execution's: canceled, or
// finished by someone else. The work should stop then.
func (e *Execution) KeepAlive(ctx context.Context) (context.Context, func()) {
	interval, err := time.ParseDuration(e.msg.HeartbeatInterval)
	if err != nil || interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				// A missed beat is caught up by the next; the deadline has
				// room for two.
				if err := e.Heartbeat(ctx); errors.Is(err, ErrNotYours) {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled); <-done }
}

// Stopped reports whether ctx, from KeepAlive or Running.Track, ended
// because the run was canceled or taken from this execution: there is
// then no outcome to report.
func Stopped(ctx context.Context) bool {
	cause := context.Cause(ctx)
	return errors.Is(cause, ErrNotYours) || errors.Is(cause, ErrCanceled)
}

// Finish reports the run's outcome: SUCCESS, FAILED or NO_MATCH, with what
// went wrong (for FAILED and NO_MATCH) and what the work measured.
func (e *Execution) Finish(ctx context.Context, status message.Status, runErr *message.RunError, metrics map[string]any) error {
	return e.report(ctx, status, runErr, metrics)
}

// report sends a report_run_status, trying again while Runway is
// unreachable or answers 5xx: a report repeated with the same executor_id
// and status changes nothing.
func (e *Execution) report(ctx context.Context, status message.Status, runErr *message.RunError, metrics map[string]any) error {
	body, err := json.Marshal(map[string]any{
		"action": "report_run_status", "account": e.msg.Account, "environment": e.msg.Environment,
		"configuration_type": e.msg.ConfigurationType, "configuration_id": e.msg.ConfigurationID,
		"run_id": e.msg.RunID, "executor_id": e.id, "status": status, "error": runErr, "metrics": metrics,
	})
	if err != nil {
		return fmt.Errorf("executor: encode report: %w", err)
	}
	backoff := e.client.backoff
	for attempt := 1; ; attempt++ {
		err := e.client.post(ctx, body)
		var retry *retryable
		if !errors.As(err, &retry) || attempt == e.client.attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
			backoff *= 2
		}
	}
}

type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func (c *Client) post(ctx context.Context, body []byte) error {
	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.statusURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return &retryable{fmt.Errorf("executor: report: %w", err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%w: %s", ErrNotYours, answer)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrUnknownRun, answer)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return &retryable{fmt.Errorf("executor: report: %s: %s", resp.Status, answer)}
	default:
		return fmt.Errorf("executor: report refused: %s: %s", resp.Status, answer)
	}
}
