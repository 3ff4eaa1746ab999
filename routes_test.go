package runway_test

import (
	"net/http"
	"testing"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/stacktest"
)

func TestRouteTable(t *testing.T) {
	s := stacktest.New(t)
	functions, paths := map[string]bool{}, map[string]bool{}
	for _, r := range runway.Routes {
		if functions[r.Function] || (r.Path != "" && paths[r.Path]) {
			t.Errorf("%s %s appears twice in the route table", r.Function, r.Path)
		}
		functions[r.Function], paths[r.Path] = true, true
		if got, ok := runway.RouteFor(r.Function); !ok || got.Path != r.Path {
			t.Errorf("RouteFor(%s) = %v, %v", r.Function, got.Path, ok)
		}
		apiFunction := r.Path != "" && r.Method != "" && r.New != nil && r.Topic == nil && r.Schedule == ""
		pubsub := r.Topic != nil && r.NewHandler != nil && r.Path == "" && r.New == nil && r.Schedule == ""
		scheduled := r.Schedule != "" && r.New != nil && r.Path == "" && r.Topic == nil
		if !apiFunction && !pubsub && !scheduled {
			t.Errorf("%s must be an API function (Method, Path, New), a Pub/Sub one (Topic, NewHandler) or a scheduled one (Schedule, New)", r.Function)
		}
		h, err := r.Handler(s.Env)
		if err != nil {
			t.Fatalf("%s: %v", r.Function, err)
		}
		if r.Path == "" {
			continue
		}
		endpoint, ok := h.(interface{ Actions() []api.Action })
		if r.Method == http.MethodPost && !ok {
			t.Errorf("%s serves POST but is not an action endpoint", r.Function)
			continue
		}
		if !ok {
			if !r.IAP {
				t.Errorf("%s is neither an action endpoint nor the board", r.Function)
			}
			continue // the board's pages take the roles of the API's actions they show
		}
		for _, a := range endpoint.Actions() {
			if a.Role == auth.RoleNone {
				t.Errorf("%s: action %s needs no role", r.Function, a.Name)
			}
		}
	}
	if _, ok := runway.RouteFor("Nope"); ok {
		t.Error("RouteFor found a function that does not exist")
	}
}

func TestUnknownPathsAreJSON404s(t *testing.T) {
	s := stacktest.New(t)
	s.Post(t, "/v1/dag/lunch", `{}`).WantError(t, http.StatusNotFound)
}
