package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

// maxRunsLimit is the most runs get_last_status and get_by_status answer.
const maxRunsLimit = 1000

var statuses = []string{"SUCCESS", "FAILED", "RUNNING", "NO_MATCH", "CHECKED"}

func completeStatuses(cmd *cobra.Command, flag string) {
	cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(statuses, cobra.ShellCompDirectiveNoFileComp))
}

func (a *app) runsCommand() *cobra.Command {
	var (
		kind, status string
		since        time.Duration
		limit        int
	)
	cmd := &cobra.Command{
		Use:   "runs [CONFIG]",
		Short: "List the latest runs, of a configuration or of every one of a type",
		Long: `runs lists the latest runs, newest first: those of the configuration CONFIG
(get_last_status), or of every configuration of --type (get_by_status), as a
table of run id, configuration, status, start, duration and trigger.

The API's answers hold no trigger: the table reads each run's trigger_type
with one get_run_events request per row. --json prints the API's answer
unchanged, without them.

--since keeps the runs started within that time of now, among the latest
--limit (by default the API's maximum, 1000) the API answers: neither action
filters by time.`,
		Example: `  runway runs
  runway runs 000099_iowa_liquor_prepare_pda_DEV --limit 20
  runway runs --status FAILED --since 24h --env PROD
  runway runs --json | jq '.results[].run_id'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := runsRequest{Action: "get_by_status", ConfigurationType: kind, Status: status}
			if len(args) == 1 {
				req.Action, req.ConfigurationID = "get_last_status", args[0]
			}
			ref, err := a.configRef(kind, "", len(args) == 1)
			if err != nil {
				return err
			}
			req.Account, req.Environment = ref.Account, ref.Environment
			if cmd.Flags().Changed("limit") {
				req.Limit = &limit
			} else if since > 0 {
				all := maxRunsLimit
				req.Limit = &all
			}
			var raw struct {
				Results []json.RawMessage `json:"results"`
			}
			answer, err := a.call(cmd.Context(), pathStatus, req, &raw)
			if err != nil {
				return err
			}
			found := make([]runResult, 0, len(raw.Results))
			kept := raw.Results[:0]
			for _, r := range raw.Results {
				var run runResult
				if err := json.Unmarshal(r, &run); err != nil {
					return fmt.Errorf("%w: unexpected run in the answer: %v", errUnavailable, err)
				}
				if started, ok := parseTime(run.StartExecutionDate); since > 0 && ok && a.now().Sub(started) > since {
					continue
				}
				found, kept = append(found, run), append(kept, r)
			}
			if since > 0 && len(found) == len(raw.Results) && req.Limit != nil && len(found) == *req.Limit {
				fmt.Fprintf(a.stderr, "runway: all the latest %d runs are within --since %s; older ones may be too (raise --limit)\n", len(found), since)
			}
			if a.flags.json {
				if since > 0 {
					answer, _ = json.Marshal(map[string][]json.RawMessage{"results": kept})
				}
				a.printJSON(answer)
				return nil
			}
			if len(found) == 0 {
				fmt.Fprintln(a.stderr, "no runs")
				return nil
			}
			triggers, err := a.triggers(cmd.Context(), ref.Account, found)
			if err != nil {
				return err
			}
			rows := make([][]string, len(found))
			for i, r := range found {
				rows[i] = []string{r.RunID, r.ConfigurationID, r.Status, when(r.StartExecutionDate, a.now()), apiDuration(r.Duration), triggers[i]}
			}
			a.printTable([]string{"RUN ID", "CONFIGURATION", "STATUS", "STARTED", "DURATION", "TRIGGER"}, rows, 2)
			return nil
		},
	}
	addTypeFlag(cmd, &kind, defaultType)
	cmd.Flags().StringVarP(&status, "status", "s", "", "only runs in this status: "+strings.Join(statuses, ", "))
	cmd.Flags().DurationVar(&since, "since", 0, "only runs started within this long of now, e.g. 24h")
	cmd.Flags().IntVarP(&limit, "limit", "n", 10, "how many of the latest runs to read (1 to 1000)")
	completeStatuses(cmd, "status")
	return cmd
}

// triggers reads the trigger type of each run (api, workflow, retry), a
// few at a time. The first page of one event is enough: the trigger is
// the run's, not the page's.
func (a *app) triggers(ctx context.Context, account string, found []runResult) ([]string, error) {
	out := make([]string, len(found))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	one := 1
	for i, r := range found {
		g.Go(func() error {
			ref := runRef{configRef{account, r.Environment, r.ConfigurationType, r.ConfigurationID}, r.RunID}
			var ev runEvents
			if _, err := a.call(ctx, pathStatus, runRequest{Action: "get_run_events", runRef: ref, Limit: &one}, &ev); err != nil {
				return err
			}
			out[i] = ev.TriggerType
			if ev.Attempt > 1 {
				out[i] += fmt.Sprintf(" (attempt %d)", ev.Attempt)
			}
			return nil
		})
	}
	return out, g.Wait()
}

// runFlags name a run's configuration: --config, else the run is looked
// up among the latest runs of --type.
type runFlags struct {
	kind, config string
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	addTypeFlag(cmd, &f.kind, defaultType)
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "the run's configuration id (default: found among the latest runs of --type)")
}

// resolveRun names the run: every run action needs its configuration, and
// check_run_status its environment (needEnvironment). Without them, it
// looks the run up with get_by_status: first among the runs of the day its
// id starts with, then among the latest.
func (a *app) resolveRun(ctx context.Context, f runFlags, runID string, needEnvironment bool) (runRef, error) {
	ref, err := a.configRef(f.kind, f.config, false)
	if err != nil {
		return runRef{}, err
	}
	if ref.ConfigurationID != "" && (ref.Environment != "" || !needEnvironment) {
		return runRef{configRef: ref, RunID: runID}, nil
	}
	limit := maxRunsLimit
	req := runsRequest{Action: "get_by_status", Account: ref.Account, Environment: ref.Environment, ConfigurationType: f.kind, Limit: &limit}
	var tries []runsRequest
	if day, err := time.Parse("20060102", strings.SplitN(runID, "-", 2)[0]); err == nil {
		onDay := req
		onDay.ExecutionDate = day.Format(time.DateOnly)
		tries = append(tries, onDay)
	}
	for _, try := range append(tries, req) {
		var res results
		if _, err := a.call(ctx, pathStatus, try, &res); err != nil {
			return runRef{}, err
		}
		for _, r := range res.Results {
			if r.RunID == runID && (ref.ConfigurationID == "" || r.ConfigurationID == ref.ConfigurationID) {
				return runRef{configRef{ref.Account, r.Environment, f.kind, r.ConfigurationID}, runID}, nil
			}
		}
	}
	return runRef{}, usageError("run %s is not among the latest %d %s runs of account %s: name its configuration with --config (and --env)",
		runID, maxRunsLimit, f.kind, ref.Account)
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run RUN_ID",
		Short: "Show a run: its detail and the timeline of its events",
		Long: `run shows a run (check_run_status) and its history (get_run_events, every
page): launch, publication, claim, status changes and who made them,
callbacks. --json prints the check_run_status answer, then each
get_run_events page, one per line.`,
		Example: `  runway run 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179
  runway run 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179 --config 000099_iowa_liquor_prepare_pda_DEV --env DEV
  runway run $RUN_ID --json | jq -s '[.[1:][].events[]]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := a.resolveRun(ctx, f, args[0], true)
			if err != nil {
				return err
			}
			var res results
			answer, err := a.call(ctx, pathStatus, checkRunStatusRequest{Action: "check_run_status", runRef: ref}, &res)
			if err != nil {
				return err
			}
			var history runEvents
			for page := ""; ; {
				var ev runEvents
				pageAnswer, err := a.call(ctx, pathStatus, runRequest{Action: "get_run_events", runRef: ref, PageToken: page}, &ev)
				if err != nil {
					return err
				}
				if a.flags.json {
					if page == "" {
						a.printJSON(answer)
					}
					a.printJSON(pageAnswer)
				}
				events := append(history.Events, ev.Events...)
				history, history.Events = ev, events
				if page = ev.NextPageToken; page == "" {
					break
				}
			}
			if !a.flags.json && len(res.Results) == 1 {
				a.printRun(res.Results[0], history)
			}
			return nil
		},
	}
	addRunFlags(cmd, &f)
	return cmd
}

