package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/runwaydata/runway/shared/executor/message"
)

// The Cloud KMS roles each function needs on the key that seals the
// callback secrets: Access seals, CallbackDispatcher and AlertDispatcher
// open (to sign callbacks and webhook alerts); nobody else.
var callbackKeyRoles = map[string]string{
	"Access":             "roles/cloudkms.cryptoKeyEncrypter",
	"CallbackDispatcher": "roles/cloudkms.cryptoKeyDecrypter",
	"AlertDispatcher":    "roles/cloudkms.cryptoKeyDecrypter",
}

// checkCallbacks checks what the callbacks need of the module: the key
// that seals their secrets, in every function's environment, granted to
// Access (encrypt), CallbackDispatcher and AlertDispatcher (decrypt) only;
// and the
// reference executor's subscription filtering on the accounts it serves.
func checkCallbacks(m *module) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// The key, in the environment.
	keyRef := refExpr(m.objectKeys("function_env")["RUNWAY_CALLBACK_KMS_KEY"])
	key, ok := strings.CutSuffix(keyRef, ".id")
	name, isKey := strings.CutPrefix(key, "google_kms_crypto_key.")
	if !ok || !isKey || m.resources("google_kms_crypto_key")[name] == nil {
		add("RUNWAY_CALLBACK_KMS_KEY must be the id of a google_kms_crypto_key of the module, not %q", keyRef)
	}

	// The functions' service accounts, by entry point.
	accounts := map[string]string{} // google_service_account.<name> → entry point
	for _, b := range m.resources("google_cloudfunctions2_function") {
		sa, _ := strings.CutSuffix(reference(attr(b, "service_config.service_account_email")), ".email")
		accounts[sa] = literal(attr(b, "build_config.entry_point"))
	}

	// The grants on the key: exactly one role to each of the two functions.
	granted := map[string]string{} // entry point → role
	for _, typ := range []string{"google_kms_crypto_key_iam_member", "google_kms_crypto_key_iam_binding", "google_kms_crypto_key_iam_policy"} {
		for rname, b := range m.resources(typ) {
			if typ != "google_kms_crypto_key_iam_member" {
				add("%s.%s: grant the callback key with google_kms_crypto_key_iam_member, to one service account each", typ, rname)
				continue
			}
			member, _ := strings.CutSuffix(reference(attr(b, "member")), ".member")
			entry, role := accounts[member], literal(attr(b, "role"))
			switch {
			case entry == "" || callbackKeyRoles[entry] == "":
				add("%s.%s grants %s on a Cloud KMS key to %q: only Access, CallbackDispatcher and AlertDispatcher may use the callback key", typ, rname, role, member)
			case role != callbackKeyRoles[entry]:
				add("%s.%s grants %s to %s, which needs %s and no more", typ, rname, role, entry, callbackKeyRoles[entry])
			case reference(attr(b, "crypto_key_id")) != key+".id":
				add("%s.%s grants %s a key other than RUNWAY_CALLBACK_KMS_KEY's", typ, rname, entry)
			default:
				if granted[entry] != "" {
					add("%s is granted the callback key twice", entry)
				}
				granted[entry] = role
			}
		}
	}
	for entry, role := range callbackKeyRoles {
		if granted[entry] == "" {
			add("%s has no %s on the callback key: it cannot %s the callback secrets", entry, role,
				map[string]string{"Access": "seal", "CallbackDispatcher": "open", "AlertDispatcher": "open"}[entry])
		}
	}
	// No Cloud KMS role elsewhere: on the project, or on the key ring.
	for _, typ := range []string{"google_project_iam_member", "google_project_iam_binding"} {
		for rname, b := range m.resources(typ) {
			for _, a := range []string{"role", "for_each"} {
				if e := attr(b, a); e != nil && strings.Contains(source(e), "roles/cloudkms.") {
					add("%s.%s grants a Cloud KMS role on the project: only the callback key's own grants are allowed", typ, rname)
				}
			}
		}
	}
	for _, typ := range []string{"google_kms_key_ring_iam_member", "google_kms_key_ring_iam_binding", "google_kms_key_ring_iam_policy"} {
		for rname := range m.resources(typ) {
			add("%s.%s grants rights on the whole key ring: only the callback key's own grants are allowed", typ, rname)
		}
	}

	// The reference executor serves the accounts it is given, never all.
	for sname, sub := range m.resources("google_pubsub_subscription") {
		if !refersTo(reference(attr(sub, "push_config.push_endpoint")), "google_cloudfunctions2_function.reference_executor") {
			continue
		}
		filter, err := evalWith(m, attr(sub, "filter"), map[string]cty.Value{
			"reference_executor_accounts": cty.ListVal([]cty.Value{cty.StringVal("000099"), cty.StringVal("000110")}),
		})
		if err != nil {
			add("subscription %s: its filter does not evaluate: %v", sname, err)
			continue
		}
		for _, want := range []string{`attributes.account = "000099"`, `attributes.account = "000110"`, `attributes.message_type = "launch"`, `attributes.message_type = "cancel"`} {
			if !strings.Contains(filter, want) {
				add("subscription %s does not filter on attributes.account and attributes.message_type: with reference_executor_accounts [000099, 000110], its filter is %q", sname, filter)
				break
			}
		}
		if !strings.Contains(source(attr(sub, "lifecycle.precondition.condition")), "var.reference_executor_accounts") {
			add("subscription %s has no precondition requiring reference_executor_accounts", sname)
		}
	}
	return problems
}

