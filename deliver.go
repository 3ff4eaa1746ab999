package runway

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/runwaydata/runway/shared/bus"
	"github.com/runwaydata/runway/shared/logging"
)

// StartDelivery feeds the Pub/Sub functions of the route table (those
// named, or all) from a pull subscription to their topic, as push
// subscriptions do in a deployment, until ctx ends. The local dev server
// and the test stack use it; the subscriptions are created if missing.
func StartDelivery(ctx context.Context, env *Env, functions ...string) error {
	ctx = logging.WithLogger(ctx, env.Logger)
	for _, route := range Routes {
		if route.Topic == nil || (len(functions) > 0 && !slices.Contains(functions, route.Function)) {
			continue
		}
		routeEnv, err := env.For(route)
		if err != nil {
			return err
		}
		handle, err := route.NewHandler(routeEnv)
		if err != nil {
			return fmt.Errorf("runway: %s: %w", route.Function, err)
		}
		topic := route.Topic(env.Config)
		subscription := "local-" + strings.ToLower(route.Function)
		if err := bus.EnsureSubscription(ctx, env.PubSub, topic, subscription, route.Filter); err != nil {
			return err
		}
		go func() {
			log := env.Logger.With(slog.String("function", route.Function))
			err := bus.Deliver(ctx, env.PubSub, subscription, func(ctx context.Context, m bus.Message) error {
				return handle(logging.WithLogger(ctx, log.With(slog.String("message_id", m.ID))), m)
			})
			if err != nil {
				log.ErrorContext(ctx, "delivery stopped", slog.Any("error", err))
			}
		}()
	}
	return nil
}
