package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// defaultType is the configuration type commands take when --type is not
// given: the reference's.
const defaultType = "table-to-table"

func addTypeFlag(cmd *cobra.Command, kind *string, def string) {
	cmd.Flags().StringVarP(kind, "type", "t", def, "configuration type: table-to-table (or gbq-to-gbq), storage-to-storage, workflow…")
	cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(
		[]string{"table-to-table", "gbq-to-gbq", "storage-to-storage", "storage-to-table", "table-to-storage", "vm-launcher", "workflow"},
		cobra.ShellCompDirectiveNoFileComp))
}

func (a *app) launchCommand() *cobra.Command {
	var (
		kind, paramFile, idempotencyKey, callbackURL string
		params                                       []string
		dryRun, wait                                 bool
		timeout                                      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "launch CONFIG",
		Short: "Launch a run of a configuration, and wait for it with --wait",
		Long: `launch starts a run of the configuration CONFIG (its id as the API names it,
e.g. 000099_iowa_liquor_prepare_pda_DEV) and prints its run id.

--param k=v sets a launch parameter; v is read as JSON when it is a JSON value
(60000, true, {"a":1}, "quoted"), else as a string (2020-12-30). --param-file
reads a JSON object; --param overrides its keys.

With --wait, launch waits for the run to end, showing one live line on a
terminal (status, elapsed time, the latest event: claimed, heartbeats, retry
n/m), or a line per change when the output is not a terminal. It asks the API
to hold each answer until the run ends (wait_seconds), follows retries, and
exits 0 when the run ends SUCCESS (or NO_MATCH, CHECKED), 1 when it ends
FAILED, 3 when --timeout passes first. With --json, it prints the last
check_run_status answer instead.

` + exitCodesHelp,
		Example: `  runway launch 000099_iowa_liquor_prepare_pda_DEV
  runway launch 000099_iowa_liquor_prepare_pda_DEV --param day=2020-12-30 --wait --timeout 10m
  runway launch 000099_iowa_liquor_prepare_pda_DEV --idempotency-key nightly-2026-11-23 --dry-run
  RUN_ID=$(runway launch 000099_iowa_liquor_prepare_pda_DEV --param-file params.json)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			parameters, err := launchParameters(paramFile, params)
			if err != nil {
				return err
			}
			ref, err := a.configRef(kind, args[0], true)
			if err != nil {
				return err
			}
			req := launchRequest{Action: "launch_job", configRef: ref, IdempotencyKey: idempotencyKey,
				Parameters: parameters, CallbackURL: callbackURL, DryRun: dryRun}
			var launched launchResponse
			answer, err := a.call(cmd.Context(), pathLaunch, req, &launched)
			if err != nil {
				return err
			}
			switch {
			case dryRun || !wait:
				if a.flags.json {
					a.printJSON(answer)
				} else if dryRun && launched.RunID != "" {
					fmt.Fprintf(a.stdout, "dry run: this idempotency key already launched run %s; a launch would answer it again\n", launched.RunID)
				} else if dryRun {
					var launch bytes.Buffer
					json.Indent(&launch, launched.Launch, "", "  ")
					fmt.Fprintf(a.stdout, "dry run: the launch is valid; it would publish:\n%s\n", launch.String())
				} else {
					fmt.Fprintln(a.stdout, launched.RunID)
				}
				return nil
			}
			return a.newWaiter(runRef{configRef: ref, RunID: launched.RunID}).wait(cmd.Context(), timeout)
		},
	}
	addTypeFlag(cmd, &kind, defaultType)
	f := cmd.Flags()
	f.StringArrayVarP(&params, "param", "p", nil, "launch parameter k=v (repeatable); v is JSON if it parses, else a string")
	f.StringVar(&paramFile, "param-file", "", "JSON object file of launch parameters")
	f.StringVar(&idempotencyKey, "idempotency-key", "", "makes the launch safe to retry: the same key and request give the same run")
	f.StringVar(&callbackURL, "callback-url", "", "https URL the API calls back when the run finishes (docs/callbacks.md)")
	f.BoolVar(&dryRun, "dry-run", false, "check the launch with the API and show what it would publish; launch nothing")
	f.BoolVarP(&wait, "wait", "w", false, "wait for the run to end, showing its progress")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "with --wait: give up waiting after this long (exit 3)")
	cmd.MarkFlagFilename("param-file", "json")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "wait")
	return cmd
}

// configRef resolves the account and environment of a configuration.
func (a *app) configRef(kind, id string, needEnvironment bool) (configRef, error) {
	account, err := a.account()
	if err != nil {
		return configRef{}, err
	}
	environment, err := a.environment(needEnvironment)
	if err != nil {
		return configRef{}, err
	}
	return configRef{Account: account, Environment: environment, ConfigurationType: kind, ConfigurationID: id}, nil
}

// launchParameters reads --param-file, then --param k=v over it.
func launchParameters(file string, params []string) (json.RawMessage, error) {
	merged := map[string]json.RawMessage{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError("--param-file: %v", err)
		}
		if err := json.Unmarshal(data, &merged); err != nil {
			return nil, usageError("--param-file %s: %s", file, jsonProblem(data, err))
		}
		if merged == nil {
			return nil, usageError("--param-file %s: want a JSON object", file)
		}
	}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageError("--param %q: want key=value", p)
		}
		if json.Valid([]byte(v)) {
			merged[k] = json.RawMessage(v)
		} else {
			merged[k], _ = json.Marshal(v)
		}
	}
	if len(merged) == 0 {
		return nil, nil
	}
	return json.Marshal(merged)
}
