package configs

import "strings"

// Name is the shape of a name that identifies a configuration: its
// account, its environment or its id. Requests, configuration files and
// URLs are all checked against these, so that a name accepted in one place
// is accepted in every other.
//
// A name is a letter or digit, then letters, digits or the name's
// punctuation, all ASCII. Valid checks it byte by byte rather than with a
// regular expression: every request checks two or three names, and the
// regexp package took a tenth of the launch path's own CPU for it.
type Name struct {
	max         int    // bytes
	punctuation string // allowed after the first byte
	// Shape says what a valid name looks like, for error messages.
	Shape string
}

// The names of a configuration.
var (
	AccountName       = Name{64, "_-", "1 to 64 letters, digits, '_' or '-', such as 000099"}
	EnvironmentName   = Name{32, "_-", "1 to 32 letters, digits, '_' or '-', such as DEV or PROD"}
	ConfigurationName = Name{256, "_.-", "1 to 256 letters, digits, '_', '.' or '-'"}
)

// Valid reports whether s has the name's shape.
func (n Name) Valid(s string) bool {
	if s == "" || len(s) > n.max || !alphanumeric(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !alphanumeric(s[i]) && strings.IndexByte(n.punctuation, s[i]) < 0 {
			return false
		}
	}
	return true
}

func alphanumeric(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}
