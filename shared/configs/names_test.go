package configs

import (
	"regexp"
	"strings"
	"testing"
)

// namePatterns are the names' shapes written as regular expressions, as
// they were before Valid checked them byte by byte: the specification
// Valid must keep.
var namePatterns = map[string]struct {
	name    Name
	pattern *regexp.Regexp
}{
	"account":       {AccountName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)},
	"environment":   {EnvironmentName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)},
	"configuration": {ConfigurationName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$`)},
}

func TestNamesAcceptWhatTheirPatternsAccept(t *testing.T) {
	t.Parallel()
	cases := []string{
		"", "0", "000099", "DEV", "PROD_eu-1", "000099_my-table-to-table-job.v2",
		"_DEV", "-x", ".x", "a.b", "a b", "a/b", "é", "aé", "a\x00", "a\n",
		strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("a", 256), strings.Repeat("a", 257),
	}
	for what, n := range namePatterns {
		for _, s := range cases {
			if got, want := n.name.Valid(s), n.pattern.MatchString(s); got != want {
				t.Errorf("%s name %q: Valid = %v, its pattern says %v", what, s, got, want)
			}
		}
	}
}

func FuzzNamesAcceptWhatTheirPatternsAccept(f *testing.F) {
	for _, s := range []string{"000099", "DEV", "a.b-c_d", "_x", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for what, n := range namePatterns {
			if got, want := n.name.Valid(s), n.pattern.MatchString(s); got != want {
				t.Errorf("%s name %q: Valid = %v, its pattern says %v", what, s, got, want)
			}
		}
	})
}
