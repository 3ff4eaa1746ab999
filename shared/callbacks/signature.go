package callbacks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a callback request.
const (
	HeaderSignature = "X-Runway-Signature" // t=<unix seconds>,v1=<hex>[,v1=<hex>]
	HeaderKeyID     = "X-Runway-Key-Id"    // the id of the current secret
	HeaderEventID   = "X-Runway-Event-Id"  // the same for every attempt: receivers deduplicate on it
	HeaderAttempt   = "X-Runway-Delivery-Attempt"
)

// Sign returns the X-Runway-Signature of body, the callback of event
// eventID, sent at t: one v1 signature per secret, each the hex
// HMAC-SHA256, keyed by the secret, of "<t>.<event id>.<body>", where t is
// in Unix seconds. The event id is signed so that a captured callback
// cannot be replayed under another X-Runway-Event-Id, past the receiver's
// deduplication.
func Sign(secrets []Secret, t time.Time, eventID string, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	parts := []string{"t=" + ts}
	for _, s := range secrets {
		parts = append(parts, "v1="+signature(s.Value, ts, eventID, body))
	}
	return strings.Join(parts, ",")
}

func signature(secret, ts, eventID string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + eventID + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by Verify for a callback it cannot trust.
var ErrBadSignature = errors.New("callbacks: bad signature")

// Verify checks, as a receiver does, that header signs body, the callback
// of event eventID (its X-Runway-Event-Id), with secret, and that it was
// made less than tolerance before now (which stops replays of old
// callbacks).
func Verify(secret, header, eventID string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no timestamp", ErrBadSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s ago, more than the %s tolerated", ErrBadSignature, age.Round(time.Second), tolerance)
	}
	want := signature(secret, ts, eventID, body)
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches the secret", ErrBadSignature)
}

// NewRequest returns the signed POST of body to url, attempt n to deliver
// what run event eventID reports, as receivers verify it (docs/callbacks.md):
// signed at now with secrets, opened (Settings.Open), the first being the
// current one. Completion callbacks and webhook alerts are sent so.
func NewRequest(ctx context.Context, url string, secrets []Secret, now time.Time, eventID string, n int, body []byte) (*http.Request, error) {
	if len(secrets) == 0 {
		return nil, errors.New("callbacks: no secret to sign with")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Runway-Callback/1")
	req.Header.Set(HeaderSignature, Sign(secrets, now, eventID, body))
	req.Header.Set(HeaderKeyID, secrets[0].ID)
	req.Header.Set(HeaderEventID, eventID)
	req.Header.Set(HeaderAttempt, strconv.Itoa(n))
	return req, nil
}