func (a *app) printRun(r runResult, h runEvents) {
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(a.stdout, "%-14s %s\n", name, value)
		}
	}
	field("run", r.RunID)
	field("configuration", fmt.Sprintf("%s (%s, %s)", r.ConfigurationID, r.ConfigurationType, r.Environment))
	field("job", r.JobID)
	field("status", a.paint(r.Status))
	field("started", r.StartExecutionDate)
	field("last update", r.LastUpdateDate)
	field("duration", apiDuration(r.Duration))
	field("trigger", fmt.Sprintf("%s, attempt %d", h.TriggerType, h.Attempt))
	field("retries", h.ParentRunID)
	field("retried by", h.RetryRunID)
	field("retry due", h.RetryAt)
	field("executor", h.ExecutorID)
	if h.Heartbeats > 0 {
		field("heartbeats", fmt.Sprintf("%d, the last at %s", h.Heartbeats, h.LastHeartbeat))
	}
	field("deadline", h.Deadline)
	if len(r.Parameters) > 0 {
		field("parameters", string(r.Parameters))
	}
	if h.Error != nil {
		field("error", h.Error.String())
	}
	if len(h.Metrics) > 0 {
		keys := make([]string, 0, len(h.Metrics))
		for k := range h.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		metrics := make([]string, len(keys))
		for i, k := range keys {
			v, _ := json.Marshal(h.Metrics[k])
			metrics[i] = k + "=" + string(v)
		}
		field("metrics", strings.Join(metrics, " "))
	}
	fmt.Fprintln(a.stdout)
	rows := make([][]string, len(h.Events))
	for i, e := range h.Events {
		change := e.To
		if e.From != "" {
			change = e.From + " → " + e.To
		}
		rows[i] = []string{e.At, e.Type, e.By, change, e.Detail}
	}
	a.printTable([]string{"AT", "EVENT", "BY", "STATUS", "DETAIL"}, rows, -1)
}

