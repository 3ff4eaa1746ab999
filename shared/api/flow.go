package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/runwaydata/runway/shared/configs"
)

// FlowStatusRequest is ETLWorks' "Get flow status" (GET
// {prefix}{flowId}?account=…): the status of a run of the configuration
// {flowId}, in the account and, when the id is used in several, the
// environment given. messageId selects the run launched with that
// idempotency key, auditId the run with that audit id, and neither the
// latest run.
type FlowStatusRequest struct {
	FlowID      string
	Account     string
	Environment string
	MessageID   string
	AuditID     int64

	// unknown are the query parameters the request has no use for, and
	// badAuditID the auditId when it is not a number: problems found when
	// the URL was read, reported by Validate with the others.
	unknown    []string
	badAuditID bool
}

// flowParams are the query parameters of a flow status request.
var flowParams = []string{"account", "environment", "messageId", "auditId"}

// ReadFlowStatusRequest reads a flow status request from r's URL, whose
// path is one of prefixes followed by the flow id.
func ReadFlowStatusRequest(r *http.Request, prefixes ...string) (FlowStatusRequest, *Error) {
	var req FlowStatusRequest
	for _, prefix := range prefixes {
		if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
			req.FlowID = rest // r.URL.Path is already unescaped
		}
	}
	params := r.URL.Query()
	for name := range params {
		if !slices.Contains(flowParams, name) {
			req.unknown = append(req.unknown, name)
		}
	}
	req.Account, req.Environment, req.MessageID = params.Get("account"), params.Get("environment"), params.Get("messageId")
	if id := params.Get("auditId"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		req.AuditID, req.badAuditID = n, err != nil || n <= 0 || n >= 1<<53
	}
	return req, nil
}

// Validate implements Request.
func (r FlowStatusRequest) Validate() []FieldError {
	var p problems
	if !configs.ConfigurationName.Valid(r.FlowID) {
		p.add("flowId", "must be the configuration_id of a configuration, after /rest/v1/executions/")
	}
	for _, name := range r.unknown {
		p.add(name, "unknown query parameter; accepted are %s", strings.Join(flowParams, ", "))
	}
	if !configs.AccountName.Valid(r.Account) {
		p.add("account", "is required: the account of the flow, such as ?account=000099")
	}
	p.environment(r.Environment, false)
	if r.badAuditID {
		p.add("auditId", "must be a positive whole number below 2^53")
	}
	if r.MessageID != "" && r.AuditID != 0 {
		p.add("messageId", "give messageId or auditId, not both")
	}
	return p
}

// AccountID implements Request.
func (r FlowStatusRequest) AccountID() string { return r.Account }
