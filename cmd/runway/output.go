package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// terminalWidth returns the width of the terminal w is, or 0 when w is
// not a terminal (a pipe, a file, a test's buffer).
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		return 80
	}
	return width
}

// colour reports whether statuses are coloured: on a terminal, unless
// NO_COLOR (no-color.org) is set or the terminal is dumb.
func (a *app) colour() bool {
	return terminalWidth(a.stdout) > 0 && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"
}

var statusColours = map[string]string{
	"SUCCESS":  "32", // green
	"FAILED":   "31", // red
	"RUNNING":  "33", // yellow
	"NO_MATCH": "35", // magenta
	"CHECKED":  "36", // cyan
}

// paint colours a status, when colours are on.
func (a *app) paint(status string) string {
	if c, ok := statusColours[status]; ok && a.colour() {
		return "\x1b[" + c + "m" + status + "\x1b[0m"
	}
	return status
}

// printTable prints rows under header in aligned columns; the cells of
// column statusColumn (-1 for none) are statuses, coloured on a terminal.
func (a *app) printTable(header []string, rows [][]string, statusColumn int) {
	widths := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for r, row := range append([][]string{header}, rows...) {
		var b strings.Builder
		for i, cell := range row {
			pad := widths[i] - utf8.RuneCountInString(cell)
			if r > 0 && i == statusColumn {
				cell = a.paint(cell)
			}
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		fmt.Fprintln(a.stdout, b.String())
	}
}

// parseTime reads the API's timestamps.
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}

// when writes a timestamp for a table: how long ago within a week, the
// date and time (UTC, as the API and run ids write them) before.
func when(s string, now time.Time) string {
	t, ok := parseTime(s)
	if !ok {
		return s
	}
	ago := now.Sub(t)
	switch {
	case ago < 0 || ago >= 7*24*time.Hour:
		return t.Format("2006-01-02 15:04")
	case ago < time.Minute:
		return fmt.Sprintf("%ds ago", int(ago.Seconds()))
	case ago < time.Hour:
		return fmt.Sprintf("%dm ago", int(ago.Minutes()))
	case ago < 24*time.Hour:
		return fmt.Sprintf("%dh ago", int(ago.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(ago.Hours()/24))
	}
}

// parseDuration reads the API's durations, H:MM:SS.ffffff.
func parseDuration(s string) (time.Duration, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second)), true
}

// short writes a duration the way people read it: 850ms, 4.2s, 1m24s,
// 26h05m.
func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// apiDuration writes one of the API's durations short.
func apiDuration(s string) string {
	if d, ok := parseDuration(s); ok {
		return short(d)
	}
	return s
}
