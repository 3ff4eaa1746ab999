package delivery

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/callbacks"
)

// Post sends req, a request to a receiver outside Runway, with client
// (callbacks.NewClient), and says how it went, for the run's events:
// shown is how the receiver's URL is shown there.
//
//	2xx                                    Delivered
//	5xx, 408, 429, no answer               Failed: tried again
//	3xx (redirects are not followed),
//	other 4xx, a private address           Abandoned
func Post(client *http.Client, req *http.Request, shown string) (Outcome, string) {
	start := time.Now()
	resp, err := client.Do(req)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, callbacks.ErrPrivateAddress):
		// Unwrapped: the *url.Error quotes the URL, query and all.
		return Abandoned, "refused: " + errors.Unwrap(err).Error()
	case err != nil:
		return Failed, fmt.Sprintf("no answer after %s: %v", took, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	answer := fmt.Sprintf("%s answered %s in %s", shown, reasonPhrase(resp), took)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return Delivered, answer
	case code >= 300 && code < 400:
		return Abandoned, answer + "; redirects are not followed"
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return Failed, answer
	default:
		return Abandoned, answer + "; a 4xx is not retried"
	}
}

// reasonPhrase is the receiver's status line, made safe to record: its
// reason phrase is the receiver's to choose, and an invalid UTF-8 or huge
// one would make Firestore refuse the attempt's event, so that attempts
// would go uncounted.
func reasonPhrase(resp *http.Response) string {
	const maxLen = 200
	status := strings.ToValidUTF8(resp.Status, "\uFFFD")
	if len(status) > maxLen {
		status = strings.ToValidUTF8(status[:maxLen], "") + "…"
	}
	return status
}
