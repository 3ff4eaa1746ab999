package api

import (
	"testing"
	"time"
)

func TestFormatTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"reference example", time.Date(2020, 12, 30, 11, 30, 7, 960767000, time.UTC), "2020-12-30T11:30:07.960767+00:00"},
		{"whole second keeps its microseconds", time.Date(2020, 12, 9, 17, 17, 23, 0, time.UTC), "2020-12-09T17:17:23.000000+00:00"},
		{"other zones are written in UTC", time.Date(2020, 12, 30, 12, 30, 7, 960767999, time.FixedZone("CET", 3600)), "2020-12-30T11:30:07.960767+00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatAndParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"reference example", time.Minute + 24*time.Second + 2519*time.Microsecond, "0:01:24.002519"},
		{"zero", 0, "0:00:00.000000"},
		{"negative is zero", -time.Second, "0:00:00.000000"},
		{"nanoseconds are truncated", 3*time.Second + 885654999, "0:00:03.885654"},
		{"hours are not folded into days", 26*time.Hour + 5*time.Minute, "26:05:00.000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := FormatDuration(tt.in)
			if got != tt.want {
				t.Fatalf("FormatDuration = %q, want %q", got, tt.want)
			}
			back, err := ParseDuration(got)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", got, err)
			}
			if want := max(tt.in, 0).Truncate(time.Microsecond); back != want {
				t.Errorf("ParseDuration(%q) = %v, want %v", got, back, want)
			}
		})
	}
}

func TestParseDurationRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "1:2", "0:60:00", "0:00:61", "0:00:01.", "0:00:01.1234567", "0:00:01.12a", "abc",
		"0:-1:0", "-1:00:00", "+1:00:00", " 1:00:00", "1: 0:00", "0:1:00", "1:00:00 "} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", in)
		}
	}
	if d, err := ParseDuration("0:00:04"); err != nil || d != 4*time.Second {
		t.Errorf("ParseDuration(0:00:04) = %v, %v; want 4s", d, err)
	}
}

func TestValidDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"2020-12-09": true, "2024-02-29": true, "2023-02-29": false, "2020-13-01": false,
		"2020-1-09": false, "20201209": false, "2020-12-09T00:00:00Z": false, "": false,
	} {
		if got := validDate(in); got != want {
			t.Errorf("validDate(%q) = %v, want %v", in, got, want)
		}
	}
}
