package terraform_test

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/runwaydata/runway"
	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/delivery"
)

// serviceAccountID is what Google accepts as a service account id.
var serviceAccountID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// devOnly are the variables a deployment never sets.
var devOnly = map[string]bool{"RUNWAY_DEV_KEY_FILE": true}

// check compares the Terraform module in dir with the code, and with the
// composite indexes the code's queries used, and returns every mismatch it
// finds. The tests run it on terraform/ and on mutated copies of it.
func check(dir, goMod string, usedIndexes []string) []string {
	m, err := parseModule(dir)
	if err != nil {
		return []string{err.Error()}
	}
	problems := checkIndexes(m, usedIndexes)
	problems = append(problems, checkCallbacks(m)...)
	problems = append(problems, checkAlerts(m)...)
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// The code's defaults: the topics it publishes to.
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"RUNWAY_PROJECT": "p", "RUNWAY_AUDIENCES": "https://x"}[k]
		return v, ok
	})
	if err != nil {
		return []string{err.Error()}
	}

	// Functions: one per route, with its entry point and the shared env.
	functions := m.resources("google_cloudfunctions2_function")
	byEntry := map[string]string{} // entry point → resource name
	for name, b := range functions {
		entry := literal(attr(b, "build_config.entry_point"))
		if entry == "" {
			add("google_cloudfunctions2_function.%s has no literal build_config.entry_point", name)
			continue
		}
		byEntry[entry] = name
		if ref := reference(attr(b, "service_config.environment_variables")); ref != "local.function_env" {
			add("%s: service_config.environment_variables must be local.function_env, not %q", entry, ref)
		}
		if ref := reference(attr(b, "build_config.runtime")); ref != "local.function_build.runtime" {
			add("%s: build_config.runtime must be local.function_build.runtime", entry)
		}
	}
	var entries []string
	for _, r := range runway.Routes {
		entries = append(entries, r.Function)
		name, ok := byEntry[r.Function]
		if !ok {
			add("route %s has no google_cloudfunctions2_function with entry_point %q", r.Function, r.Function)
			continue
		}
		if r.Function == "DagStatus" {
			// check_run_status holds a request up to api.MaxWaitSeconds.
			long := false
			if a := attr(functions[name], "service_config.timeout_seconds"); a != nil {
				timeout, diags := a.Expr.Value(nil)
				long = !diags.HasErrors() && timeout.Type().Equals(cty.Number) && timeout.GreaterThanOrEqualTo(cty.NumberIntVal(api.MaxWaitSeconds+20)).True()
			}
			if !long {
				add("DagStatus: service_config.timeout_seconds must be at least %d, for check_run_status's wait_seconds", api.MaxWaitSeconds+20)
			}
		}
		problems = append(problems, checkScaling(m, r.Function, functions[name])...)
		ingress := literal(attr(functions[name], "service_config.ingress_settings"))
		want := "ALLOW_INTERNAL_ONLY"
		if r.Path != "" {
			want = "ALLOW_INTERNAL_AND_GCLB"
		}
		if ingress != want {
			add("%s: ingress_settings %q, want %q", r.Function, ingress, want)
		}
	}
	for entry := range byEntry {
		if !slices.Contains(entries, entry) {
			add("google_cloudfunctions2_function with entry_point %q is not in the route table", entry)
		}
	}

	// The runtime of go.mod.
	if want, err := goRuntime(goMod); err != nil {
		add("%v", err)
	} else if got := m.vars["go_runtime"]; got.IsNull() || got.AsString() != want {
		add("variable go_runtime defaults to %v, want %q (go.mod)", got, want)
	}

	// The CallbackDispatcher and AlertDispatcher give up by their own
	// count of attempts, which they record; the dead-letter policy must not
	// cut it short.
	if got := m.vars["push_max_delivery_attempts"]; got.IsNull() || !got.Type().Equals(cty.Number) ||
		got.LessThanOrEqualTo(cty.NumberIntVal(delivery.DefaultMaxAttempts)).True() {
		add("variable push_max_delivery_attempts must default to more than the dispatchers' %d attempts", delivery.DefaultMaxAttempts)
	}

	// Every variable the code reads is set, and only those; secrets apart
	// (checkAlerts).
	env := m.objectKeys("function_env")
	for _, v := range config.Variables {
		if _, ok := env[v.Name]; !ok && !devOnly[v.Name] && !config.SecretVariables[v.Name] {
			add("local.function_env does not set %s, which the code reads", v.Name)
		}
	}
	for name := range env {
		if !slices.ContainsFunc(config.Variables, func(v config.Variable) bool { return v.Name == name }) || devOnly[name] {
			add("local.function_env sets %s, which the code does not read", name)
		}
	}
	// Long waits must leave room for executors' reports on DagStatus.
	if v, ok := env["RUNWAY_MAX_WAITS"]; !ok || !slices.ContainsFunc(v.Variables(), func(t hcl.Traversal) bool {
		return render(t) == "var.max_instance_request_concurrency"
	}) {
		add("local.function_env must derive RUNWAY_MAX_WAITS from var.max_instance_request_concurrency, below it")
	}
	if v, ok := env["RUNWAY_AUTH_MODE"]; !ok || literalExpr(v) != config.AuthGoogle {
		add("local.function_env must set RUNWAY_AUTH_MODE to %q", config.AuthGoogle)
	}

	// Topics: the ones the code publishes to exist, and the env names them.
	topicNames := m.values["topic_names"]
	topics := map[string]string{} // key → name
	if !topicNames.IsNull() && topicNames.CanIterateElements() {
		for it := topicNames.ElementIterator(); it.Next(); {
			k, v := it.Element()
			topics[k.AsString()] = v.AsString()
		}
	}
	keyOf := func(topic string) string {
		for k, name := range topics {
			if name == topic {
				return k
			}
		}
		return ""
	}
	for envName, topic := range map[string]string{"RUNWAY_LAUNCH_TOPIC": cfg.LaunchTopic, "RUNWAY_RUN_EVENTS_TOPIC": cfg.RunEventsTopic} {
		key := keyOf(topic)
		if key == "" {
			add("the code publishes to %s, which local.topic_names does not create", topic)
			continue
		}
		if ref := refExpr(env[envName]); ref != fmt.Sprintf("google_pubsub_topic.runway[%q].name", key) {
			add("%s must be google_pubsub_topic.runway[%q].name, not %q", envName, key, ref)
		}
	}

	// Pub/Sub functions: a push subscription to their topic, with a
	// dead-letter topic, pushing to them. Scheduled ones: a job calling them.
	subscriptions := m.resources("google_pubsub_subscription")
	jobs := m.resources("google_cloud_scheduler_job")
	for _, r := range runway.Routes {
		name := byEntry[r.Function]
		switch {
		case r.Topic != nil:
			topicRef := fmt.Sprintf("google_pubsub_topic.runway[%q].id", keyOf(r.Topic(cfg)))
			found := false
			for subName, sub := range subscriptions {
				if refersTo(reference(attr(sub, "push_config.push_endpoint")), "google_cloudfunctions2_function."+name) {
					found = true
					if got := reference(attr(sub, "topic")); got != topicRef {
						add("subscription %s feeds %s from %q, want %q", subName, r.Function, got, topicRef)
					}
					if attr(sub, "dead_letter_policy.dead_letter_topic") == nil || attr(sub, "retry_policy.minimum_backoff") == nil {
						add("subscription %s has no dead-letter topic or no retry policy", subName)
					}
					if attr(sub, "push_config.oidc_token.service_account_email") == nil {
						add("subscription %s pushes without an OIDC token", subName)
					}
					if r.Filter != "" && literal(attr(sub, "filter")) != r.Filter {
						add("subscription %s filters %q, the route %q", subName, literal(attr(sub, "filter")), r.Filter)
					}
				}
			}
			if !found {
				add("no push subscription feeds %s", r.Function)
			}
		case r.Schedule != "":
			found := false
			for jobName, job := range jobs {
				if refersTo(reference(attr(job, "http_target.uri")), "google_cloudfunctions2_function."+name) {
					found = true
					if ref := reference(attr(job, "schedule")); ref != "" {
						if v := m.vars[strings.TrimPrefix(ref, "var.")]; v.IsNull() || v.AsString() != r.Schedule {
							add("scheduler job %s runs on %v, the route says %q", jobName, v, r.Schedule)
						}
					}
					if attr(job, "http_target.oidc_token.service_account_email") == nil {
						add("scheduler job %s calls %s without an OIDC token", jobName, r.Function)
					}
				}
			}
			if !found {
				add("no Cloud Scheduler job calls %s", r.Function)
			}
		}
	}

	// Publish rights: each function may publish to the topics its route
	// declares, which its code is held to (runway.Env.For), and no others.
	accountOf := map[string]string{} // service account resource → entry point
	for entry, name := range byEntry {
		if sa := reference(attr(functions[name], "service_config.service_account_email")); sa != "" {
			accountOf[strings.TrimSuffix(sa, ".email")] = entry
		}
	}
	granted := map[string][]string{} // entry point → topic keys
	for name, b := range m.resources("google_pubsub_topic_iam_member") {
		entry, ok := accountOf[strings.TrimSuffix(reference(attr(b, "member")), ".member")]
		if !ok {
			continue // not a function's own account (a push subscription's, say)
		}
		if literal(attr(b, "role")) != "roles/pubsub.publisher" {
			add("google_pubsub_topic_iam_member.%s grants %s a role other than roles/pubsub.publisher", name, entry)
		}
		granted[entry] = append(granted[entry], literalSet(attr(b, "for_each"))...)
	}
	for _, r := range runway.Routes {
		var want []string
		for _, t := range r.Publishes {
			want = append(want, string(t))
		}
		got := granted[r.Function]
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			add("%s may publish to %v in Terraform, its route declares %v", r.Function, got, want)
		}
	}

	// Push subscriptions and the scheduler: each issues its tokens for what
	// its function accepts (RUNWAY_PUSH_AUDIENCES), which is the function's
	// own URL, https://REGION-PROJECT.cloudfunctions.net/NAME.
	for _, p := range checkPushAudiences(m, env["RUNWAY_PUSH_AUDIENCES"], functions, byEntry, subscriptions, jobs) {
		add("%s", p)
	}

	// The load balancer: one route per API function, at its paths. The
	// board is behind IAP, on its own backend service.
	lbRoutes := m.objectKeys("lb_routes")
	for _, r := range runway.Routes {
		route, ok := lbRoutes[r.Function]
		if r.IAP {
			if ok {
				add("%s is in local.lb_routes, whose functions anyone may invoke: it must be behind IAP only", r.Function)
			}
			problems = append(problems, checkIAP(m, r, functions[byEntry[r.Function]], env["RUNWAY_IAP_AUDIENCE"])...)
			continue
		}
		if r.Path == "" {
			if ok {
				add("the load balancer routes to %s, which is not an API function", r.Function)
			}
			continue
		}
		if !ok {
			add("the load balancer has no route to %s (%s)", r.Function, r.Path)
			continue
		}
		var want []string
		for _, p := range append([]string{r.Path}, r.Aliases...) {
			if strings.HasSuffix(p, "/") {
				p += "*"
			}
			want = append(want, p)
		}
		got := literalList(field(route, "paths"))
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			add("the load balancer serves %s at %v, the route table at %v", r.Function, got, want)
		}
		if ref := refExpr(field(route, "service")); ref != "google_cloudfunctions2_function."+byEntry[r.Function]+".service_config[0].service" {
			add("the load balancer's route to %s points at %q", r.Function, ref)
		}
	}
	for name := range lbRoutes {
		if _, ok := runway.RouteFor(name); !ok {
			add("the load balancer routes to %s, which is not in the route table", name)
		}
	}

	// Nobody may invoke a function as allUsers but through the load
	// balancer: the only allUsers grant allowed is the one on the load
	// balancer's functions, whose ingress (checked above) admits only it.
	for _, typ := range []string{"google_cloud_run_v2_service_iam_member", "google_cloud_run_service_iam_member",
		"google_cloudfunctions2_function_iam_member", "google_cloud_run_v2_service_iam_binding"} {
		for name, b := range m.resources(typ) {
			member := literal(attr(b, "member"))
			if member != "allUsers" && member != "allAuthenticatedUsers" {
				continue
			}
			if reference(attr(b, "for_each")) != "local.lb_routes" || reference(attr(b, "name")) != "each.value.service" {
				add("%s.%s grants %s on something other than the load balancer's functions", typ, name, member)
			}
		}
	}

	// Service account ids: Google refuses ids outside 6-30 characters.
	for name, b := range m.resources("google_service_account") {
		if id := literal(attr(b, "account_id")); !serviceAccountID.MatchString(id) {
			add("google_service_account.%s: account_id %q must be 6 to 30 lower-case letters, digits and dashes", name, id)
		}
	}
	return problems
}

