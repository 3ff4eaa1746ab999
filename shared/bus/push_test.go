package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/testenv"
)

// noAuth stands in for the push token check, auth.RequireCaller (tested
// with the Reaper's endpoint): the emulator's push requests carry no token.
func noAuth(*http.Request) error { return nil }

// delivery is one push request: the message the handler got, and the
// status PushHandler answered.
type delivery struct {
	message bus.Message
	status  int
}

// statusWriter records the status a handler answers.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// TestPushSubscription serves PushHandler to a push subscription of the
// emulator, as Pub/Sub calls the functions in a deployment: the message
// arrives with its data, attributes and id; a message handled is answered
// 204 and not delivered again; a message whose handling fails is answered
// 500 and delivered again.
func TestPushSubscription(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	project := testenv.Project(t)
	client := testenv.PubSub(t, project)
	if err := bus.EnsureTopics(ctx, client, "pushed"); err != nil {
		t.Fatal(err)
	}

	// Push requests are served one at a time, each recorded with the
	// message the handler got and the status PushHandler answered.
	var (
		mu         sync.Mutex
		got        bus.Message
		deliveries []delivery
	)
	handler := bus.PushHandler(noAuth, func(_ context.Context, m bus.Message) error {
		got = m
		if string(m.Data) == "fails once" && deliveredTimes(deliveries, m.ID) == 0 {
			return errors.New("a retry can succeed")
		}
		return nil
	})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = bus.Message{}
		sw := &statusWriter{ResponseWriter: w}
		handler.ServeHTTP(sw, r)
		deliveries = append(deliveries, delivery{got, sw.status})
	}))
	t.Cleanup(server.Close)
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:       fmt.Sprintf("projects/%s/subscriptions/pushed", project),
		Topic:      fmt.Sprintf("projects/%s/topics/pushed", project),
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: server.URL},
	}); err != nil {
		t.Fatal(err)
	}

	publisher := client.Publisher("pushed")
	t.Cleanup(publisher.Stop)
	published := map[string]bus.Message{}
	for _, data := range []string{"handled", "fails once"} {
		attrs := map[string]string{"run_id": "run of " + data, "message_type": "launch"}
		id, err := publisher.Publish(ctx, &pubsub.Message{Data: []byte(data), Attributes: attrs}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		published[data] = bus.Message{ID: id, Data: []byte(data), Attributes: attrs}
	}

	retried := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return deliveredTimes(deliveries, published["fails once"].ID) >= 2
	}
	for deadline := time.Now().Add(60 * time.Second); !retried(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the message answered 500 was not delivered again within 60s: %+v", deliveries)
		}
	}
	// A message answered 204 but not acknowledged would come again with the
	// same backoff as the retry (about a second): give it a few times that.
	time.Sleep(3 * time.Second)

	mu.Lock()
	defer mu.Unlock()
	statuses := map[string][]int{}
	for _, d := range deliveries {
		want, ok := published[string(d.message.Data)]
		if !ok || d.message.PublishTime.IsZero() {
			t.Errorf("the handler got %+v, which was not published", d.message)
			continue
		}
		want.PublishTime = d.message.PublishTime
		if diff := cmp.Diff(want, d.message); diff != "" {
			t.Errorf("message as the handler got it (-published +got):\n%s", diff)
		}
		statuses[string(d.message.Data)] = append(statuses[string(d.message.Data)], d.status)
	}
	want := map[string][]int{"handled": {http.StatusNoContent}, "fails once": {http.StatusInternalServerError, http.StatusNoContent}}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("answers per message (-want +got):\n%s", diff)
	}
}

func deliveredTimes(deliveries []delivery, id string) int {
	n := 0
	for _, d := range deliveries {
		if d.message.ID == id {
			n++
		}
	}
	return n
}

// TestPushHandlerRequests posts push requests to PushHandler directly:
// a body that cannot be a Pub/Sub message is dropped with a 204, since
// delivering it again cannot help.
func TestPushHandlerRequests(t *testing.T) {
	t.Parallel()
	const valid = `{"message": {"messageId": "17", "data": "aGVsbG8=", "attributes": {"run_id": "r-1"},
		"publishTime": "2020-12-30T11:30:07.960767Z"}, "subscription": "projects/p/subscriptions/s", "deliveryAttempt": 2}`
	tests := []struct {
		name    string
		method  string
		body    string
		authErr error
		handled error // what the handler returns
		status  int
		want    *bus.Message // the message handled; nil for none
	}{
		{name: "a message", body: valid, status: http.StatusNoContent,
			want: &bus.Message{ID: "17", Data: []byte("hello"), Attributes: map[string]string{"run_id": "r-1"},
				PublishTime: time.Date(2020, 12, 30, 11, 30, 7, 960767000, time.UTC)}},
		{name: "handling fails", body: valid, handled: errors.New("try again"), status: http.StatusInternalServerError,
			want: &bus.Message{ID: "17", Data: []byte("hello"), Attributes: map[string]string{"run_id": "r-1"},
				PublishTime: time.Date(2020, 12, 30, 11, 30, 7, 960767000, time.UTC)}},
		{name: "not JSON", body: `hello`, status: http.StatusNoContent},
		{name: "not an object", body: `["message"]`, status: http.StatusNoContent},
		{name: "no message id", body: `{"message": {"data": "aGVsbG8="}}`, status: http.StatusNoContent},
		{name: "data not base64", body: `{"message": {"messageId": "17", "data": "hello!"}}`, status: http.StatusNoContent},
		{name: "over 10 MB", body: `{"message": {"messageId": "17", "data": "` + strings.Repeat("A", 10<<20) + `"}}`, status: http.StatusNoContent},
		{name: "unauthenticated", body: valid, authErr: errors.New("no token"), status: http.StatusUnauthorized},
		{name: "GET", method: http.MethodGet, status: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var handled *bus.Message
			h := bus.PushHandler(func(*http.Request) error { return tt.authErr }, func(_ context.Context, m bus.Message) error {
				handled = &m
				return tt.handled
			})
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, "/", strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Errorf("answered %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if diff := cmp.Diff(tt.want, handled); diff != "" {
				t.Errorf("message handled (-want +got):\n%s", diff)
			}
		})
	}
}
