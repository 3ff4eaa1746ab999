// Package configs is the configuration side of Runway's domain: deploying
// configurations from their JSON definitions as users write them,
// validating workflows (their target exists, they form no cycle, their
// reset schedule parses), and switching configurations on and off.
package configs

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/runwaydata/runway/shared/failure"
)

// maxAuthorizedJobs bounds a workflow's criteria, so that its state stays a
// small document.
const maxAuthorizedJobs = 100

// maxRetries bounds the retries of a failed run.
const maxRetries = 10

// cronParser reads schedule_interval_reset: the five standard fields, as
// crontab.guru (which the reference points to) reads them.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Parse reads a definition, as a user writes it, into the configuration to
// store for account. Every problem is reported, each naming its field as
// "configuration.<field>".
//
// A data operation's start_date, schedule_interval, catchup and
// max_active_runs are read as Tailer documents them (schedule.go).
//
// Besides the Tailer fields, a definition may set Runway's execution
// policy: "timeout" (a run without a report for this long is failed),
// "retries" (a failed run is retried this many times) and "retry_delay"
// (before the first retry, doubled for each next one).
//
// A table-to-table configuration is stored under its id with the
// environment appended, as the Tailer API references it:
// 000099_iowa_liquor_prepare_pda in DEV is 000099_iowa_liquor_prepare_pda_DEV.
func Parse(definition map[string]any) (Configuration, error) {
	p := fields{def: definition}
	cfg := Configuration{
		Account:           p.identifier("account", AccountName),
		Environment:       p.identifier("environment", EnvironmentName),
		ConfigurationType: p.str("configuration_type", true),
		ConfigurationID:   p.identifier("configuration_id", ConfigurationName),
		Activated:         p.boolean("activated", true),
		Archived:          p.boolean("archived", false),
		Definition:        definition,
	}
	kind, ok := KindOf(cfg.ConfigurationType)
	if cfg.ConfigurationType != "" && !ok {
		p.problems.Add("configuration.configuration_type", "must be one of %s", strings.Join(ConfigurationTypes(), ", "))
	}
	cfg.Kind = kind
	if kind == KindTableToTable && cfg.ConfigurationID != "" && cfg.Environment != "" {
		cfg.ConfigurationID += "_" + cfg.Environment
		// The API takes ids of at most 256 characters, suffix included.
		if len(cfg.ConfigurationID) > 256 {
			p.problems.Add("configuration.configuration_id", "must leave room for the _%s the id of a table-to-table configuration gets: at most %d characters", cfg.Environment, 255-len(cfg.Environment))
		}
	}
	if kind == KindWorkflow {
		cfg.Workflow = p.workflow(cfg.Environment)
	} else {
		cfg.Schedule = p.schedule()
	}
	_, monitoring := parseMonitoring(definition)
	p.problems = append(p.problems, monitoring...)
	cfg.Policy = Policy{
		Timeout:    p.duration("timeout", time.Second, 7*24*time.Hour),
		Retries:    p.integer("retries", 0, maxRetries),
		RetryDelay: p.duration("retry_delay", 0, 24*time.Hour),
	}
	if err := p.problems.Err(); err != nil {
		return Configuration{}, err
	}
	cfg.JobID = DefaultJobID(kind, cfg.ConfigurationID)
	return cfg, nil
}

// fields reads a definition's fields, collecting problems.
type fields struct {
	def      map[string]any
	problems failure.Invalid
}

func (p *fields) str(name string, required bool) string {
	v, present := p.def[name]
	s, ok := v.(string)
	switch {
	case !present && required:
		p.problems.Add("configuration."+name, "is required")
	case present && !ok:
		p.problems.Add("configuration."+name, "must be a string")
	case ok && s == "" && required:
		p.problems.Add("configuration."+name, "must not be empty")
	}
	return s
}

func (p *fields) identifier(name string, shape Name) string {
	s := p.str(name, true)
	if s != "" && !shape.Valid(s) {
		p.problems.Add("configuration."+name, "must be %s", shape.Shape)
	}
	return s
}

func (p *fields) boolean(name string, fallback bool) bool {
	v, present := p.def[name]
	if !present {
		return fallback
	}
	b, ok := v.(bool)
	if !ok {
		p.problems.Add("configuration."+name, "must be true or false")
	}
	return b
}

