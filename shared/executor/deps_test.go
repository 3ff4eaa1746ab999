package executor_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestExecutorsImportNoServer: an executor author imports shared/executor,
// and with it must get the message formats and a token source, not the
// runs service, the store, the token checks or their JWT library.
func TestExecutorsImportNoServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/runwaydata/runway/shared/executor":         true,
		"github.com/runwaydata/runway/shared/executor/message": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "github.com/runwaydata/runway/") && !allowed[pkg]:
			t.Errorf("shared/executor depends on %s", pkg)
		case strings.HasPrefix(pkg, "github.com/golang-jwt/"):
			t.Errorf("shared/executor depends on the JWT library %s", pkg)
		}
	}
}
