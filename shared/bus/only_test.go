package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/testenv"
)

// TestOnlyRefusesUndeclaredTopics: a function's bus publishes to the
// topics its route declares and refuses the others, as its deployment's
// grants would, with an error that says where to declare them.
func TestOnlyRefusesUndeclaredTopics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	project := testenv.Project(t)
	client := testenv.PubSub(t, project)
	if err := bus.EnsureTopics(ctx, client, "runway-launch", "runway-run-events"); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(client, bus.Topics{Launch: "runway-launch", RunEvents: "runway-run-events"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	events := b.Only(bus.RunEventsTopic)

	if _, err := events.PublishRunEvent(ctx, message.RunEvent{EventID: "e1", RunID: "r1", Status: runs.StatusSuccess}); err != nil {
		t.Errorf("PublishRunEvent on a declared topic: %v", err)
	}
	for name, publish := range map[string]func() error{
		"launch": func() error { _, err := events.PublishLaunch(ctx, message.Launch{RunID: "r1"}); return err },
		"cancel": func() error { _, err := events.PublishCancel(ctx, message.Cancel{RunID: "r1"}); return err },
	} {
		if err := publish(); err == nil || !strings.Contains(err.Error(), "routes.go") {
			t.Errorf("%s on an undeclared topic = %v, want a refusal naming the route table", name, err)
		}
	}
	// Only cannot widen what a bus may do.
	if _, err := events.Only(bus.LaunchTopic).PublishLaunch(ctx, message.Launch{RunID: "r1"}); err == nil {
		t.Error("Only widened a restricted bus")
	}
}
