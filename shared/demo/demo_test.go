package demo

import (
	"testing"

	"github.com/runwaydata/runway/shared/configs"
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

// TestDemoHasAMonitoredConfiguration: the demo's 000001_append_some_data
// has the reference's monitoring block, so that a FAILED run of it on the
// local stack sends a mail.
func TestDemoHasAMonitoredConfiguration(t *testing.T) {
	d, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range d.Definitions {
		if def["configuration_id"] != "000001_append_some_data" {
			continue
		}
		m, err := configs.ParseMonitoring(def)
		if err != nil || m == nil || !m.Due("DEV", runs.StatusFailed) || len(m.Alerts) != 1 || m.Alerts[0].Email == nil ||
			len(m.Alerts[0].Email.To) != 2 {
			t.Fatalf("its monitoring block: %+v, %v", m, err)
		}
		return
	}
	t.Fatal("no 000001_append_some_data in the demo")
}
