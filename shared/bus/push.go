package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/runwaydata/runway/shared/logging"
)

// Message is a Pub/Sub message as a subscriber receives it.
type Message struct {
	ID          string            `json:"messageId"`
	Data        []byte            `json:"data"` // base64 in JSON, as Pub/Sub pushes it
	Attributes  map[string]string `json:"attributes,omitempty"`
	PublishTime time.Time         `json:"publishTime"`
}

// pushEnvelope is the body of a Pub/Sub push request.
type pushEnvelope struct {
	Message      Message `json:"message"`
	Subscription string  `json:"subscription"`
	// DeliveryAttempt counts deliveries when the subscription has a
	// dead-letter policy.
	DeliveryAttempt int `json:"deliveryAttempt"`
}

// Handler handles one message. It returns nil when the message is done
// with, including when it can never be handled (log it, and it is
// acknowledged); it returns an error only when a retry may succeed.
type Handler func(ctx context.Context, m Message) error

// maxPushBytes bounds a push request: Pub/Sub messages are at most 10 MB.
const maxPushBytes = 10 << 20

// PushHandler serves a Pub/Sub push subscription: authenticate checks the
// push request's OIDC token, handle gets the message. A 2xx answer
// acknowledges the message; a 500 asks Pub/Sub to redeliver it, with the
// subscription's backoff, until its dead-letter policy gives up.
func PushHandler(authenticate func(*http.Request) error, handle Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log := logging.FromContext(ctx)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "Pub/Sub push requests only", http.StatusMethodNotAllowed)
			return
		}
		if err := authenticate(r); err != nil {
			logging.Annotate(ctx, slog.String("error", err.Error()))
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPushBytes))
		var env pushEnvelope
		if err == nil {
			err = json.Unmarshal(body, &env)
		}
		if err != nil || env.Message.ID == "" {
			// Redelivering a body that does not decode cannot help: drop it.
			log.ErrorContext(ctx, "not a Pub/Sub push request; dropped", slog.Any("error", err))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		logging.Annotate(ctx, slog.String("message_id", env.Message.ID), slog.Int("delivery_attempt", env.DeliveryAttempt))
		if err := handle(ctx, env.Message); err != nil {
			logging.Annotate(ctx, slog.String("error", err.Error()))
			http.Error(w, "retry later", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Deliver receives messages from subscription until ctx ends and hands
// each to handle as a push subscription would: acknowledged when handle
// returns nil, redelivered when it returns an error. It is the local stand
// in for a push subscription, in the dev stack and the tests.
func Deliver(ctx context.Context, client *pubsub.Client, subscription string, handle Handler) error {
	err := client.Subscriber(subscription).Receive(ctx, func(ctx context.Context, pm *pubsub.Message) {
		m := Message{ID: pm.ID, Data: pm.Data, Attributes: pm.Attributes, PublishTime: pm.PublishTime}
		if err := handle(ctx, m); err != nil {
			logging.FromContext(ctx).WarnContext(ctx, "message handling failed; it will be redelivered",
				slog.String("subscription", subscription), slog.String("message_id", pm.ID), slog.Any("error", err))
			pm.Nack()
			return
		}
		pm.Ack()
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("bus.Deliver %s: %w", subscription, err)
	}
	return nil
}