// refersTo reports whether the reference ref is to resource (possibly one
// instance of it, resource[0]).
func refersTo(ref, resource string) bool {
	rest, ok := strings.CutPrefix(ref, resource)
	return ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "["))
}

func literalExpr(e hclsyntax.Expression) string {
	if e == nil {
		return ""
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.Type().Equals(cty.String) {
		return ""
	}
	return v.AsString()
}

func refExpr(e hclsyntax.Expression) string {
	if e == nil {
		return ""
	}
	vars := e.Variables()
	if len(vars) == 0 {
		return ""
	}
	return render(vars[0])
}

// literalSet reads a for_each of toset([...]) literals.
func literalSet(a *hclsyntax.Attribute) []string {
	if a == nil {
		return nil
	}
	call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "toset" || len(call.Args) != 1 {
		return nil
	}
	return literalList(call.Args[0])
}

func literalList(e hclsyntax.Expression) []string {
	if e == nil {
		return nil
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return nil
	}
	return strings_(v)
}

// checkPushAudiences checks that each push subscription and scheduler job
// issues its OIDC tokens for an audience its function accepts, exactly,
// and that what a function accepts is its own URL.
func checkPushAudiences(m *module, envExpr hclsyntax.Expression, functions map[string]*hclsyntax.Block, byEntry map[string]string,
	subscriptions, jobs map[string]*hclsyntax.Block) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	value, ok := m.evalString(envExpr)
	if !ok {
		return []string{"RUNWAY_PUSH_AUDIENCES of local.function_env does not evaluate from variables and locals"}
	}
	accepts, err := config.ParsePushAudiences(value)
	if err != nil {
		return []string{fmt.Sprintf("RUNWAY_PUSH_AUDIENCES %q: %v", value, err)}
	}
	functionsURL := fmt.Sprintf("https://%s-%s.cloudfunctions.net", m.vars["region"].AsString(), requiredPlaceholder("project"))
	for entry, urls := range accepts {
		r, ok := runway.RouteFor(entry)
		if !ok || (r.Topic == nil && r.Schedule == "") {
			add("RUNWAY_PUSH_AUDIENCES names %s, which is not a Pub/Sub-fed or scheduled function", entry)
			continue
		}
		want := functionsURL + "/" + literal(attr(functions[byEntry[entry]], "name"))
		for _, u := range urls {
			if u != want {
				add("RUNWAY_PUSH_AUDIENCES: %s accepts %s, which is not its URL %s", entry, u, want)
			}
		}
	}
	// The subscriptions and jobs that call a function, and where each sets
	// its token's audience.
	type caller struct {
		kind, name, audience, entry string
		block                       *hclsyntax.Block
	}
	var callers []caller
	for _, r := range runway.Routes {
		target := "google_cloudfunctions2_function." + byEntry[r.Function]
		switch {
		case r.Topic != nil:
			for name, sub := range subscriptions {
				if refersTo(reference(attr(sub, "push_config.push_endpoint")), target) {
					callers = append(callers, caller{"subscription", name, "push_config.oidc_token.audience", r.Function, sub})
				}
			}
		case r.Schedule != "":
			for name, job := range jobs {
				if refersTo(reference(attr(job, "http_target.uri")), target) {
					callers = append(callers, caller{"scheduler job", name, "http_target.oidc_token.audience", r.Function, job})
				}
			}
		}
	}
	for _, c := range callers {
		a := attr(c.block, c.audience)
		if a == nil {
			add("%s %s sets no %s: its tokens would be issued for the run.app URL, which %s does not accept", c.kind, c.name, c.audience, c.entry)
			continue
		}
		aud, ok := m.evalString(a.Expr)
		if !ok {
			add("%s %s: %s does not evaluate from variables and locals; make it local.push_audiences[%q]", c.kind, c.name, c.audience, c.entry)
			continue
		}
		if !slices.Contains(accepts[c.entry], aud) {
			add("%s %s issues tokens for %s, which %s does not accept (RUNWAY_PUSH_AUDIENCES: %v)", c.kind, c.name, aud, c.entry, accepts[c.entry])
		}
	}
	return problems
}

