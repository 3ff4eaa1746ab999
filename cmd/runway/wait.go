package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Long polls: the first answers come soon, so that the line shows the
// claim, then each poll holds longer, up to maxPoll; a run that ends
// answers at once whatever the poll.
const (
	firstPoll = 2 * time.Second
	maxPoll   = 30 * time.Second
	// maxUnavailable is how many failures to reach the API in a row a
	// wait rides out before giving up (exit 5).
	maxUnavailable = 3
)

// waiter waits for a run to end, following its retries, and shows its
// progress.
type waiter struct {
	a     *app
	ref   runRef
	start time.Time
	width int // of the terminal; 0 when the output is not a terminal

	// eventsPage is the page token of the current run's latest events.
	eventsPage string
	// retries is the configuration's retries, -1 when unknown; asked
	// once the run fails with a retry, or is one.
	retries      int
	retriesAsked bool

	mu      sync.Mutex
	state   progress
	printed string // the last line printed, without its elapsed time
	ended   bool   // the last line is drawn: the ticker draws no more
}

// progress is what the live line shows.
type progress struct {
	status, runID, event string
	heartbeats, attempt  int
	retryAt              string // a failed run's retry is due then
	err                  *runError
}

func (a *app) newWaiter(ref runRef) *waiter {
	w := &waiter{a: a, ref: ref, start: a.now(), retries: -1, state: progress{status: "RUNNING", runID: ref.RunID, attempt: 1, event: "launched"}}
	if !a.flags.json {
		w.width = terminalWidth(a.stdout)
	}
	return w
}

// wait waits up to timeout for the run to end, and returns the exit error
// its status stands for.
func (w *waiter) wait(ctx context.Context, timeout time.Duration) error {
	deadline := w.start.Add(timeout)
	if w.width > 0 {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-ticker.C:
					w.show(false)
				case <-done:
					return
				}
			}
		}()
	}
	poll, unavailable := firstPoll, 0
	var last []byte
	for {
		remaining := deadline.Sub(w.a.now())
		if ctx.Err() != nil {
			return w.finish(last, &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: %s", w.unfinished())})
		}
		if remaining <= 0 {
			return w.finish(last, &exitError{code: exitTimedOut, err: fmt.Errorf("timed out after %s: %s", timeout, w.unfinished())})
		}
		answer, status, err := w.check(ctx, min(poll, remaining))
		if err == nil {
			last = answer
			err = w.readEvents(ctx, status)
		}
		if ctx.Err() != nil {
			continue
		}
		if err != nil {
			if exitCode(err) != exitUnavailable || unavailable == maxUnavailable {
				return w.finish(last, err)
			}
			unavailable++
			sleep(ctx, time.Duration(unavailable)*time.Second)
			continue
		}
		unavailable = 0
		if !w.retriesAsked && (w.state.attempt > 1 || w.state.retryAt != "") {
			w.retriesAsked = true
			retries := w.a.configurationRetries(ctx, w.ref.configRef)
			w.mu.Lock()
			w.retries = retries
			w.mu.Unlock()
		}
		if w.followRetry() {
			poll = firstPoll
			w.show(false)
			continue
		}
		w.show(false)
		poll = min(2*poll, maxPoll)
		switch {
		case status == "RUNNING":
		case w.state.retryAt != "":
			// Failed, with a retry due: the Reaper launches it.
			sleep(ctx, min(poll, remaining))
		case status == "FAILED":
			why := "no error recorded"
			if w.state.err != nil {
				why = w.state.err.String()
			}
			return w.finish(last, &exitError{code: exitFailed, err: fmt.Errorf("run %s FAILED: %s", w.ref.RunID, why)})
		default:
			return w.finish(last, nil)
		}
	}
}

// check asks for the run's status, holding the answer up to hold.
func (w *waiter) check(ctx context.Context, hold time.Duration) ([]byte, string, error) {
	seconds := int((hold + time.Second - 1) / time.Second)
	ctx, cancel := context.WithTimeout(ctx, hold+30*time.Second)
	defer cancel()
	var res results
	answer, err := w.a.call(ctx, pathStatus, checkRunStatusRequest{Action: "check_run_status", runRef: w.ref, WaitSeconds: seconds}, &res)
	if err != nil {
		return nil, "", err
	}
	if len(res.Results) != 1 {
		return nil, "", fmt.Errorf("%w: check_run_status answered %d runs", errUnavailable, len(res.Results))
	}
	return answer, res.Results[0].Status, nil
}