// source is the text of an expression, as written.
func source(a *hclsyntax.Attribute) string {
	if a == nil {
		return ""
	}
	r := a.Expr.Range()
	data, err := os.ReadFile(r.Filename)
	if err != nil {
		return ""
	}
	return string(data[r.Start.Byte:r.End.Byte])
}

// evalWith evaluates an expression as Terraform would, with the
// variables' defaults overridden by vars, and the locals they make.
func evalWith(m *module, a *hclsyntax.Attribute, vars map[string]cty.Value) (string, error) {
	if a == nil {
		return "", fmt.Errorf("no such attribute")
	}
	with := &module{blocks: m.blocks, locals: m.locals, vars: map[string]cty.Value{}, values: map[string]cty.Value{}}
	for k, v := range m.vars {
		with.vars[k] = v
	}
	for k, v := range vars {
		with.vars[k] = v
	}
	with.evalLocals()
	ctx := &hcl.EvalContext{
		Functions: map[string]function.Function{"concat": stdlib.ConcatFunc, "join": stdlib.JoinFunc},
		Variables: map[string]cty.Value{"local": cty.ObjectVal(with.values), "var": cty.ObjectVal(with.vars)},
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if !v.Type().Equals(cty.String) || !v.IsKnown() {
		return "", fmt.Errorf("not a string: %#v", v)
	}
	return v.AsString(), nil
}

// TestExecutorExampleFiltersOnTheAccount: the executor example serves the
// accounts it is given, and the type it runs; so does every subscription
// filter the docs show (docs/executors.md, section 8).
func TestExecutorExampleFiltersOnTheAccount(t *testing.T) {
	m, err := parseModule("examples/executor")
	if err != nil {
		t.Fatal(err)
	}
	sub := m.resources("google_pubsub_subscription")["launches"]
	if sub == nil {
		t.Fatal("no google_pubsub_subscription.launches in examples/executor")
	}
	filter, err := evalWith(m, attr(sub, "filter"), map[string]cty.Value{
		"accounts":           cty.ListVal([]cty.Value{cty.StringVal("000099")}),
		"configuration_type": cty.StringVal("table-to-table"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `(attributes.account = "000099") AND attributes.configuration_type = "table-to-table"`; filter != want {
		t.Errorf("the example's filter is %q, want %q", filter, want)
	}

	docs, err := os.ReadFile(filepath.Join("..", "docs", "executors.md"))
	if err != nil {
		t.Fatal(err)
	}
	filters := regexp.MustCompile(`(?m)^\s*filter = .*$`).FindAllString(string(docs), -1)
	if len(filters) == 0 {
		t.Fatal("docs/executors.md shows no subscription filter")
	}
	for _, f := range filters {
		if !strings.Contains(f, "attributes."+message.AttrAccount+" = ") || !strings.Contains(f, "attributes."+message.AttrConfigurationType+" = ") {
			t.Errorf("docs/executors.md shows a filter without attributes.%s and attributes.%s: %s", message.AttrAccount, message.AttrConfigurationType, f)
		}
	}
}

// TestCallbackChecksCatchMutations: each check of checkCallbacks bites on
// a copy of terraform/ with one thing changed.
func TestCallbackChecksCatchMutations(t *testing.T) {
	mutations := []mutation{
		{"the key not in the environment", "main.tf", "RUNWAY_CALLBACK_KMS_KEY     = google_kms_crypto_key.callback_secrets.id",
			`RUNWAY_CALLBACK_KMS_KEY     = "projects/p/locations/l/keyRings/r/cryptoKeys/k"`, "RUNWAY_CALLBACK_KMS_KEY must be the id"},
		{"Access may decrypt", "function_access.tf", `"roles/cloudkms.cryptoKeyEncrypter"`, `"roles/cloudkms.cryptoKeyEncrypterDecrypter"`,
			"grants roles/cloudkms.cryptoKeyEncrypterDecrypter to Access"},
		{"the dispatcher not granted", "function_callback_dispatcher.tf", `member        = google_service_account.callback_dispatcher.member`,
			`member        = google_service_account.dag_status.member`, "CallbackDispatcher has no roles/cloudkms.cryptoKeyDecrypter"},
		{"a Cloud KMS role on the project", "function_dag_status.tf", `"roles/datastore.user",`,
			"\"roles/datastore.user\",\n    \"roles/cloudkms.cryptoKeyDecrypter\",", "grants a Cloud KMS role on the project"},
		{"the reference executor serving every account", "function_reference_executor.tf", "filter = local.reference_executor_filter",
			"filter = var.reference_executor_filter", "does not filter on attributes.account"},
		{"the reference executor without its accounts", "function_reference_executor.tf", "condition     = length(var.reference_executor_accounts) > 0",
			"condition     = true", "no precondition requiring reference_executor_accounts"},
	}
	checkMutations(t, usedIndexes(t), mutations)
}
