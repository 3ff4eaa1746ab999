package api

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is how every timestamp is written: RFC 3339 in UTC with
// microseconds and an explicit +00:00, as the Tailer API writes them
// (2020-12-30T11:30:07.960767+00:00). Microseconds are always written,
// even when zero, so that one layout parses every timestamp.
const TimeLayout = "2006-01-02T15:04:05.000000+00:00"

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// FormatDuration writes d as H:MM:SS.ffffff (0:01:24.002519), the form of
// Python's str(timedelta) that the Tailer API returns, with two
// differences that make it easier to parse: hours are not folded into days
// and microseconds are always written.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	us := d.Microseconds()
	return fmt.Sprintf("%d:%02d:%02d.%06d", us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000)
}

// validDate reports whether s is a calendar date written YYYY-MM-DD.
func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == len(time.DateOnly)
}

// ParseDuration reads a duration written H:MM:SS[.ffffff], as
// FormatDuration and the Tailer API write them.
func ParseDuration(s string) (time.Duration, error) {
	m := durationPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("duration %q is not H:MM:SS.ffffff", s)
	}
	h, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || h > int64(math.MaxInt64/time.Hour)-1 {
		return 0, fmt.Errorf("duration %q is longer than a time.Duration can hold", s)
	}
	mins, _ := strconv.ParseInt(m[2], 10, 64)
	sec, _ := strconv.ParseInt(m[3], 10, 64)
	us, _ := strconv.ParseInt(m[4]+strings.Repeat("0", 6-len(m[4])), 10, 64)
	return time.Duration(h)*time.Hour + time.Duration(mins)*time.Minute + time.Duration(sec)*time.Second + time.Duration(us)*time.Microsecond, nil
}

// durationPattern is H:MM:SS[.ffffff]: digits only, no sign or space,
// minutes and seconds below 60.
var durationPattern = regexp.MustCompile(`^(\d+):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?$`)
