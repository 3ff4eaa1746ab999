package configs

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/runwaydata/runway/shared/failure"
)

// FuzzParse reads arbitrary JSON objects as definitions: nothing panics,
// and a definition is either parsed, with its identity complete, or
// refused with field problems.
func FuzzParse(f *testing.F) {
	f.Add(workflowDef)
	f.Add(`{"configuration_type": "table-to-table", "configuration_id": "x", "account": "000099", "environment": "DEV", "timeout": 30, "retries": 3}`)
	f.Add(`{"configuration_type": "workflow", "authorized_job_ids": [1, null, "a"], "target_dag": []}`)
	f.Fuzz(func(t *testing.T, s string) {
		var def map[string]any
		if json.Unmarshal([]byte(s), &def) != nil {
			return
		}
		cfg, err := Parse(def)
		var invalid failure.Invalid
		switch {
		case err == nil:
			if cfg.Account == "" || cfg.Environment == "" || cfg.ConfigurationID == "" || cfg.Kind == "" || cfg.JobID == "" {
				t.Fatalf("%s parsed without its identity: %+v", s, cfg)
			}
			if cfg.Kind == KindWorkflow && (cfg.Workflow == nil || len(cfg.Workflow.AuthorizedJobIDs) == 0) {
				t.Fatalf("%s parsed as a workflow without criteria", s)
			}
		case !errors.As(err, &invalid) || len(invalid) == 0:
			t.Fatalf("%s: %v is not a list of field problems", s, err)
		}
	})
}
