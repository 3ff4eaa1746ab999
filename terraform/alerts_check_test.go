package terraform_test

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/runwaydata/runway/shared/config"
	"github.com/runwaydata/runway/shared/configs"
)

// checkAlerts checks what the AlertDispatcher needs of the module: the SMTP
// relay's URL, a secret, set from a Secret Manager secret of the module on
// AlertDispatcher only, never in the environment every function shares,
// and readable by its service account only; and a subscription that pushes
// it the statuses a monitoring block acts on, and no others.
func checkAlerts(m *module) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	env := m.objectKeys("function_env")
	for name := range config.SecretVariables {
		if _, ok := env[name]; ok {
			add("local.function_env sets %s, a secret: set it from Secret Manager (secret_environment_variables) on the functions that read it", name)
		}
	}

	// The functions' service accounts, and the secrets each reads.
	accounts := map[string]string{} // google_service_account.<name> → entry point
	smtpSecret := ""                // google_secret_manager_secret.<name>
	for name, b := range m.resources("google_cloudfunctions2_function") {
		entry := literal(attr(b, "build_config.entry_point"))
		sa, _ := strings.CutSuffix(reference(attr(b, "service_config.service_account_email")), ".email")
		accounts[sa] = entry
		for _, s := range blocks(b, "service_config", "secret_environment_variables") {
			key := literal(s.Body.Attributes["key"])
			secret, isID := strings.CutSuffix(reference(s.Body.Attributes["secret"]), ".secret_id")
			switch {
			case key != "RUNWAY_SMTP_URL":
				add("google_cloudfunctions2_function.%s reads the secret %q, which the code does not", name, key)
			case entry != "AlertDispatcher":
				add("%s reads RUNWAY_SMTP_URL: only AlertDispatcher sends mail", entry)
			case !isID || !strings.HasPrefix(secret, "google_secret_manager_secret.") ||
				m.resources("google_secret_manager_secret")[strings.TrimPrefix(secret, "google_secret_manager_secret.")] == nil:
				add("AlertDispatcher's RUNWAY_SMTP_URL must be the secret_id of a google_secret_manager_secret of the module")
			case literal(s.Body.Attributes["version"]) == "":
				add("AlertDispatcher's RUNWAY_SMTP_URL names no version of its secret")
			default:
				smtpSecret = secret
			}
		}
	}
	if smtpSecret == "" {
		add("AlertDispatcher does not read RUNWAY_SMTP_URL from Secret Manager (secret_environment_variables)")
	}

	// Who may read the secret: AlertDispatcher, and nobody else.
	readers := 0
	for _, typ := range []string{"google_secret_manager_secret_iam_member", "google_secret_manager_secret_iam_binding", "google_secret_manager_secret_iam_policy"} {
		for rname, b := range m.resources(typ) {
			member, _ := strings.CutSuffix(reference(attr(b, "member")), ".member")
			switch {
			case typ != "google_secret_manager_secret_iam_member":
				add("%s.%s: grant the secrets with google_secret_manager_secret_iam_member, to one service account each", typ, rname)
			case accounts[member] != "AlertDispatcher":
				add("%s.%s grants a secret to %q: only AlertDispatcher reads the SMTP relay's URL", typ, rname, member)
			case literal(attr(b, "role")) != "roles/secretmanager.secretAccessor" || reference(attr(b, "secret_id")) != smtpSecret+".id":
				add("%s.%s must grant roles/secretmanager.secretAccessor on the SMTP secret, and no more", typ, rname)
			default:
				readers++
			}
		}
	}
	if readers == 0 {
		add("AlertDispatcher is not granted roles/secretmanager.secretAccessor on the SMTP secret: it cannot start")
	}
	for _, typ := range []string{"google_project_iam_member", "google_project_iam_binding"} {
		for rname, b := range m.resources(typ) {
			for _, a := range []string{"role", "for_each"} {
				if e := attr(b, a); e != nil && strings.Contains(source(e), "roles/secretmanager.") {
					add("%s.%s grants a Secret Manager role on the project: only the SMTP secret's own grant is allowed", typ, rname)
				}
			}
		}
	}

	// The subscription: the statuses a monitoring block acts on, exactly.
	var want []string
	for _, s := range configs.AlertStatuses {
		want = append(want, string(s))
	}
	sort.Strings(want)
	for sname, sub := range m.resources("google_pubsub_subscription") {
		if !refersTo(reference(attr(sub, "push_config.push_endpoint")), "google_cloudfunctions2_function.alert_dispatcher") {
			continue
		}
		filter, err := evalWith(m, attr(sub, "filter"), nil)
		if err != nil {
			add("subscription %s pushes AlertDispatcher every run event: filter it on attributes.status (%v)", sname, err)
			continue
		}
		var got []string
		for _, term := range strings.Split(filter, " OR ") {
			if s := statusTerm.FindStringSubmatch(strings.TrimSpace(term)); s != nil {
				got = append(got, s[1])
			} else {
				got = nil
				break
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			add("subscription %s filters %q: want attributes.status = each of %v, joined by OR", sname, filter, want)
		}
	}
	return problems
}

