package api

import (
	"context"
	"net/http"
)

// ServePass serves a function Cloud Scheduler calls (the Reaper, the
// Scheduler): POST only, from the scheduler's caller only, which
// authenticate checks; it runs one pass and answers what the pass did.
func ServePass[P any](w http.ResponseWriter, r *http.Request, function string, authenticate func(*http.Request) error, pass func(context.Context) (P, error)) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		e := Errorf(http.StatusMethodNotAllowed, "the %s accepts POST only", function)
		e.Header = http.Header{"Allow": {http.MethodPost}}
		WriteError(ctx, w, e)
		return
	}
	if err := authenticate(r); err != nil {
		WriteError(ctx, w, err)
		return
	}
	done, err := pass(ctx)
	if err != nil {
		WriteError(ctx, w, err)
		return
	}
	WriteJSON(ctx, w, http.StatusOK, done)
}
