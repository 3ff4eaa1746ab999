// Package terraform_test checks the Terraform of terraform/ against the
// code, since terraform validate and plan cannot run where the providers
// cannot be downloaded: the functions and their entry points, their
// environment, the topics and subscriptions, the load balancer's routes,
// the schedule, ingress, and the Firestore indexes the code's queries use.
package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// module is a parsed Terraform module.
type module struct {
	blocks []*hclsyntax.Block
	locals map[string]*hclsyntax.Attribute
	vars   map[string]cty.Value // variable defaults
	values map[string]cty.Value // the locals that evaluate without resources
}

func parseModule(dir string) (*module, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	parser := hclparse.NewParser()
	m := &module{locals: map[string]*hclsyntax.Attribute{}, vars: map[string]cty.Value{}, values: map[string]cty.Value{}}
	for _, file := range files {
		f, diags := parser.ParseHCLFile(file)
		if diags.HasErrors() {
			return nil, diags
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			m.blocks = append(m.blocks, b)
			switch b.Type {
			case "locals":
				for name, attr := range b.Body.Attributes {
					m.locals[name] = attr
				}
			case "variable":
				if d, ok := b.Body.Attributes["default"]; ok {
					if v, diags := d.Expr.Value(nil); !diags.HasErrors() {
						m.vars[b.Labels[0]] = v
					}
				} else if t, ok := b.Body.Attributes["type"]; ok && hcl.ExprAsKeyword(t.Expr) == "string" {
					// A required string: a placeholder naming it, so that
					// the locals built from it evaluate.
					m.vars[b.Labels[0]] = cty.StringVal(requiredPlaceholder(b.Labels[0]))
				}
			}
		}
	}
	m.evalLocals()
	return m, nil
}

// requiredPlaceholder is the value a required string variable (one
// without a default, such as project) has in the checks.
func requiredPlaceholder(name string) string { return "VAR-" + name }

// evalContext evaluates expressions over the variables and the locals
// evaluated so far, with Terraform's collection functions.
func (m *module) evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"concat": stdlib.ConcatFunc, "join": stdlib.JoinFunc, "distinct": stdlib.DistinctFunc,
			"coalesce": stdlib.CoalesceFunc, "merge": stdlib.MergeFunc,
		},
		Variables: map[string]cty.Value{"local": cty.ObjectVal(m.values), "var": cty.ObjectVal(m.vars)},
	}
}

// evalString evaluates e to a string, if it depends only on variables and
// such locals.
func (m *module) evalString(e hclsyntax.Expression) (string, bool) {
	if e == nil {
		return "", false
	}
	v, diags := e.Value(m.evalContext())
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
		return "", false
	}
	return v.AsString(), true
}

// evalLocals evaluates the locals that depend only on variables, other such
// locals and Terraform's collection functions.
func (m *module) evalLocals() {
	for progress := true; progress; {
		progress = false
		ctx := m.evalContext()
		for name, attr := range m.locals {
			if _, done := m.values[name]; done {
				continue
			}
			if v, diags := attr.Expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				m.values[name] = v
				progress = true
			}
		}
	}
}

// resources returns the resource blocks of a type, by name.
func (m *module) resources(typ string) map[string]*hclsyntax.Block {
	out := map[string]*hclsyntax.Block{}
	for _, b := range m.blocks {
		if b.Type == "resource" && b.Labels[0] == typ {
			out[b.Labels[1]] = b
		}
	}
	return out
}

// attr finds the attribute at a path of nested blocks, "a.b.c".
func attr(b *hclsyntax.Block, path string) *hclsyntax.Attribute {
	parts := strings.Split(path, ".")
	body := b.Body
	for _, p := range parts[:len(parts)-1] {
		var next *hclsyntax.Body
		for _, child := range body.Blocks {
			if child.Type == p {
				next = child.Body
				break
			}
		}
		if next == nil {
			return nil
		}
		body = next
	}
	return body.Attributes[parts[len(parts)-1]]
}

// literal returns an attribute's string value, if it is a literal.
func literal(a *hclsyntax.Attribute) string {
	if a == nil {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// reference renders the first traversal an expression holds, such as
// "google_cloudfunctions2_function.dag_launch.service_config[0].uri" or
// "google_pubsub_topic.runway[\"launch\"].id".
func reference(a *hclsyntax.Attribute) string {
	if a == nil {
		return ""
	}
	vars := a.Expr.Variables()
	if len(vars) == 0 {
		return ""
	}
	return render(vars[0])
}

func render(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().String())
			}
		}
	}
	return b.String()
}

// objectKeys returns the keys of an object-valued local, and the
// expression of each value.
func (m *module) objectKeys(local string) map[string]hclsyntax.Expression {
	a := m.locals[local]
	if a == nil {
		return nil
	}
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	out := map[string]hclsyntax.Expression{}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() {
			// A bare identifier key: its name.
			if kw, ok := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok {
				if name := hcl.ExprAsKeyword(kw.Wrapped); name != "" {
					out[name] = item.ValueExpr
				}
			}
			continue
		}
		out[k.AsString()] = item.ValueExpr
	}
	return out
}

// field returns the expression of a field of an object constructor.
func field(expr hclsyntax.Expression, name string) hclsyntax.Expression {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for _, item := range obj.Items {
		if kw, ok := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok && hcl.ExprAsKeyword(kw.Wrapped) == name {
			return item.ValueExpr
		}
	}
	return nil
}

func strings_(v cty.Value) []string {
	var out []string
	if v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

// indexKey writes an index as "<scope> <collection>: <equality fields,
// sorted>; <last field> <order>": the order of equality fields within an
// index makes no difference to the queries it serves.
func indexKey(scope, collection string, fields [][2]string) string {
	var eq []string
	for _, f := range fields[:len(fields)-1] {
		eq = append(eq, f[0]+" "+f[1])
	}
	sort.Strings(eq)
	last := fields[len(fields)-1]
	return fmt.Sprintf("%s %s: %s; %s %s", scope, collection, strings.Join(eq, ", "), last[0], last[1])
}

// declaredIndexes evaluates local.firestore_indexes.
func (m *module) declaredIndexes() ([]string, error) {
	v, ok := m.values["firestore_indexes"]
	if !ok {
		return nil, fmt.Errorf("local.firestore_indexes does not evaluate")
	}
	var keys []string
	for it := v.ElementIterator(); it.Next(); {
		_, index := it.Element()
		var fields [][2]string
		for fit := index.GetAttr("fields").ElementIterator(); fit.Next(); {
			_, f := fit.Element()
			pair := strings_(f)
			if len(pair) != 2 {
				return nil, fmt.Errorf("index field %#v is not [path, order]", f)
			}
			fields = append(fields, [2]string{pair[0], pair[1]})
		}
		keys = append(keys, indexKey(index.GetAttr("scope").AsString(), index.GetAttr("collection").AsString(), fields))
	}
	sort.Strings(keys)
	return keys, nil
}

// goRuntime is the Cloud Functions runtime of the go directive of go.mod.
func goRuntime(goMod string) (string, error) {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			parts := strings.Split(strings.TrimSpace(v), ".")
			if len(parts) >= 2 {
				return "go" + parts[0] + parts[1], nil
			}
		}
	}
	return "", fmt.Errorf("no go directive in %s", goMod)
}
