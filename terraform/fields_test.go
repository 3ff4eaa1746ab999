package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/runwaydata/runway/shared/store"
)

// TestIndexedFieldsAreTheQueriedOnes: a field the store writes keeps its
// single-field indexes if a query of shared/store filters or orders on it,
// and is exempted in terraform/firestore.tf (local.unindexed_fields) if
// none does; the TTL field is exempted too. A queried field may go without
// single-field indexes (local.composite_only_fields) when composite
// indexes serve its queries: it must then follow another field in one. A field indexed but used by no
// query costs index writes (and, for a time, a hot spot) for nothing; a
// field queried but exempted fails its queries.
//
// The queried fields are those the store's code names in Where and
// OrderBy: a field name queried in one collection keeps its indexes in
// every collection that has it, which errs on the side of an index.
func TestIndexedFieldsAreTheQueriedOnes(t *testing.T) {
	m, err := parseModule(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkFields(m, store.StoredFields(), queriedFields(t, "../shared/store")) {
		t.Error(p)
	}
}

// queriedFields returns the field names the Go files of dir filter or
// order on.
func queriedFields(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	pattern := regexp.MustCompile(`\.\s*(?:Where|OrderBy)\("([A-Za-z_][A-Za-z0-9_]*)"`)
	queried := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pattern.FindAllSubmatch(src, -1) {
			queried[string(m[1])] = true
		}
	}
	if len(queried) < 10 {
		t.Fatalf("found only %d queried fields in %s: %v", len(queried), dir, queried)
	}
	return queried
}

// checkFields compares what m exempts from indexing with what the store
// stores and queries.
func checkFields(m *module, stored map[string][]string, queried map[string]bool) []string {
	var problems []string
	exempt := map[string]map[string]bool{}
	if v := m.values["unindexed_fields"]; !v.IsNull() && v.CanIterateElements() {
		for it := v.ElementIterator(); it.Next(); {
			k, fields := it.Element()
			exempt[k.AsString()] = map[string]bool{}
			for _, f := range strings_(fields) {
				exempt[k.AsString()][f] = true
			}
		}
	} else {
		return []string{"local.unindexed_fields is missing or not a map"}
	}
	compositeOnly := map[string]map[string]bool{}
	if v := m.values["composite_only_fields"]; !v.IsNull() && v.CanIterateElements() {
		for it := v.ElementIterator(); it.Next(); {
			k, fields := it.Element()
			compositeOnly[k.AsString()] = map[string]bool{}
			for _, f := range strings_(fields) {
				compositeOnly[k.AsString()][f] = true
			}
		}
	}
	// collection.field → whether it follows another field in a composite
	// index, whether it comes first in one.
	followsAnother, first := map[string]bool{}, map[string]bool{}
	if idx, err := m.indexes(); err == nil {
		for _, ci := range idx.composite {
			first[ci.collection+"."+ci.fields[0]] = true
			for _, f := range ci.fields[1:] {
				followsAnother[ci.collection+"."+f] = true
			}
		}
	} else {
		problems = append(problems, err.Error())
	}
	for collection, fields := range compositeOnly {
		for f := range fields {
			switch {
			case !queried[f]:
				problems = append(problems, fmt.Sprintf("local.composite_only_fields lists %s.%s, which no query uses: exempt it in local.unindexed_fields", collection, f))
			case !followsAnother[collection+"."+f] || first[collection+"."+f]:
				problems = append(problems, fmt.Sprintf("local.composite_only_fields lists %s.%s, which comes first in a composite index, or follows no other field in one: its queries need its single-field index", collection, f))
			case exempt[collection][f]:
				problems = append(problems, fmt.Sprintf("%s.%s is in local.composite_only_fields and local.unindexed_fields", collection, f))
			case !slices.Contains(stored[collection], f):
				problems = append(problems, fmt.Sprintf("local.composite_only_fields lists %s.%s, which the store does not write", collection, f))
			}
		}
	}
	ttl := map[string]bool{}
	for _, c := range strings_(m.values["ttl_collections"]) {
		ttl[c] = true
	}
	for collection, fields := range stored {
		for _, f := range fields {
			switch {
			case f == "expire_at":
				if !ttl[collection] {
					problems = append(problems, fmt.Sprintf("%s stores expire_at, which no TTL policy (local.ttl_collections) deletes it by", collection))
				}
			case queried[f] && exempt[collection][f]:
				problems = append(problems, fmt.Sprintf("%s.%s is queried but exempted from indexing (local.unindexed_fields)", collection, f))
			case !queried[f] && !exempt[collection][f]:
				problems = append(problems, fmt.Sprintf("%s.%s is indexed but used by no query: exempt it in local.unindexed_fields", collection, f))
			}
		}
	}
	for collection, fields := range exempt {
		for f := range fields {
			if !slices.Contains(stored[collection], f) {
				problems = append(problems, fmt.Sprintf("local.unindexed_fields exempts %s.%s, which the store does not write", collection, f))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// TestFieldChecksCatchMutations: the field check notices an exemption
// lost, a queried field exempted, and a TTL policy lost.
func TestFieldChecksCatchMutations(t *testing.T) {
	queried := queriedFields(t, "../shared/store")
	for _, m := range []struct{ name, from, to, want string }{
		{"an exemption lost", `"metrics", "parameters",`, `"parameters",`, "runs.metrics is indexed but used by no query"},
		{"a queried field exempted", `"archived", "catchup",`, `"archived", "kind", "catchup",`, "configurations.kind is queried but exempted"},
		{"a TTL policy lost", `ttl_collections = ["runs", "events", "met"]`, `ttl_collections = ["runs", "met"]`, "events stores expire_at"},
		{"an exemption of nothing", `"slot", "started_by",`, `"slot", "sleep", "started_by",`, "exempts runs.sleep, which the store does not write"},
	} {
		t.Run(m.name, func(t *testing.T) {
			dir := copyModule(t)
			path := filepath.Join(dir, "firestore.tf")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), m.from) {
				t.Fatalf("firestore.tf has no %q to mutate", m.from)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(data), m.from, m.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			mod, err := parseModule(dir)
			if err != nil {
				t.Fatal(err)
			}
			problems := checkFields(mod, store.StoredFields(), queried)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, m.want) }) {
				t.Errorf("the check did not notice; it said %q", problems)
			}
		})
	}
}
