package testenv_test

import (
	"os/exec"
	"testing"

	"github.com/preview-access/preview-access/internal/testenv"
)

// TestFastAPIExampleUnitTests runs the example guard's own tests
// (examples/fastapi/test_preview_guard.py): an OPA that is down, failing
// or answering nonsense, which the end-to-end test cannot cause on demand.
func TestFastAPIExampleUnitTests(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(testenv.FastAPIPython(t), "-m", "unittest", "-v", "test_preview_guard")
	cmd.Dir = testenv.FastAPIExampleDir()
	// No __pycache__ in the source tree, and none of this process's
	// environment (the OPA's admin token) in the example's.
	cmd.Env = []string{"PYTHONDONTWRITEBYTECODE=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest test_preview_guard in %s: %v\n%s", cmd.Dir, err, out)
	}
}
