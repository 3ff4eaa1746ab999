package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The API's paths, as the reference names them.
const (
	pathLaunch              = "/v1/dag/launch"
	pathStatus              = "/v1/dag/status"
	pathWorkflow            = "/v1/workflow/status"
	pathConfiguration       = "/v1/configuration"
	pathConfigurationStatus = "/v1/configuration/status"
)

// errUnavailable wraps failures to reach the API at all.
var errUnavailable = errors.New("the API is unavailable")

// apiError is an error answer of the API: its JSON error body, with the
// HTTP status and, on a 429, how long to wait.
type apiError struct {
	Status        int           `json:"-"`
	RetryAfter    time.Duration `json:"-"`
	Message       string        `json:"message"`
	Errors        []fieldError  `json:"errors"`
	CurrentStatus string        `json:"current_status"`
}

type fieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// maxTooManyRequests bounds how many times a request answered 429 is sent
// again, after the Retry-After the API asks for.
const maxTooManyRequests = 5

// client posts actions to the API.
type client struct {
	base  string
	token func(context.Context) (string, error)
	http  *http.Client
	sleep func(context.Context, time.Duration) error
}

// post sends body to path and returns the answer's body when it is a 200,
// or an *apiError. A 429 is sent again after its Retry-After, a few times:
// the API refuses such requests before doing anything.
func (c *client) post(ctx context.Context, path string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		answer, err := c.postOnce(ctx, path, data)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || attempt == maxTooManyRequests {
			return answer, err
		}
		if err := c.sleep(ctx, ae.RetryAfter); err != nil {
			return nil, ae
		}
	}
}

func (c *client) postOnce(ctx context.Context, path string, data []byte) ([]byte, error) {
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return nil, usageError("API URL %q: %v", c.base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "runway-cli")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer: %v", errUnavailable, err)
	}
	if resp.StatusCode == http.StatusOK {
		return answer, nil
	}
	ae := &apiError{Status: resp.StatusCode}
	if json.Unmarshal(answer, ae) != nil || ae.Message == "" {
		// Not Runway's JSON: a proxy or load balancer answered.
		first, _, _ := strings.Cut(strings.TrimSpace(string(answer)), "\n")
		ae.Message = strings.TrimSpace(fmt.Sprintf("%s: %.200s", resp.Status, first))
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		ae.RetryAfter = time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			ae.RetryAfter = min(time.Duration(s)*time.Second, time.Minute)
		}
	}
	return nil, ae
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call posts body to path; when out is not nil, the answer is decoded
// into it. It returns the answer as the API sent it.
func (a *app) call(ctx context.Context, path string, body, out any) ([]byte, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	answer, err := c.post(ctx, path, body)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return nil, fmt.Errorf("%w: unexpected answer from %s: %v", errUnavailable, path, err)
		}
	}
	return answer, nil
}

// printJSON prints an API answer unchanged, ending its line.
func (a *app) printJSON(answer []byte) {
	a.stdout.Write(answer)
	if !bytes.HasSuffix(answer, []byte("\n")) {
		io.WriteString(a.stdout, "\n")
	}
}
