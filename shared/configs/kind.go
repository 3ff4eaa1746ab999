package configs

import (
	"sort"
	"strings"
)

// Kind is the canonical name of a configuration type. Several names can mean
// the same kind: the v1 API calls table-to-table "gbq-to-gbq".
type Kind string

// The kinds of configuration.
const (
	KindTableToTable     Kind = "table-to-table"
	KindTableToStorage   Kind = "table-to-storage"
	KindStorageToStorage Kind = "storage-to-storage"
	KindStorageToTable   Kind = "storage-to-table"
	KindVMLauncher       Kind = "vm-launcher"
	KindWorkflow         Kind = "workflow"
)

// configurationTypes maps every accepted configuration_type to its kind.
var configurationTypes = map[string]Kind{
	"table-to-table":     KindTableToTable,
	"gbq-to-gbq":         KindTableToTable,
	"table-to-storage":   KindTableToStorage,
	"storage-to-storage": KindStorageToStorage,
	"storage-to-table":   KindStorageToTable,
	"vm-launcher":        KindVMLauncher,
	"workflow":           KindWorkflow,
}

// jobPrefixes are the job id prefixes that differ from the kind's name:
// table-to-table jobs keep their v1 name.
var jobPrefixes = map[Kind]string{KindTableToTable: "gbq-to-gbq"}

// KindOf returns the kind of a configuration_type.
func KindOf(configurationType string) (Kind, bool) {
	k, ok := configurationTypes[configurationType]
	return k, ok
}

// ConfigurationTypes lists the accepted configuration_type values, sorted.
func ConfigurationTypes() []string {
	names := make([]string, 0, len(configurationTypes))
	for name := range configurationTypes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// DefaultJobID is the job id of a configuration that does not name its own:
// "<prefix>|<configuration_id>", e.g. gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV.
func DefaultJobID(kind Kind, configurationID string) string {
	prefix, ok := jobPrefixes[kind]
	if !ok {
		prefix = string(kind)
	}
	return prefix + "|" + configurationID
}

// ConfigurationOfJob reads a configuration's type and id out of a job id
// of the form DefaultJobID writes ("gbq-to-gbq|000099_x_DEV" names the
// table-to-table configuration 000099_x_DEV); false for a job id of
// another form, which a configuration may set itself.
func ConfigurationOfJob(jobID string) (configurationType, configurationID string, ok bool) {
	prefix, id, found := strings.Cut(jobID, "|")
	kind, known := KindOf(prefix)
	if !found || !known || id == "" || DefaultJobID(kind, id) != jobID {
		return "", "", false
	}
	return prefix, id, true
}