// duration reads an optional duration, written "30m" (Go's form) or as a
// number of seconds; absent is 0.
func (p *fields) duration(name string, least, most time.Duration) time.Duration {
	v, present := p.def[name]
	if !present {
		return 0
	}
	var d time.Duration
	ok := true
	switch v := v.(type) {
	case string:
		var err error
		d, err = time.ParseDuration(v)
		ok = err == nil
	case float64:
		d, ok = time.Duration(v*float64(time.Second)), v == math.Trunc(v)
	default:
		ok = false
	}
	if !ok || d < least || d > most {
		p.problems.Add("configuration."+name, "must be a duration from %v to %v, written like \"30m\" or as a number of seconds", least, most)
	}
	return d
}

// integer reads an optional whole number; absent is 0.
func (p *fields) integer(name string, least, most int) int {
	v, present := p.def[name]
	if !present {
		return 0
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < float64(least) || f > float64(most) {
		p.problems.Add("configuration."+name, "must be a whole number from %d to %d", least, most)
		return 0
	}
	return int(f)
}

// workflow reads the fields of a workflow configuration, as
// docs/workflows.md describes them.
func (p *fields) workflow(environment string) *WorkflowSpec {
	spec := &WorkflowSpec{}
	if v := p.str("version", true); v != "" && v != "2" {
		p.problems.Add("configuration.version", `must be "2": only version 2 workflows are supported`)
	}
	p.str("gcp_project_id", true)

	list, ok := p.def["authorized_job_ids"].([]any)
	switch {
	case p.def["authorized_job_ids"] == nil:
		p.problems.Add("configuration.authorized_job_ids", "is required: the job ids that must all succeed")
	case !ok:
		p.problems.Add("configuration.authorized_job_ids", "must be an array of job ids")
	case len(list) == 0:
		p.problems.Add("configuration.authorized_job_ids", "must name at least one job id")
	case len(list) > maxAuthorizedJobs:
		p.problems.Add("configuration.authorized_job_ids", "must name at most %d job ids", maxAuthorizedJobs)
	}
	seen := map[string]bool{}
	for i, item := range list {
		id, ok := item.(string)
		field := fmt.Sprintf("configuration.authorized_job_ids[%d]", i)
		switch {
		case !ok || id == "":
			p.problems.Add(field, "must be a job id such as gbq-to-gbq|000099_assert_of_configuration_DEV")
		case len(id) > 512:
			p.problems.Add(field, "must be at most 512 characters")
		case seen[id]:
			p.problems.Add(field, "%s is listed twice", id)
		default:
			seen[id] = true
			spec.AuthorizedJobIDs = append(spec.AuthorizedJobIDs, id)
		}
	}

	target, ok := p.def["target_dag"].(map[string]any)
	if !ok {
		p.problems.Add("configuration.target_dag", "is required: an object with the configuration_type and configuration_id to launch")
	} else {
		targetType, _ := target["configuration_type"].(string)
		targetID, _ := target["configuration_id"].(string)
		kind, known := KindOf(targetType)
		switch {
		case !known || kind == KindWorkflow:
			p.problems.Add("configuration.target_dag.configuration_type", "must be the type of a data operation: storage-to-storage, storage-to-table, table-to-table, table-to-storage or vm-launcher")
		case !ConfigurationName.Valid(targetID):
			p.problems.Add("configuration.target_dag.configuration_id", "must be the configuration id of the job to launch, such as Load_Configuration_DEV")
		}
		for name := range target {
			if name != "configuration_type" && name != "configuration_id" {
				p.problems.Add("configuration.target_dag."+name, "unknown field; target_dag has configuration_type and configuration_id")
			}
		}
		spec.Target = ConfigRef{Environment: environment, Kind: kind, ConfigurationID: targetID}
		spec.TargetType = targetType
	}

	if cronSpec := p.str("schedule_interval_reset", false); cronSpec != "" {
		if _, err := cronParser.Parse(cronSpec); err != nil {
			p.problems.Add("configuration.schedule_interval_reset", "must be a cron expression of five fields, such as \"59 23 * * *\": %v", err)
		}
		spec.ResetSchedule = cronSpec
	}
	return spec
}

// ResetSchedule parses a workflow's reset schedule; ok is false when it has none.
func ResetSchedule(spec *WorkflowSpec) (cron.Schedule, bool) {
	if spec == nil || spec.ResetSchedule == "" {
		return nil, false
	}
	s, err := cronParser.Parse(spec.ResetSchedule)
	return s, err == nil
}
