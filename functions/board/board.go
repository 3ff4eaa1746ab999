// Package board is the Board function, GET /board/: the run board, Runway
// in a browser. People see an account's runs, a run with its history, the
// account's configurations and its workflows' gates; with the role for it,
// they set a failed run to CHECKED, cancel a running one, switch a
// configuration on or off and reset a workflow.
//
// Pages are rendered on the server (html/template) and read without
// JavaScript; htmx, vendored under static/, refreshes the rows of running
// runs. The board calls the services the API calls, through the API's own
// request types and with the roles auth.Policy gives the API's actions: it
// holds no rule of its own.
//
// Who is signed in is said by Identity-Aware Proxy where Runway is
// deployed (IAP), and by a dev token in a cookie on the local stack
// (DevSignIn).
package board

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/workflows"
)

// Root is the path the board is served under.
const Root = "/board/"

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Deps are the Board function's dependencies.
type Deps struct {
	Runs      *runs.Service
	Configs   *configs.Service
	Workflows *workflows.Service
	// Members gives the caller's role, read once per page to show only
	// the actions it allows.
	Members auth.Members
	Authz   *auth.Authorizer
	// Identity says who sends each request.
	Identity Identity
	// Limits keep one person from starving the others; nil for none.
	Limits *api.Limits
	// Now is the clock durations of running runs are measured with; nil
	// means time.Now.
	Now func() time.Time
}

// Handler serves the board.
type Handler struct {
	deps   Deps
	now    func() time.Time
	pages  map[string]*template.Template
	static http.Handler
	mux    http.Handler
}

// staticRoot is where the assets are: under a name no account can have
// (accounts begin with a letter or digit), served before the pages' mux,
// whose patterns cannot say so.
const staticRoot = Root + "_static/"

// pageNames are the templates of templates/, each rendered within
// layout.html.
var pageNames = []string{"home", "signin", "runs", "run", "configurations", "workflow", "error"}

// New returns the Board handler.
func New(deps Deps) (*Handler, error) {
	switch {
	case deps.Runs == nil || deps.Configs == nil || deps.Workflows == nil:
		return nil, errors.New("board: missing a runs, configs or workflows service")
	case deps.Members == nil || deps.Authz == nil:
		return nil, errors.New("board: missing members or authorizer")
	case deps.Identity == nil:
		return nil, errors.New("board: missing identity")
	}
	h := &Handler{deps: deps, now: deps.Now, pages: map[string]*template.Template{}}
	if h.now == nil {
		h.now = time.Now
	}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.pages[name] = t
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}

	h.static = http.StripPrefix(staticRoot, cacheable(http.FileServerFS(static)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Root+"signin", h.signInPage)
	mux.HandleFunc("POST "+Root+"signin", h.signIn)
	mux.HandleFunc("POST "+Root+"signout", h.signOut)
	mux.HandleFunc("GET "+Root+"{$}", h.home)
	mux.HandleFunc("GET "+Root+"{account}/runs", h.runsPage)
	mux.HandleFunc("GET "+Root+"{account}/runs/{type}/{configuration}/{run}", h.runPage)
	mux.HandleFunc("GET "+Root+"{account}/runs/{type}/{configuration}/{run}/row", h.runRow)
	mux.HandleFunc("POST "+Root+"{account}/runs/{type}/{configuration}/{run}/check", form(h, "set_run_status", checkRequest, h.checkRun))
	mux.HandleFunc("POST "+Root+"{account}/runs/{type}/{configuration}/{run}/cancel", form(h, "cancel_run", cancelRequest, h.cancelRun))
	mux.HandleFunc("GET "+Root+"{account}/configurations", h.configurationsPage)
	mux.HandleFunc("POST "+Root+"{account}/configurations/{environment}/{type}/{configuration}/status",
		form(h, "set_configuration_status", switchRequest, h.setConfigurationStatus))
	mux.HandleFunc("GET "+Root+"{account}/workflows/{environment}/{configuration}", h.workflowPage)
	mux.HandleFunc("POST "+Root+"{account}/workflows/{environment}/{configuration}/reset",
		form(h, "reset_workflow_status", workflowRequest, h.resetWorkflow))
	mux.HandleFunc(Root, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.identify(w, r); ok {
			h.fail(w, r, api.Errorf(http.StatusNotFound, "the board has no page at %s", r.URL.Path))
		}
	})
	// Browsers say where a form comes from (Sec-Fetch-Site, Origin): a
	// POST from another site is refused before the CSRF token is checked.
	h.mux = http.NewCrossOriginProtection().Handler(mux)
	return h, nil
}

// ServeHTTP implements http.Handler. Every answer forbids framing,
// sniffing and any script, style or connection but the board's own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer h.recoverPanic(w, r)
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, staticRoot) && r.Method == http.MethodGet {
		h.static.ServeHTTP(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// form serves an action's form: the request build reads from it is checked
// as the API action of that name is (identify: the CSRF token; authorize:
// its fields, the caller's rate and role), then act carries it out and
// says which page to go back to.
func form[Req api.Request](h *Handler, action string, build func(*http.Request) Req,
	act func(context.Context, auth.Caller, Req) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, ok := h.identify(w, r)
		if !ok {
			return
		}
		req := build(r)
		if _, ok := h.authorize(w, r, who, req, action); !ok {
			return
		}
		next, err := act(r.Context(), who, req)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// home asks which account to open.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	who, ok := h.identify(w, r)
	if !ok {
		return
	}
	if account := r.URL.Query().Get("account"); account != "" {
		http.Redirect(w, r, Root+url.PathEscape(account)+"/runs", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "home", page{Title: "Runway", Who: who, CSRF: csrfToken(w, r), DevSignIn: h.devSignIn()})
}

// cacheable lets browsers keep the static assets for an hour.
func cacheable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}