var statusTerm = regexp.MustCompile(`^attributes\.status = "([A-Z_]+)"$`)

// blocks returns the blocks of a type nested in b's child block named in.
func blocks(b *hclsyntax.Block, in, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, child := range b.Body.Blocks {
		if child.Type != in {
			continue
		}
		for _, grandchild := range child.Body.Blocks {
			if grandchild.Type == typ {
				out = append(out, grandchild)
			}
		}
	}
	return out
}

// TestAlertChecksCatchMutations: each check of checkAlerts bites on a copy
// of terraform/ with one thing changed.
func TestAlertChecksCatchMutations(t *testing.T) {
	const fn = "function_alert_dispatcher.tf"
	mutations := []mutation{
		{"the SMTP URL in the shared environment", "main.tf", "RUNWAY_BOARD_URL            = \"${local.api_url}/board\"",
			"RUNWAY_BOARD_URL            = \"${local.api_url}/board\"\n    RUNWAY_SMTP_URL             = \"smtps://u:p@smtp.example.com?from=a@example.com\"",
			"local.function_env sets RUNWAY_SMTP_URL, a secret"},
		{"the SMTP URL not from a secret", fn, "secret     = google_secret_manager_secret.smtp_url.secret_id",
			`secret     = "runway-smtp-url"`, "must be the secret_id of a google_secret_manager_secret"},
		{"no SMTP URL", fn, `key        = "RUNWAY_SMTP_URL"`, `key        = "RUNWAY_SMTP_PASSWORD"`,
			"AlertDispatcher does not read RUNWAY_SMTP_URL from Secret Manager"},
		{"another function reads the secret", "function_dag_status.tf", "ingress_settings", "secret_environment_variables {\n" +
			"      key     = \"RUNWAY_SMTP_URL\"\n      secret  = google_secret_manager_secret.smtp_url.secret_id\n      version = \"latest\"\n    }\n    ingress_settings",
			"DagStatus reads RUNWAY_SMTP_URL"},
		{"the secret granted to another function", fn, "member    = google_service_account.alert_dispatcher.member\n}\n\nresource \"google_cloudfunctions2_function\"",
			"member    = google_service_account.dag_status.member\n}\n\nresource \"google_cloudfunctions2_function\"", "only AlertDispatcher reads the SMTP relay's URL"},
		{"a Secret Manager role on the project", fn, `"roles/datastore.user",`, "\"roles/datastore.user\",\n    \"roles/secretmanager.secretAccessor\",",
			"grants a Secret Manager role on the project"},
		{"every run event pushed", fn, `filter = "attributes.status = \"FAILED\" OR `, `filter = "NOT attributes.status = \"RUNNING\" OR `,
			"want attributes.status = each of"},
		{"a status missing", fn, ` OR attributes.status = \"SUCCESS\"`, "", "want attributes.status = each of"},
	}
	checkMutations(t, usedIndexes(t), mutations)
}
