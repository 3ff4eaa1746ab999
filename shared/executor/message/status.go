package message

// Status is the state of a run. The set is exactly the Tailer API's.
type Status string

// The run statuses.
const (
	StatusRunning Status = "RUNNING"  // launched, or an executor reported progress
	StatusSuccess Status = "SUCCESS"  // finished without error
	StatusFailed  Status = "FAILED"   // finished with an error
	StatusNoMatch Status = "NO_MATCH" // a file arrived that matched no template
	StatusChecked Status = "CHECKED"  // a person acknowledged a failed run
)

// Statuses lists every status, in the order the reference gives them.
var Statuses = []Status{StatusSuccess, StatusFailed, StatusRunning, StatusNoMatch, StatusChecked}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	for _, known := range Statuses {
		if s == known {
			return true
		}
	}
	return false
}

// Final reports whether a run in status s has ended.
func (s Status) Final() bool { return s != StatusRunning }
