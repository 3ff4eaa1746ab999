package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) deployCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "deploy FILE|DIR…",
		Short: "Deploy configurations from their JSON files",
		Long: `deploy sends each configuration file, a JSON definition as Tailer writes them
(table-to-table or workflow; docs/configurations.md describes both), to
deploy_configuration, which checks it and stores it as the configuration's
next version; it prints the version each deploy made (n → n+1). A directory
deploys its *.json files, and its subdirectories'. Workflows are deployed
after the other files, as they name their targets.

A file the API refuses is reported with the fields at fault, and the others
are deployed still; the exit code is then 2. --dry-run has the API check each
file as a deploy does (dry_run), and print what a deploy would make, storing
nothing.`,
		Example: `  runway deploy 000099_my_job.json
  runway deploy --dry-run configurations/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := configurationFiles(args)
			if err != nil {
				return err
			}
			failed := 0
			for _, f := range files {
				if err := a.deploy(cmd.Context(), f, dryRun); err != nil {
					if code := exitCode(err); code == exitAuth || code == exitUnavailable {
						return fmt.Errorf("%s: %w", f.path, err)
					}
					fmt.Fprintf(a.stderr, "runway: %s: %s\n", f.path, describe(err))
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("%d of %d files not deployed", failed, len(files))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check each file as a deploy does, and store nothing")
	return cmd
}

// configurationFile is a configuration definition read from a file.
type configurationFile struct {
	path       string
	definition json.RawMessage
	workflow   bool
}

// configurationFiles reads the files args name, workflows last.
func configurationFiles(args []string) ([]configurationFile, error) {
	var paths []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, usageError("%v", err)
		}
		if !info.IsDir() {
			paths = append(paths, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
				paths = append(paths, path)
			}
			return err
		})
		if err != nil {
			return nil, usageError("%v", err)
		}
	}
	files := make([]configurationFile, 0, len(paths))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError("%v", err)
		}
		var head struct {
			ConfigurationType string `json:"configuration_type"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, usageError("%s: not a JSON configuration: %s", path, jsonProblem(data, err))
		}
		files = append(files, configurationFile{path: path, definition: data, workflow: head.ConfigurationType == "workflow"})
	}
	sort.SliceStable(files, func(i, j int) bool { return !files[i].workflow && files[j].workflow })
	return files, nil
}

// jsonProblem says where a JSON document is malformed.
func jsonProblem(data []byte, err error) string {
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		return err.Error()
	}
	before := data[:max(syntax.Offset-1, 0)] // up to the character at fault
	line := bytes.Count(before, []byte("\n")) + 1
	column := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, column, err)
}

func (a *app) deploy(ctx context.Context, f configurationFile, dryRun bool) error {
	var got configurationResponse
	answer, err := a.call(ctx, pathConfiguration, deployRequest{Action: "deploy_configuration", Configuration: f.definition, DryRun: dryRun}, &got)
	if err != nil {
		return err
	}
	if a.flags.json {
		a.printJSON(answer)
		return nil
	}
	c := got.Configuration
	change := "new, version 1"
	if c.Version > 1 {
		change = fmt.Sprintf("version %d → %d", c.Version-1, c.Version)
	}
	if got.DryRun {
		change = "would be " + change + "; nothing stored"
	}
	fmt.Fprintf(a.stdout, "%s: %s (%s, %s) %s\n", f.path, c.ConfigurationID, c.ConfigurationType, c.Environment, change)
	return nil
}

func (a *app) configsCommand() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "configs",
		Short: "List the account's configurations",
		Long: `configs lists the account's configurations (list_configurations, every page),
of the environment when one is set, of --type when given. --json prints each
page the API answers, one per line.`,
		Example: `  runway configs
  runway configs --type workflow --env DEV`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.configRef(kind, "", false)
			if err != nil {
				return err
			}
			var rows [][]string
			req := listConfigurationsRequest{Action: "list_configurations", Account: ref.Account, Environment: ref.Environment, ConfigurationType: kind}
			for {
				var page configurationsResponse
				answer, err := a.call(cmd.Context(), pathConfiguration, req, &page)
				if err != nil {
					return err
				}
				if a.flags.json {
					a.printJSON(answer)
				}
				for _, c := range page.Configurations {
					rows = append(rows, []string{c.ConfigurationID, c.ConfigurationType, c.Environment, state(c.Activated, c.Archived),
						fmt.Sprint(c.Version), when(c.UpdatedAt, a.now()), c.UpdatedBy})
				}
				if req.PageToken = page.NextPageToken; req.PageToken == "" {
					break
				}
			}
			if !a.flags.json {
				a.printTable([]string{"CONFIGURATION", "TYPE", "ENV", "STATE", "VERSION", "UPDATED", "BY"}, rows, -1)
			}
			return nil
		},
	}
	addTypeFlag(cmd, &kind, "")
	return cmd
}

// state says whether a configuration can run.
func state(activated, archived bool) string {
	switch {
	case archived:
		return "archived"
	case !activated:
		return "inactive"
	}
	return "active"
}

