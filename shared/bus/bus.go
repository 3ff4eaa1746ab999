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
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
)

// Topics names the topics Runway publishes to.
type Topics struct {
	Launch    string // launch messages, for executors
	RunEvents string // run status changes, for workflows
}

// Topic is one of Runway's topics, by the key local.topic_names gives it
// in terraform/pubsub.tf. The route table declares the topics each
// function publishes to, and Terraform grants it those and no others.
type Topic string

// Runway's topics.
const (
	LaunchTopic    Topic = "launch"     // launch and cancel messages
	RunEventsTopic Topic = "run_events" // run status changes
)

// Bus publishes Runway's messages.
type Bus struct {
	launch    *pubsub.Publisher
	runEvents *pubsub.Publisher
	// allowed are the topics this Bus may publish to: all of them, or
	// those of one function (Only).
	allowed map[Topic]bool
}

// New returns a Bus that publishes to topics. A publish that cannot be
// delivered within timeout fails, leaving the message for the Reaper.
func New(client *pubsub.Client, topics Topics, timeout time.Duration) (*Bus, error) {
	if client == nil {
		return nil, errors.New("bus: missing Pub/Sub client")
	}
	if topics.Launch == "" || topics.RunEvents == "" {
		return nil, errors.New("bus: missing topic names")
	}
	b := &Bus{launch: client.Publisher(topics.Launch), runEvents: client.Publisher(topics.RunEvents),
		allowed: map[Topic]bool{LaunchTopic: true, RunEventsTopic: true}}
	for _, p := range []*pubsub.Publisher{b.launch, b.runEvents} {
		// Callers wait for their publish, so send each message at once
		// rather than waiting to fill a batch; concurrent callers still
		// share the publisher's connections.
		p.PublishSettings.CountThreshold = 1
		p.PublishSettings.Timeout = timeout
	}
	return b, nil
}

// Only returns a Bus sharing b's publishers that publishes to topics only:
// the Bus of one function, which Terraform grants those topics and no
// others. Publishing elsewhere fails, so that a function's tests catch a
// publish its deployment would be refused.
func (b *Bus) Only(topics ...Topic) *Bus {
	only := &Bus{launch: b.launch, runEvents: b.runEvents, allowed: map[Topic]bool{}}
	for _, t := range topics {
		only.allowed[t] = b.allowed[t]
	}
	return only
}

// may returns the error of a publish to topic by a Bus not allowed to.
func (b *Bus) may(topic Topic) error {
	if b.allowed[topic] {
		return nil
	}
	return fmt.Errorf("bus: this function may not publish to the %s topic: declare it in the route's Publishes (routes.go), which Terraform's grants follow", topic)
}

// PublishLaunch implements runs.Publisher.
func (b *Bus) PublishLaunch(ctx context.Context, msg message.Launch) (string, error) {
	if err := b.may(LaunchTopic); err != nil {
		return "", err
	}
	attrs := runAttributes(msg.Account, msg.Environment, msg.ConfigurationType, msg.RunID)
	attrs[message.AttrAttempt] = strconv.Itoa(msg.Attempt)
	attrs[message.AttrType] = message.TypeLaunch
	return publish(ctx, b.launch, "the launch topic", msg, attrs)
}

// PublishCancel implements runs.Publisher: cancel messages go to the
// launch topic, so that they reach the executors of the run's type through
// the subscriptions they already have.
func (b *Bus) PublishCancel(ctx context.Context, msg message.Cancel) (string, error) {
	if err := b.may(LaunchTopic); err != nil {
		return "", err
	}
	attrs := runAttributes(msg.Account, msg.Environment, msg.ConfigurationType, msg.RunID)
	attrs[message.AttrType] = message.TypeCancel
	return publish(ctx, b.launch, "the launch topic", msg, attrs)
}

// PublishRunEvent implements runs.Publisher.
func (b *Bus) PublishRunEvent(ctx context.Context, ev message.RunEvent) (string, error) {
	if err := b.may(RunEventsTopic); err != nil {
		return "", err
	}
	attrs := runAttributes(ev.Account, ev.Environment, ev.ConfigurationType, ev.RunID)
	attrs[message.AttrStatus] = string(ev.Status)
	if ev.HasCallback {
		attrs[message.AttrCallback] = "true"
	}
	return publish(ctx, b.runEvents, "the run events topic", ev, attrs)
}

// runAttributes are the attributes every message about a run carries,
// for subscriptions to filter on.
func runAttributes(account, environment, configurationType, runID string) map[string]string {
	return map[string]string{
		message.AttrAccount:           account,
		message.AttrEnvironment:       environment,
		message.AttrConfigurationType: configurationType,
		message.AttrRunID:             runID,
	}
}

func publish(ctx context.Context, p *pubsub.Publisher, what string, body any, attrs map[string]string) (string, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("bus: encode a message for %s: %w", what, err)
	}
	id, err := p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		return "", failure.Unavailable(what, fmt.Errorf("bus: publish to %s (run %s): %w", p.ID(), attrs[message.AttrRunID], err))
	}
	return id, nil
}

// Close flushes pending messages and stops the publishers.
func (b *Bus) Close() {
	b.launch.Stop()
	b.runEvents.Stop()
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

// EnsureSubscription creates a pull subscription to topic, with filter
// ("" for none), if it does not exist yet, with a short retry backoff: the
// local stand-in for the push subscriptions Terraform creates.
func EnsureSubscription(ctx context.Context, client *pubsub.Client, topic, subscription, filter string) error {
	_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:               fmt.Sprintf("projects/%s/subscriptions/%s", client.Project(), subscription),
		Topic:              fmt.Sprintf("projects/%s/topics/%s", client.Project(), topic),
		Filter:             filter,
		AckDeadlineSeconds: 60,
		RetryPolicy: &pubsubpb.RetryPolicy{
			MinimumBackoff: durationpb.New(time.Second),
			MaximumBackoff: durationpb.New(10 * time.Second),
		},
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("bus.EnsureSubscription %s: %w", subscription, err)
	}
	return nil
}
