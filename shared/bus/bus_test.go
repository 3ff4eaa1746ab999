package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPublishLaunch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	project := testenv.Project(t)
	client := testenv.PubSub(t, project)
	if err := bus.EnsureTopics(ctx, client, "runway-launch", "runway-launch", "runway-run-events"); err != nil {
		t.Fatalf("EnsureTopics (twice): %v", err)
	}
	sub := fmt.Sprintf("projects/%s/subscriptions/executor", project)
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: fmt.Sprintf("projects/%s/topics/runway-launch", project),
	}); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(client, bus.Topics{Launch: "runway-launch", RunEvents: "runway-run-events"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	msg := message.Launch{RunID: "20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1", Account: "000099", Environment: "DEV",
		ConfigurationType: "table-to-table", ConfigurationID: "c_DEV", JobID: "gbq-to-gbq|c_DEV", ExecutionDate: "2020-12-30",
		Attempt: 1, Definition: map[string]any{"sleep_ms": float64(10)}}
	id, err := b.PublishLaunch(ctx, msg)
	if err != nil || id == "" {
		t.Fatalf("PublishLaunch = %q, %v", id, err)
	}

	got := receive(t, client.Subscriber(sub), 1)
	var body message.Launch
	if err := json.Unmarshal(got[0].Data, &body); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(msg, body); diff != "" {
		t.Errorf("message body (-published +received):\n%s", diff)
	}
	// Executors filter their subscriptions on these attributes (the
	// emulator ignores subscription filters, so this checks the attributes
	// themselves).
	wantAttrs := map[string]string{"account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"run_id": msg.RunID, "attempt": "1", "message_type": "launch"}
	if diff := cmp.Diff(wantAttrs, got[0].Attributes); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	if got[0].ID != id {
		t.Errorf("message id = %q, PublishLaunch said %q", got[0].ID, id)
	}

	// Cancel messages go to the same subscriptions, told apart by
	// message_type.
	if _, err := b.PublishCancel(ctx, message.Cancel{MessageType: "cancel", RunID: msg.RunID, Account: "000099", Environment: "DEV",
		ConfigurationType: "table-to-table", ConfigurationID: "c_DEV", Reason: "r", By: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	cancel := receive(t, client.Subscriber(sub), 1)
	wantAttrs = map[string]string{"account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"run_id": msg.RunID, "message_type": "cancel"}
	if diff := cmp.Diff(wantAttrs, cancel[0].Attributes); diff != "" {
		t.Errorf("cancel attributes (-want +got):\n%s", diff)
	}
}

// receive collects n messages from sub and then waits a little longer to
// make sure no more arrive.
func receive(t *testing.T, sub *pubsub.Subscriber, n int) []*pubsub.Message {
	t.Helper()
	// A minute: on a loaded machine (bench.sh beside five -race runs) the
	// emulator once took over 30 s to start delivering.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []*pubsub.Message
	msgs := make(chan *pubsub.Message)
	go sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) { m.Ack(); msgs <- m })
	for len(got) < n {
		select {
		case m := <-msgs:
			got = append(got, m)
		case <-ctx.Done():
			t.Fatalf("received %d messages, want %d", len(got), n)
		}
	}
	select {
	case m := <-msgs:
		t.Fatalf("an extra message arrived: %s %v", m.Data, m.Attributes)
	case <-time.After(500 * time.Millisecond):
	}
	return got
}
