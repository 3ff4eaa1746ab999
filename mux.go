package runway

import (
	"fmt"
	"net/http"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/logging"
)

// NewMux serves every HTTP function of the route table on one host at its
// path, as the load balancer does in a deployment. The local dev server and
// the in-process test stack use it.
func NewMux(env *Env) (http.Handler, error) {
	mux := http.NewServeMux()
	for _, route := range Routes {
		if route.Path == "" {
			continue // a Pub/Sub or scheduled function: see StartDelivery
		}
		handler, err := route.Handler(env)
		if err != nil {
			return nil, fmt.Errorf("runway: %s: %w", route.Function, err)
		}
		for _, path := range append([]string{route.Path}, route.Aliases...) {
			mux.Handle(path, handler)
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(r.Context(), w, api.Errorf(http.StatusNotFound, "no endpoint at %s", r.URL.Path))
	})
	return logging.Middleware(env.Logger, env.Config.Project, mux), nil
}
