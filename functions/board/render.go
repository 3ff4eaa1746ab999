package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/logging"
)

// page is what every page's template gets: the layout's parts, and the
// page's own Data.
type page struct {
	Title     string
	Who       auth.Caller
	Role      auth.Role // on Account, when the page is of one
	Account   string
	Nav       string // the layout's current tab: runs, configurations, workflows
	CSRF      string
	DevSignIn bool
	Done      string // what the action before did, said once
	Data      any
}

// render writes the page name with p, whole or not at all: the template is
// executed into a buffer first.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	h.execute(w, r, status, h.pages[name], "layout", p)
}

// execute writes the template named within t.
func (h *Handler) execute(w http.ResponseWriter, r *http.Request, status int, t *template.Template, name string, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		logging.Annotate(r.Context(), slog.String("error", err.Error()))
		http.Error(w, "internal error; it has been logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorView is what the error page shows.
type errorView struct {
	Code     int
	Message  string
	Problems []api.FieldError
	Back     string
}

// fail answers err as the API would (api.FromError: the same statuses and
// messages), on a page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := api.FromError(err)
	if e.Code >= 500 {
		logging.Annotate(r.Context(), slog.String("error", err.Error()))
	} else {
		logging.Annotate(r.Context(), slog.String("error", e.Message))
	}
	if ra := e.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	p := page{Title: http.StatusText(e.Code), DevSignIn: h.devSignIn(),
		Data: errorView{Code: e.Code, Message: e.Message, Problems: e.Errors, Back: back(r)}}
	h.render(w, r, e.Code, "error", p)
}

// back is the page a person came from, to return to after an error: the
// page of the board a form was on.
func back(r *http.Request) string {
	if u, err := url.Parse(r.Referer()); err == nil && strings.HasPrefix(u.Path, Root) {
		return u.RequestURI()
	}
	return Root
}

func (h *Handler) recoverPanic(w http.ResponseWriter, r *http.Request) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		logging.FromContext(r.Context()).ErrorContext(r.Context(), "panic serving request",
			slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		h.fail(w, r, errors.New("panic"))
	}
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// when writes a time of the API's format for people: to the second, UTC.
	"when": func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	// duration drops the microseconds of the API's H:MM:SS.ffffff.
	"duration": func(s string) string {
		whole, _, _ := strings.Cut(s, ".")
		return whole
	},
	"statusText": http.StatusText,
	// status is the class that colours a status.
	"status": func(s string) string { return "status status-" + strings.ToLower(s) },
	// pretty indents a JSON value.
	"pretty": func(v any) string {
		var b []byte
		var err error
		if raw, ok := v.(json.RawMessage); ok {
			var buf bytes.Buffer
			err = json.Indent(&buf, raw, "", "  ")
			b = buf.Bytes()
		} else {
			b, err = json.MarshalIndent(v, "", "  ")
		}
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
}
