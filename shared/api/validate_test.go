package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fieldsOf(problems []FieldError) []string {
	var fields []string
	for _, p := range problems {
		fields = append(fields, p.Field)
	}
	return fields
}

func intp(i int) *int { return &i }

func TestValidate(t *testing.T) {
	t.Parallel()
	const runID = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179"
	launch := LaunchRequest{Action: "launch_job", Account: "000099", Environment: "DEV",
		ConfigurationType: "table-to-table", ConfigurationID: "000099_iowa_liquor_prepare_pda_DEV"}
	check := CheckRunStatusRequest{Action: "check_run_status", RunIdentity: RunIdentity{Account: "000099", Environment: "DEV",
		ConfigurationType: "table-to-table", ConfigurationID: "c", RunID: runID}}
	last := GetLastStatusRequest{Action: "get_last_status", ConfigRefRequest: ConfigRefRequest{Account: "000099", Environment: "DEV",
		ConfigurationType: "storage-to-storage", ConfigurationID: "c"}}
	byStatus := GetByStatusRequest{Action: "get_by_status", Account: "000099", ConfigurationType: "table-to-table"}
	set := SetRunStatusRequest{Action: "set_run_status", RunIdentity: RunIdentity{Account: "000099", ConfigurationType: "table-to-table",
		ConfigurationID: "c", RunID: runID}, Status: "CHECKED"}

	tests := []struct {
		name string
		req  Request
		want []string // the fields at fault
	}{
		{"launch: reference example", launch, nil},
		{"launch: v1 type, job id and date", func() LaunchRequest {
			r := launch
			r.ConfigurationType, r.JobID, r.ExecutionDate = "gbq-to-gbq", "gbq-to-gbq|x", "2020-11-09"
			return r
		}(), nil},
		{"launch: everything missing", LaunchRequest{Action: "launch_job"}, []string{"account", "configuration_id", "configuration_type", "environment"}},
		{"launch: bad date, type, key", func() LaunchRequest {
			r := launch
			r.ExecutionDate, r.ConfigurationType, r.IdempotencyKey = "2020-02-30", "table-to-tables", "has space"
			return r
		}(), []string{"configuration_type", "execution_date", "idempotency_key"}},
		{"launch: path-like ids", func() LaunchRequest {
			r := launch
			r.Account, r.ConfigurationID = "../000099", "a/b"
			return r
		}(), []string{"account", "configuration_id"}},
		{"check: reference example", check, nil},
		{"check: legacy run id", func() CheckRunStatusRequest {
			r := check
			r.RunID = "20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469"
			return r
		}(), nil},
		{"check: bad run id", func() CheckRunStatusRequest { r := check; r.RunID = "20201230-1fb692b0"; return r }(), []string{"run_id"}},
		{"check: upper-case run id", func() CheckRunStatusRequest {
			r := check
			r.RunID = "20201230-112837-0A795C70-2557-4A60-BA16-788AA2BEA179"
			return r
		}(), []string{"run_id"}},
		{"check: missing run id and environment", func() CheckRunStatusRequest { r := check; r.RunID, r.Environment = "", ""; return r }(), []string{"environment", "run_id"}},
		{"last: reference example with filters", func() GetLastStatusRequest {
			r := last
			r.ExecutionDate, r.Status, r.Limit = "2020-12-09", "SUCCESS", intp(2)
			return r
		}(), nil},
		{"last: limit 0", func() GetLastStatusRequest { r := last; r.Limit = intp(0); return r }(), []string{"limit"}},
		{"last: limit over the maximum", func() GetLastStatusRequest { r := last; r.Limit = intp(MaxLimit + 1); return r }(), []string{"limit"}},
		{"last: limit at the maximum", func() GetLastStatusRequest { r := last; r.Limit = intp(MaxLimit); return r }(), nil},
		{"last: lower-case status", func() GetLastStatusRequest { r := last; r.Status = "success"; return r }(), []string{"status"}},
		{"by status: reference example", byStatus, nil},
		{"by status: every filter", func() GetByStatusRequest {
			r := byStatus
			r.Environment, r.Status, r.ExecutionDate, r.Limit = "DEV", "RUNNING", "2024-09-18", intp(15)
			return r
		}(), nil},
		{"by status: no type", func() GetByStatusRequest { r := byStatus; r.ConfigurationType = ""; return r }(), []string{"configuration_type"}},
		{"set: reference example without environment", set, nil},
		{"set: status outside the set", func() SetRunStatusRequest { r := set; r.Status = "CANCELED"; return r }(), []string{"status"}},
		{"set: no status", func() SetRunStatusRequest { r := set; r.Status = ""; return r }(), []string{"status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problems := tt.req.Validate()
			if diff := cmp.Diff(tt.want, fieldsOf(Invalid(problems).Errors)); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s\nproblems: %v", diff, problems)
			}
			for _, p := range problems {
				if p.Problem == "" {
					t.Errorf("field %s: empty problem", p.Field)
				}
			}
		})
	}
}
