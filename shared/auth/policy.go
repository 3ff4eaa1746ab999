package auth

// Policy is the one table of who may do what: the least role each action
// needs on the account its request names. api.NewEndpoint refuses to serve
// an action missing from it, and the role-matrix test holds every endpoint
// to it.
//
// A caller who is not a member of the account gets 403 for every action,
// whether the account exists or not, so the answer reveals nothing about
// other accounts. Runs and configurations are only ever looked up within
// the request's account, so a run id of another account is a 404.
var Policy = map[string]Role{
	// /v1/dag/launch
	"launch_job": RoleExecuter,
	// /v1/dag/status
	"check_run_status":  RoleViewer,
	"get_last_status":   RoleViewer,
	"get_by_status":     RoleViewer,
	"set_run_status":    RoleExecuter,
	"report_run_status": RoleExecuter,
	"get_run_events":    RoleViewer,
	"cancel_run":        RoleExecuter,
	"set_runs_status":   RoleEditor, // many runs at once: more than one person's executions
	// /v1/workflow/status
	"reset_workflow_status": RoleEditor,
	"get_workflow_status":   RoleViewer,
	// /v1/configuration/status
	"set_configuration_status": RoleEditor,
	// /v1/configuration
	"deploy_configuration": RoleEditor,
	"get_configuration":    RoleViewer,
	"list_configurations":  RoleViewer,
	"get_schedule":         RoleViewer,
	// GET /rest/v1/executions/{flowId}: ETLWorks gives it to executers and up
	"get_flow_status": RoleExecuter,
	// /v1/access
	"list_members":  RoleAdmin,
	"add_member":    RoleAdmin,
	"remove_member": RoleAdmin,
	// /v1/access: completion callbacks
	"get_callback_settings":  RoleAdmin,
	"set_callback_settings":  RoleAdmin,
	"rotate_callback_secret": RoleAdmin,
}

// Required returns the role action needs, or RoleNone if the policy does
// not know the action.
func Required(action string) Role { return Policy[action] }