func (a *app) setStatusCommand() *cobra.Command {
	var (
		f              runFlags
		expected       string
		filters        []string
		dryRun         bool
		limit          int
		bulkFilterKeys = []string{"configuration_id", "execution_date", "from_status", "before"}
	)
	cmd := &cobra.Command{
		Use:   "set-status (RUN_ID STATUS | --filter KEY=VALUE… STATUS)",
		Short: "Set the status of a run, or of every run a filter selects",
		Long: `set-status RUN_ID STATUS sets a run's status (set_run_status), recorded with
who changed it; --expected makes it a compare-and-set: nothing changes if the
run is no longer in that status (exit 2, with its current status).

set-status --filter KEY=VALUE… STATUS sets STATUS on every run of --type (and
--env) the filters select (set_runs_status; role editor), 500 at most per
request, requesting again until none remains. Filter keys: ` + strings.Join(bulkFilterKeys, ", ") + `
(before: a time or a date; runs launched before it). --dry-run shows how many
runs a change would select, and the first ones, without changing any.`,
		Example: `  runway set-status 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179 CHECKED --expected FAILED
  runway set-status --filter from_status=FAILED --filter before=2024-01-01 CHECKED --dry-run
  runway set-status --filter configuration_id=000099_Load_PDA_f_traffic_ma_DEV --filter from_status=RUNNING FAILED --env DEV`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(filters) > 0 {
				return cobra.ExactArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 || len(filters) > 0 && len(args) == 0 {
				return statuses, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(filters) == 0 {
				if dryRun || cmd.Flags().Changed("limit") {
					return usageError("--dry-run and --limit go with --filter")
				}
				ref, err := a.resolveRun(ctx, f, args[0], false)
				if err != nil {
					return err
				}
				return a.changeRun(ctx, runRequest{Action: "set_run_status", runRef: ref, Status: args[1], ExpectedStatus: expected})
			}
			if expected != "" || f.config != "" {
				return usageError("with --filter, select runs with filters: --filter from_status=… or configuration_id=…")
			}
			ref, err := a.configRef(f.kind, "", false)
			if err != nil {
				return err
			}
			req := setRunsStatusRequest{Action: "set_runs_status", Account: ref.Account, Environment: ref.Environment,
				ConfigurationType: f.kind, Status: args[0], DryRun: dryRun}
			if cmd.Flags().Changed("limit") {
				req.Limit = &limit
			}
			for _, kv := range filters {
				k, v, _ := strings.Cut(kv, "=")
				field := map[string]*string{"configuration_id": &req.ConfigurationID, "execution_date": &req.ExecutionDate,
					"from_status": &req.FromStatus, "before": &req.Before}[k]
				if field == nil || v == "" {
					return usageError("--filter %q: want KEY=VALUE, KEY one of %s", kv, strings.Join(bulkFilterKeys, ", "))
				}
				*field = v
			}
			return a.setRunsStatus(ctx, req)
		},
	}
	addRunFlags(cmd, &f)
	cmd.Flags().StringVar(&expected, "expected", "", "change the run only if it is in this status")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "select runs to change: KEY=VALUE, KEY one of "+strings.Join(bulkFilterKeys, ", "))
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "with --filter: show what would change, change nothing")
	cmd.Flags().IntVarP(&limit, "limit", "n", 100, "with --filter: runs changed per request (1 to 500)")
	completeStatuses(cmd, "expected")
	cmd.RegisterFlagCompletionFunc("filter", cobra.FixedCompletions(
		[]string{"configuration_id=", "execution_date=", "from_status=", "before="}, cobra.ShellCompDirectiveNoSpace))
	return cmd
}

