package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes, documented in docs/cli.md and `runway --help`.
const (
	exitOK          = 0   // the command worked; a waited run ended without failing
	exitFailed      = 1   // a waited run ended FAILED
	exitUsage       = 2   // bad usage or input: flags, files, or the API's 400, 404, 409, 413, 415
	exitTimedOut    = 3   // --wait's --timeout passed while the run was still RUNNING
	exitAuth        = 4   // no credentials, or the API's 401 or 403
	exitUnavailable = 5   // the API is unreachable, or answered 429 or 5xx
	exitInterrupted = 130 // Ctrl-C during a wait, as shells report SIGINT
)

const exitCodesHelp = `Exit codes:
  0  success (for launch --wait: the run ended SUCCESS, NO_MATCH or CHECKED)
  1  launch --wait: the run ended FAILED (its error is printed)
  2  usage or input error: bad flags or files, or the API answered 400, 404, 409, 413 or 415
  3  launch --wait: --timeout passed while the run was still RUNNING
  4  authentication or permission: no credentials, or the API answered 401 or 403
  5  the API is unavailable: no connection, or it answered 429 or 5xx
  130  launch --wait: interrupted (Ctrl-C); the run goes on`

// app is one invocation of the CLI: its streams, environment and clock,
// and the settings its flags, environment and profile resolve to.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	http           *http.Client

	flags globalFlags
	prof  *profile // the current profile, read on first use
	api   *client  // made on first use, from the resolved settings
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	profile, apiURL, account, environment, token string
	json                                         bool
	// environmentSet is whether --env was given, "" included.
	environmentSet bool
}

// exitError carries the exit code of an error that is not the API's.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// run executes the command line args and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(a.stderr, "runway: "+describe(err))
	return exitCode(err)
}

// exitCode maps an error to the exit code it stands for.
func exitCode(err error) int {
	var ee *exitError
	var ae *apiError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ae):
		switch {
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			return exitAuth
		case ae.Status == http.StatusTooManyRequests || ae.Status >= 500:
			return exitUnavailable
		default:
			return exitUsage
		}
	case errors.Is(err, errUnavailable):
		return exitUnavailable
	default:
		return exitUsage // cobra's errors: unknown commands and flags, wrong arguments
	}
}

// describe writes an error for a person: the API's message, then the field
// problems it does not already name.
func describe(err error) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(ae.Message)
	if ae.CurrentStatus != "" && !strings.Contains(ae.Message, ae.CurrentStatus) {
		fmt.Fprintf(&b, " (the run is %s)", ae.CurrentStatus)
	}
	for _, fe := range ae.Errors {
		if line := fe.Field + ": " + fe.Problem; !strings.Contains(ae.Message, line) {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "runway",
		Short: "Launch jobs, follow their runs and deploy configurations on Runway",
		Long: `runway drives a Runway API (the Tailer Platform API): launch jobs and wait for
them, list runs, fix their statuses, deploy configurations, make tokens.

Settings come from flags, then RUNWAY_* environment variables, then the
profile (runway config set ...): the API URL (RUNWAY_API_URL), the account
(RUNWAY_ACCOUNT), the environment (RUNWAY_ENVIRONMENT), the profile itself
(RUNWAY_PROFILE), and a token (RUNWAY_TOKEN, or TAILER_API_JWT as the
reference's examples name it) that replaces the profile's login.

` + exitCodesHelp,
		Example: `  runway login --dev dev@runway.local
  runway config set account 000099
  runway launch 000099_iowa_liquor_prepare_pda_DEV --wait
  runway runs --status FAILED --since 24h`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			a.flags.environmentSet = cmd.Flags().Changed("env")
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.profile, "profile", "", "profile to use (default: RUNWAY_PROFILE, else \"default\")")
	pf.StringVar(&a.flags.apiURL, "api-url", "", "the API's URL (default: RUNWAY_API_URL, the profile's, else http://127.0.0.1:8080)")
	pf.StringVar(&a.flags.account, "account", "", "account (default: RUNWAY_ACCOUNT, else the profile's)")
	pf.StringVarP(&a.flags.environment, "env", "e", "", "environment: DEV, PROD… (default: RUNWAY_ENVIRONMENT, else the profile's; --env '' for all, where a command allows it)")
	pf.StringVar(&a.flags.token, "token", "", "bearer token to send (default: RUNWAY_TOKEN, TAILER_API_JWT, else the profile's login)")
	pf.BoolVar(&a.flags.json, "json", false, "print the API's JSON answers unchanged, one per line")

	root.AddGroup(&cobra.Group{ID: "runs", Title: "Runs:"}, &cobra.Group{ID: "configs", Title: "Configurations:"},
		&cobra.Group{ID: "setup", Title: "Setup:"})
	for _, c := range []*cobra.Command{a.launchCommand(), a.runsCommand(), a.runCommand(), a.setStatusCommand(), a.cancelCommand()} {
		c.GroupID = "runs"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.deployCommand(), a.configsCommand(), a.activateCommand(true), a.activateCommand(false), a.workflowCommand()} {
		c.GroupID = "configs"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.configCommand(), a.loginCommand(), a.tokenCommand()} {
		c.GroupID = "setup"
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("setup")
	root.SetCompletionCommandGroupID("setup")
	return root
}