func (a *app) activateCommand(activate bool) *cobra.Command {
	var kind string
	name, does := "activate", "Activate a configuration: it can be launched, a workflow fires"
	if !activate {
		name, does = "deactivate", "Deactivate a configuration: launches are refused (409), a workflow does not fire"
	}
	cmd := &cobra.Command{
		Use:   name + " CONFIG",
		Short: does,
		Long: does + `.
It reads the configuration first (get_configuration) and keeps its archived
flag as it is: set_configuration_status needs both.`,
		Example: fmt.Sprintf("  runway %s 000099_iowa_liquor_prepare_pda_DEV --env DEV\n  runway %s workflow-Load_Configuration --type workflow", name, name),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.configRef(kind, args[0], true)
			if err != nil {
				return err
			}
			var got configurationResponse
			if _, err := a.call(cmd.Context(), pathConfiguration, configRequest{Action: "get_configuration", configRef: ref}, &got); err != nil {
				return err
			}
			archived := got.Configuration.Archived
			answer, err := a.call(cmd.Context(), pathConfigurationStatus,
				configRequest{Action: "set_configuration_status", configRef: ref, Activated: &activate, Archived: &archived}, nil)
			if err != nil {
				return err
			}
			if a.flags.json {
				a.printJSON(answer)
				return nil
			}
			fmt.Fprintf(a.stdout, "%s (%s, %s) is %sd\n", ref.ConfigurationID, ref.ConfigurationType, ref.Environment, name)
			if archived {
				fmt.Fprintln(a.stdout, "it is archived still: it cannot be launched")
			}
			return nil
		},
	}
	addTypeFlag(cmd, &kind, defaultType)
	return cmd
}

func (a *app) workflowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Show a workflow's current cycle, or reset it",
		Long: `A workflow launches its target once per cycle, when every job it authorizes
has succeeded since the cycle began.`,
		Example: `  runway workflow status 000099-iowa-liquor-load-pda
  runway workflow reset 000099-iowa-liquor-load-pda --env DEV`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "status WORKFLOW",
		Short:   "Show the workflow's current cycle: which of its jobs have succeeded",
		Example: `  runway workflow status 000099-iowa-liquor-load-pda`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.configRef("workflow", args[0], true)
			if err != nil {
				return err
			}
			var got workflowStatus
			answer, err := a.call(cmd.Context(), pathWorkflow, configRequest{Action: "get_workflow_status", configRef: ref}, &got)
			if err != nil {
				return err
			}
			if a.flags.json {
				a.printJSON(answer)
				return nil
			}
			w := got.Workflow
			fmt.Fprintf(a.stdout, "%-10s %s (%s), %s\n", "workflow", w.ConfigurationID, w.Environment, state(w.Activated, w.Archived))
			fmt.Fprintf(a.stdout, "%-10s %s %s\n", "target", w.Target.ConfigurationType, w.Target.ConfigurationID)
			if w.ResetSchedule != "" {
				fmt.Fprintf(a.stdout, "%-10s %s (UTC)\n", "resets", w.ResetSchedule)
			}
			cycle := fmt.Sprintf("%d, since %s", w.Cycle, w.CycleStartedAt)
			if w.LastResetBy != "" {
				cycle += ", reset by " + w.LastResetBy
			}
			fmt.Fprintf(a.stdout, "%-10s %s\n", "cycle", cycle)
			if f := w.LastFired; f != nil {
				fired := fmt.Sprintf("cycle %d at %s: run %s", f.Cycle, f.At, f.TargetRunID)
				if f.Skipped != "" {
					fired = fmt.Sprintf("cycle %d at %s: not launched, %s", f.Cycle, f.At, f.Skipped)
				}
				fmt.Fprintf(a.stdout, "%-10s %s\n", "last fired", fired)
			}
			fmt.Fprintln(a.stdout)
			rows := make([][]string, len(w.Criteria))
			for i, c := range w.Criteria {
				met := "no"
				if c.Met {
					met = "yes"
				}
				rows[i] = []string{c.JobID, met, c.RunID, c.At}
			}
			a.printTable([]string{"JOB", "MET", "RUN", "AT"}, rows, -1)
			return nil
		},
	}, &cobra.Command{
		Use:     "reset WORKFLOW",
		Short:   "Reset the workflow: a new cycle begins, its jobs must all succeed again",
		Example: `  runway workflow reset 000099-iowa-liquor-load-pda`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.configRef("workflow", args[0], true)
			if err != nil {
				return err
			}
			answer, err := a.call(cmd.Context(), pathWorkflow, configRequest{Action: "reset_workflow_status", configRef: ref}, nil)
			if err != nil {
				return err
			}
			if a.flags.json {
				a.printJSON(answer)
			} else {
				fmt.Fprintf(a.stdout, "workflow %s (%s) reset: a new cycle begins\n", ref.ConfigurationID, ref.Environment)
			}
			return nil
		},
	})
	return cmd
}