// checkIAP checks the load balancer's route to a function behind
// Identity-Aware Proxy (the board): a backend service of its own with IAP
// enabled, with the OAuth client of the variables, whose NEG is the
// function's Cloud Run service; the URL map's path rule to it at the
// route's paths; IAP's service agent its only invoker; and the audience the
// function checks IAP's assertions for, that backend service.
func checkIAP(m *module, r runway.Route, fn *hclsyntax.Block, audience hclsyntax.Expression) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if fn == nil {
		return nil // reported with the functions
	}
	fnName := literal(attr(fn, "name"))
	if fnName == "" {
		if v, ok := m.evalString(attr(fn, "name").Expr); ok {
			fnName = v
		}
	}
	negs := m.resources("google_compute_region_network_endpoint_group")
	backend := ""
	for name, b := range m.resources("google_compute_backend_service") {
		neg := negs[strings.TrimPrefix(strings.TrimSuffix(reference(attr(b, "backend.group")), ".id"), "google_compute_region_network_endpoint_group.")]
		if neg == nil {
			continue
		}
		if service, _ := m.evalString(exprOf(attr(neg, "cloud_run.service"))); service != fnName {
			continue
		}
		backend = name
		enabled := false
		if a := attr(b, "iap.enabled"); a != nil {
			v, diags := a.Expr.Value(nil)
			enabled = !diags.HasErrors() && v.Type().Equals(cty.Bool) && v.True()
		}
		if !enabled {
			add("%s: its backend service %s has no iap block with enabled = true", r.Function, name)
		}
		for field, variable := range map[string]string{"oauth2_client_id": "iap_oauth2_client_id", "oauth2_client_secret": "iap_oauth2_client_secret"} {
			if _, declared := m.vars[variable]; !declared || reference(attr(b, "iap."+field)) != "var."+variable {
				add("%s: its backend service's iap.%s must be var.%s, a declared variable", r.Function, field, variable)
			}
		}
	}
	if backend == "" {
		return append(problems, fmt.Sprintf("%s: no backend service's NEG is its Cloud Run service %q", r.Function, fnName))
	}

	// The URL map's path rule.
	want := []string{r.Path + "*"}
	found := false
	for _, um := range m.resources("google_compute_url_map") {
		for _, pm := range childBlocks(um.Body, "path_matcher") {
			for _, rule := range childBlocks(pm.Body, "path_rule") {
				if reference(rule.Body.Attributes["service"]) != "google_compute_backend_service."+backend+".id" {
					continue
				}
				found = true
				paths := literalList(exprOf(rule.Body.Attributes["paths"]))
				if v, ok := m.values[strings.TrimPrefix(reference(rule.Body.Attributes["paths"]), "local.")]; ok && paths == nil {
					paths = strings_(v)
				}
				if !slices.Equal(paths, want) {
					add("the load balancer serves %s at %v, the route table at %v", r.Function, paths, want)
				}
			}
		}
	}
	if !found {
		add("the URL map has no path rule to %s's backend service %s", r.Function, backend)
	}

	// Invokers: IAP's service agent, and no one else.
	fnService := "google_cloudfunctions2_function." + byName(m, fnName) + ".service_config[0].service"
	invokers := 0
	for name, b := range m.resources("google_cloud_run_v2_service_iam_member") {
		if reference(attr(b, "name")) != fnService {
			continue
		}
		invokers++
		if ref := reference(attr(b, "member")); ref != "google_project_service_identity.iap.member" {
			add("google_cloud_run_v2_service_iam_member.%s lets %q invoke %s, behind IAP", name, ref+literal(attr(b, "member")), r.Function)
		}
	}
	if invokers == 0 {
		add("%s: IAP's service agent (google_project_service_identity.iap) may not invoke it", r.Function)
	}

	// The audience of the assertions the function accepts.
	refs := map[string]bool{}
	if audience != nil {
		for _, t := range audience.Variables() {
			refs[render(t)] = true
		}
	}
	if !refs["google_compute_backend_service."+backend+".generated_id"] || !refs["data.google_project.runway.number"] {
		add("RUNWAY_IAP_AUDIENCE must be /projects/${data.google_project.runway.number}/global/backendServices/${google_compute_backend_service.%s.generated_id}", backend)
	}
	return problems
}