// readEvents reads the run's new events: the latest one, heartbeats,
// attempt, retry and error.
func (w *waiter) readEvents(ctx context.Context, status string) error {
	for {
		var ev runEvents
		_, err := w.a.call(ctx, pathStatus, runRequest{Action: "get_run_events", runRef: w.ref, PageToken: w.eventsPage}, &ev)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.state.status, w.state.heartbeats, w.state.attempt = status, ev.Heartbeats, ev.Attempt
		w.state.err, w.state.retryAt = ev.Error, ""
		if status == "FAILED" && ev.RetryRunID == "" {
			w.state.retryAt = ev.RetryAt
		}
		if n := len(ev.Events); n > 0 {
			w.state.event = describeEvent(ev.Events[n-1])
		}
		retry := ev.RetryRunID
		w.mu.Unlock()
		if retry != "" {
			w.ref.RunID = retry
			return nil
		}
		if ev.NextPageToken == "" {
			return nil
		}
		w.eventsPage = ev.NextPageToken
	}
}

// unfinished says where the run is, for a wait that ends before it does.
func (w *waiter) unfinished() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	follow := fmt.Sprintf("(follow it with: runway run %s)", w.state.runID)
	if w.state.retryAt != "" {
		return fmt.Sprintf("run %s FAILED and its retry is due at %s %s", w.state.runID, w.state.retryAt, follow)
	}
	return fmt.Sprintf("run %s is still %s %s", w.state.runID, w.state.status, follow)
}

// followRetry moves to the run that retried the current one, if any.
func (w *waiter) followRetry() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ref.RunID == w.state.runID {
		return false
	}
	w.state = progress{status: "RUNNING", runID: w.ref.RunID, attempt: w.state.attempt + 1, event: "retry launched"}
	w.eventsPage = ""
	return true
}

func describeEvent(e runEvent) string {
	switch e.Type {
	case "launched":
		return "launched by " + e.By
	case "published":
		return "published"
	case "claimed":
		return "claimed by " + e.Detail
	case "status":
		return fmt.Sprintf("%s → %s by %s", e.From, e.To, e.By)
	default: // callback_delivered, callback_failed, callback_abandoned
		return strings.ReplaceAll(e.Type, "_", " ")
	}
}

// line writes the progress, without colours, and the time elapsed apart.
func (w *waiter) line() (head, elapsed, tail string) {
	s := w.state
	var details []string
	if s.event != "" {
		details = append(details, s.event)
	}
	switch {
	case s.heartbeats == 1:
		details = append(details, "1 heartbeat")
	case s.heartbeats > 1:
		details = append(details, fmt.Sprintf("%d heartbeats", s.heartbeats))
	}
	if s.attempt > 1 || s.retryAt != "" {
		n, of := s.attempt-1, "?"
		if s.retryAt != "" {
			n++
		}
		if w.retries >= 0 {
			of = fmt.Sprint(w.retries)
		}
		retry := fmt.Sprintf("retry %d/%s", n, of)
		if t, ok := parseTime(s.retryAt); ok {
			retry += " at " + t.Format("15:04:05")
		}
		details = append(details, retry)
	}
	return s.status + "  " + s.runID, short(w.a.now().Sub(w.start).Truncate(100 * time.Millisecond)), strings.Join(details, " · ")
}

// show draws the progress: on a terminal, the one line again in place;
// otherwise a new line when something other than the time has changed.
// final ends the line on a terminal.
func (w *waiter) show(final bool) {
	if w.a.flags.json {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	w.ended = final
	head, elapsed, tail := w.line()
	text := head + "  " + elapsed
	if tail != "" {
		text += "  " + tail
	}
	if w.width == 0 {
		if changed := head + tail; changed != w.printed {
			w.printed = changed
			fmt.Fprintln(w.a.stdout, text)
		}
		return
	}
	if r := []rune(text); len(r) >= w.width {
		text = string(r[:w.width-1])
	}
	text = w.a.paint(w.state.status) + strings.TrimPrefix(text, w.state.status)
	end := ""
	if final {
		end = "\n"
	}
	// Back to the start of the line, erase it, write it again.
	io.WriteString(w.a.stdout, "\r\x1b[2K"+text+end)
}

// finish ends the wait: the last line, or with --json the last answer.
func (w *waiter) finish(last []byte, err error) error {
	if !w.a.flags.json {
		w.show(true)
	} else if last != nil {
		w.a.printJSON(last)
	}
	return err
}

// configurationRetries reads how many times the configuration retries a
// failed run, or -1 when it cannot.
func (a *app) configurationRetries(ctx context.Context, ref configRef) int {
	var got configurationResponse
	if _, err := a.call(ctx, pathConfiguration, configRequest{Action: "get_configuration", configRef: ref}, &got); err != nil {
		return -1
	}
	n, _ := got.Configuration.Definition["retries"].(float64)
	return int(n)
}
