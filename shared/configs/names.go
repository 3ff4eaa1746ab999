package configs

import "regexp"

// Name is the shape of a name that identifies a configuration: its
// account, its environment or its id. Requests, configuration files and
// URLs are all checked against these, so that a name accepted in one place
// is accepted in every other.
type Name struct {
	pattern *regexp.Regexp
	// Shape says what a valid name looks like, for error messages.
	Shape string
}

// The names of a configuration.
var (
	AccountName       = Name{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`), "1 to 64 letters, digits, '_' or '-', such as 000099"}
	EnvironmentName   = Name{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`), "1 to 32 letters, digits, '_' or '-', such as DEV or PROD"}
	ConfigurationName = Name{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$`), "1 to 256 letters, digits, '_', '.' or '-'"}
)

// Valid reports whether s has the name's shape.
func (n Name) Valid(s string) bool { return n.pattern.MatchString(s) }