// byName returns the resource name of the function named name.
func byName(m *module, name string) string {
	for res, b := range m.resources("google_cloudfunctions2_function") {
		if n, ok := m.evalString(exprOf(attr(b, "name"))); ok && n == name {
			return res
		}
	}
	return ""
}

func childBlocks(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

func exprOf(a *hclsyntax.Attribute) hclsyntax.Expression {
	if a == nil {
		return nil
	}
	return a.Expr
}

// Sizing of the functions for 5,000 launches/s (docs/scale.md): an
// instance is planned at plannedPerInstance requests/s, and each maximum
// is headroom times what the load needs.
const (
	targetLaunches     = 5000
	plannedPerInstance = 500
	headroom           = 2
)

// requestsPerLaunch is what one launch brings each function of the hot
// path: DagLaunch the launch; DagStatus the executor's claim, a heartbeat
// and its end; WorkflowTrigger and AlertDispatcher the pushed SUCCESS or
// final status.
var requestsPerLaunch = map[string]int{"DagLaunch": 1, "DagStatus": 3, "WorkflowTrigger": 1, "AlertDispatcher": 1}

// checkScaling checks that function's instances and concurrency come from
// local.function_scaling, capped by var.max_instance_count, that one pass
// at a time runs for the Reaper and the Scheduler, and that the functions
// of the hot path have the instances the load needs.
func checkScaling(m *module, function string, b *hclsyntax.Block) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	refs := func(path string) []string {
		a := attr(b, path)
		if a == nil {
			return nil
		}
		var out []string
		for _, t := range a.Expr.Variables() {
			out = append(out, render(t))
		}
		return out
	}
	scaling := "local.function_scaling." + function
	if got := refs("service_config.max_instance_count"); !slices.Contains(got, scaling+".max_instances") || !slices.Contains(got, "var.max_instance_count") {
		add("%s: service_config.max_instance_count must be min(var.max_instance_count, %s.max_instances), not from %v", function, scaling, got)
	}
	if got := refs("service_config.max_instance_request_concurrency"); !slices.Equal(got, []string{scaling + ".concurrency"}) {
		add("%s: service_config.max_instance_request_concurrency must be %s.concurrency, not from %v", function, scaling, got)
	}
	v := m.values["function_scaling"]
	if v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute(function) {
		add("local.function_scaling has no entry for %s", function)
		return problems
	}
	number := func(name string) int64 {
		n, _ := v.GetAttr(function).GetAttr(name).AsBigFloat().Int64()
		return n
	}
	maxInstances, concurrency := number("max_instances"), number("concurrency")
	switch function {
	case "Reaper", "Scheduler":
		if maxInstances != 1 || concurrency != 1 {
			add("%s: %d instances × %d requests, want one pass at a time (1 × 1)", function, maxInstances, concurrency)
		}
	default:
		if need := int64(headroom * targetLaunches * requestsPerLaunch[function] / plannedPerInstance); maxInstances < need {
			add("%s: at most %d instances, want %d for %d launches/s (docs/scale.md)", function, maxInstances, need, targetLaunches)
		}
	}
	return problems
}
