// Package bus is Runway's Pub/Sub adapter: it publishes launch messages for
// executors, with attributes they can filter subscriptions on.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/runs"
)

// Attribute names set on every launch message. Executors filter their
// subscriptions on them, e.g. attributes.configuration_type = "table-to-table".
const (
	AttrAccount           = "account"
	AttrEnvironment       = "environment"
	AttrConfigurationType = "configuration_type"
	AttrRunID             = "run_id"
	AttrAttempt           = "attempt"
)

// Bus publishes Runway's messages.
type Bus struct {
	launch *pubsub.Publisher
}

// New returns a Bus that publishes launches to launchTopic. A publish that
// cannot be delivered within timeout fails, leaving the run for the Reaper.
func New(client *pubsub.Client, launchTopic string, timeout time.Duration) (*Bus, error) {
	if client == nil {
		return nil, errors.New("bus: missing Pub/Sub client")
	}
	if launchTopic == "" {
		return nil, errors.New("bus: missing launch topic")
	}
	launch := client.Publisher(launchTopic)
	// A launch waits for its publish, so send each message at once rather
	// than waiting to fill a batch; concurrent launches still share the
	// publisher's connections.
	launch.PublishSettings.CountThreshold = 1
	launch.PublishSettings.Timeout = timeout
	return &Bus{launch: launch}, nil
}

// PublishLaunch implements runs.Publisher.
func (b *Bus) PublishLaunch(ctx context.Context, msg runs.LaunchMessage) (string, error) {
	data, err := json.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("bus.PublishLaunch: encode: %w", err)
	}
	id, err := b.launch.Publish(ctx, &pubsub.Message{
		Data: data,
		Attributes: map[string]string{
			AttrAccount:           msg.Account,
			AttrEnvironment:       msg.Environment,
			AttrConfigurationType: msg.ConfigurationType,
			AttrRunID:             msg.RunID,
			AttrAttempt:           strconv.Itoa(msg.Attempt),
		},
	}).Get(ctx)
	if err != nil {
		return "", runs.Unavailable("the launch topic", fmt.Errorf("bus.PublishLaunch %s: %w", msg.RunID, err))
	}
	return id, nil
}

// Close flushes pending messages and stops the publishers.
func (b *Bus) Close() {
	b.launch.Stop()
}

// EnsureTopics creates the topics that do not exist yet. Terraform creates
// them in a deployment; the local stack and the tests use this.
func EnsureTopics(ctx context.Context, client *pubsub.Client, topics ...string) error {
	for _, topic := range topics {
		name := fmt.Sprintf("projects/%s/topics/%s", client.Project(), topic)
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("bus.EnsureTopics %s: %w", topic, err)
		}
	}
	return nil
}
