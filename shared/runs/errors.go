package runs

import (
	"fmt"

	"github.com/runwaydata/runway/shared/failure"
)

// StatusConflict returns an ErrConflict error about run, which is in a
// status that forbids the change; field names the request field at fault,
// if one is.
func StatusConflict(run Run, field, format string, args ...any) error {
	return &failure.Error{Kind: failure.ErrConflict, Field: field, CurrentStatus: string(run.Status), Message: fmt.Sprintf(format, args...)}
}
