package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/logging"
)

// Sender POSTs what status changes send out over HTTP (completion
// callbacks, alerts) to the hosts the account allows (its callback
// settings), through the client that keeps off private networks.
type Sender struct {
	Settings callbacks.SettingsStore
	// Sealer opens the account's secrets, which sign the signed requests.
	Sealer callbacks.Sealer
	// Client is callbacks.NewClient(AllowPrivate).
	Client *http.Client
	// AllowPrivate allows http and private addresses: the local dev stack.
	AllowPrivate bool
}

// Signature is how a signed request is signed (docs/callbacks.md): as
// attempt Attempt to deliver what run event EventID reports, at At.
type Signature struct {
	EventID string
	Attempt int
	At      time.Time
}

// Post sends body, JSON, to rawURL, signed with the account's secrets
// unless sig is nil, and says how it went, for the run's events, where the
// URL appears as shown. The account's settings are read at each attempt:
// a host taken out of them stops the deliveries still pending to it.
func (s Sender) Post(ctx context.Context, account, rawURL, shown string, body []byte, sig *Signature) (Outcome, string) {
	outcome, detail := s.post(ctx, account, rawURL, shown, body, sig)
	// Whatever quoted the URL (an error of the HTTP client does), the
	// account's viewers see it as shown.
	return outcome, strings.ReplaceAll(detail, rawURL, shown)
}

func (s Sender) post(ctx context.Context, account, rawURL, shown string, body []byte, sig *Signature) (Outcome, string) {
	settings, err := s.Settings.CallbackSettings(ctx, account)
	if err != nil {
		return Failed, "settings unavailable"
	}
	check := settings.CheckHost
	if sig != nil {
		check = settings.CheckURL
	}
	if err := check(rawURL, s.AllowPrivate); err != nil {
		return Abandoned, err.Error()
	}
	var req *http.Request
	if sig != nil {
		if settings, err = settings.Open(ctx, s.Sealer, account); err != nil {
			logging.FromContext(ctx).ErrorContext(ctx, "cannot open the account's callback secrets", slog.Any("error", err))
			return Failed, "the signing secrets could not be opened"
		}
		req, err = callbacks.NewRequest(ctx, rawURL, settings.Secrets, sig.At, sig.EventID, sig.Attempt, body)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Runway-Alert/1")
		}
	}
	if err != nil {
		return Abandoned, "bad URL"
	}
	return send(s.Client, req, shown)
}

// send sends req and classifies the answer:
//
//	2xx                                    Delivered
//	5xx, 408, 429, no answer               Failed: tried again
//	3xx (redirects are not followed),
//	other 4xx, a private address           Abandoned
func send(client *http.Client, req *http.Request, shown string) (Outcome, string) {
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
