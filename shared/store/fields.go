package store

import (
	"reflect"
	"slices"
	"strings"
)

// StoredFields lists, by collection id, the top-level fields the store
// writes: what Firestore indexes, field by field, unless terraform/
// firestore.tf exempts them. A test holds the exemptions to what no query
// uses (terraform/fields_test.go). A map field's subfields go with it.
func StoredFields() map[string][]string {
	out := map[string][]string{}
	add := func(collection string, doc any, extra ...string) {
		fields := append(tags(reflect.TypeOf(doc)), extra...)
		out[collection] = append(out[collection], fields...)
		slices.Sort(out[collection])
		out[collection] = slices.Compact(out[collection])
	}
	add("runs", runDoc{})
	// Run events and configuration events share the collection id.
	add("events", eventDoc{}, "publish_claimed_at")
	add("events", configEventDoc{})
	add("configurations", configDoc{})
	add("members", memberDoc{})
	add("slots", slotDoc{})
	add("workflow_state", workflowStateDoc{})
	add("met", metDoc{})
	add("settings", callbackSettingsDoc{})
	add("incidents", incidentDoc{})
	return out
}

// tags returns the Firestore names of a document struct's fields.
func tags(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("firestore"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}