// changeRun sends set_run_status or cancel_run and shows the run as it
// is now.
func (a *app) changeRun(ctx context.Context, req runRequest) error {
	var res results
	answer, err := a.call(ctx, pathStatus, req, &res)
	if err != nil {
		return err
	}
	if a.flags.json {
		a.printJSON(answer)
	} else if len(res.Results) == 1 {
		fmt.Fprintf(a.stdout, "run %s is %s\n", res.Results[0].RunID, a.paint(res.Results[0].Status))
	}
	return nil
}

// setRunsStatus sends set_runs_status until no selected run remains (once
// for a dry run).
func (a *app) setRunsStatus(ctx context.Context, req setRunsStatusRequest) error {
	changed := 0
	for {
		var res setRunsStatusResponse
		answer, err := a.call(ctx, pathStatus, req, &res)
		if err != nil {
			return err
		}
		changed += res.Changed
		if a.flags.json {
			a.printJSON(answer)
		}
		switch {
		case req.DryRun:
			if !a.flags.json {
				fmt.Fprintf(a.stdout, "dry run: %d runs match; the first %d would be set %s:\n", res.Matched, len(res.RunIDs), req.Status)
				for _, id := range res.RunIDs {
					fmt.Fprintln(a.stdout, "  "+id)
				}
			}
			return nil
		case res.Remaining == 0 || res.Changed == 0:
			if !a.flags.json {
				fmt.Fprintf(a.stdout, "%d runs set %s\n", changed, req.Status)
			}
			return nil
		}
	}
}

func (a *app) cancelCommand() *cobra.Command {
	var (
		f      runFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "cancel RUN_ID",
		Short: "Cancel a running run: it ends FAILED (CANCELED) and is not retried",
		Long: `cancel makes a RUNNING run FAILED with error code CANCELED (cancel_run), never
retried, and tells its executor to stop. A run that already ended is an error
(exit 2) naming its status.`,
		Example: `  runway cancel 20261123-114024-645a1c98-53de-419e-95c5-fc9fb4bda0ed --reason "wrong day"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.resolveRun(cmd.Context(), f, args[0], false)
			if err != nil {
				return err
			}
			return a.changeRun(cmd.Context(), runRequest{Action: "cancel_run", runRef: ref, Reason: reason})
		},
	}
	addRunFlags(cmd, &f)
	cmd.Flags().StringVar(&reason, "reason", "", "why: the run's error message (default: who canceled it)")
	return cmd
}
