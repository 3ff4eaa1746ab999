package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// Limits of get_last_status and get_by_status.
const (
	DefaultLimit = 10
	MaxLimit     = 1000
)

// problems collects field problems while a request is validated.
type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// printable checks an optional free text a person writes (a reason, a
// note): at most 1000 bytes, no control characters.
func (p *problems) printable(field, value string) {
	if len(value) > 1000 || strings.ContainsFunc(value, unicode.IsControl) {
		p.add(field, "must be at most 1000 printable characters")
	}
}

// match checks a required identifier against its pattern.
func (p *problems) match(field, value string, name configs.Name) {
	switch {
	case value == "":
		p.add(field, "is required")
	case !name.Valid(value):
		p.add(field, "must be %s", name.Shape)
	}
}

func (p *problems) account(value string) {
	p.match("account", value, configs.AccountName)
}

func (p *problems) environment(value string, required bool) {
	if value != "" || required {
		p.match("environment", value, configs.EnvironmentName)
	}
}

func (p *problems) configurationType(value string) {
	switch {
	case value == "":
		p.add("configuration_type", "is required")
	default:
		if _, ok := configs.KindOf(value); !ok {
			p.add("configuration_type", "must be one of %s", strings.Join(configs.ConfigurationTypes(), ", "))
		}
	}
}

func (p *problems) configurationID(value string) {
	p.match("configuration_id", value, configs.ConfigurationName)
}

func (p *problems) jobID(value string) {
	if value == "" {
		return
	}
	if len(value) > 512 || strings.ContainsFunc(value, unicode.IsControl) {
		p.add("job_id", "must be at most 512 printable characters")
	}
}

func (p *problems) runID(value string) {
	if value == "" {
		p.add("run_id", "is required")
	} else if err := runs.ValidateRunID(value); err != nil {
		p.add("run_id", "%v", err)
	}
}

func (p *problems) status(value string, required bool) {
	p.oneOf("status", value, required)
}

// oneOf checks that field holds a run status.
func (p *problems) oneOf(field, value string, required bool) {
	switch {
	case value == "" && required:
		p.add(field, "is required")
	case value != "" && !runs.Status(value).Valid():
		p.add(field, "must be one of SUCCESS, FAILED, RUNNING, NO_MATCH, CHECKED")
	}
}

func (p *problems) executionDate(value string) {
	if value != "" && !validDate(value) {
		p.add("execution_date", "must be a date written YYYY-MM-DD, such as 2020-12-09")
	}
}

func (p *problems) limit(value *int) {
	if value != nil && (*value < 1 || *value > MaxLimit) {
		p.add("limit", "must be between 1 and %d", MaxLimit)
	}
}

func (p *problems) idempotencyKey(value string) {
	if value == "" {
		return
	}
	if len(value) > 255 || strings.ContainsFunc(value, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		p.add("idempotency_key", "must be 1 to 255 printable ASCII characters without spaces")
	}
}

// limitOr returns the requested limit or the default.
func limitOr(value *int) int {
	if value == nil {
		return DefaultLimit
	}
	return *value
}

func (p *problems) parameters(value json.RawMessage) {
	switch {
	case isNull(value):
	case bytes.TrimSpace(value)[0] != '{':
		p.add("parameters", "must be a JSON object")
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, value); err != nil || buf.Len() > MaxParametersBytes {
			p.add("parameters", "must be a JSON object of at most %d bytes, written compactly", MaxParametersBytes)
		}
	}
}

// isNull reports whether an optional JSON value is absent or null.
func isNull(value json.RawMessage) bool {
	v := bytes.TrimSpace(value)
	return len(v) == 0 || string(v) == "null"
}
