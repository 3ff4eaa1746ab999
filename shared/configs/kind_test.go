package configs

import "testing"

func TestConfigurationOfJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		jobID, configurationType, configurationID string
		ok                                        bool
	}{
		{"gbq-to-gbq|000099_iowa_liquor_JA_DEV", "gbq-to-gbq", "000099_iowa_liquor_JA_DEV", true},
		{"storage-to-storage|copy", "storage-to-storage", "copy", true},
		{"table-to-table|x", "", "", false}, // table-to-table jobs keep their v1 name
		{"my-own-job-id", "", "", false},
		{"unknown|x", "", "", false},
		{"workflow|", "", "", false},
	}
	for _, tc := range tests {
		typ, id, ok := ConfigurationOfJob(tc.jobID)
		if typ != tc.configurationType || id != tc.configurationID || ok != tc.ok {
			t.Errorf("ConfigurationOfJob(%q) = %q, %q, %v", tc.jobID, typ, id, ok)
		}
		if ok {
			if kind, _ := KindOf(typ); DefaultJobID(kind, id) != tc.jobID {
				t.Errorf("%q does not round-trip", tc.jobID)
			}
		}
	}
}
