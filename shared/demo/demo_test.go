package demo

import (
	"testing"

	"github.com/runwaydata/runway/shared/runs"
)

func TestDemoDataIsConsistent(t *testing.T) {
	d, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]bool{}
	for _, c := range d.Configurations {
		configs[c.Account+"/"+c.ConfigurationID] = true
	}
	keys := map[string]bool{}
	for _, r := range d.Runs {
		if keys[r.Account+"/"+r.Key] {
			t.Errorf("run key %s used twice", r.Key)
		}
		keys[r.Account+"/"+r.Key] = true
		if !configs[r.Account+"/"+r.ConfigurationID] {
			t.Errorf("run %s belongs to no demo configuration", r.RunID)
		}
		if k, ok := runs.RunKey(r.RunID); !ok || k != r.Key {
			t.Errorf("run %s has key %s", r.RunID, r.Key)
		}
		if !r.Status.Valid() || r.StartExecutionDate.IsZero() || (r.Status.Final() && r.EndDate.Before(r.StartExecutionDate)) {
			t.Errorf("run %+v is not well formed", r)
		}
	}
	if got := d.Accounts(); len(got) != 2 || got[0] != "000099" || got[1] != "000110" {
		t.Errorf("Accounts = %v", got)
	}
}
