package version

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	if got := String("v1.2.3"); !strings.HasPrefix(got, "v1.2.3") {
		t.Errorf("String(v1.2.3) = %q; want the stamped version first", got)
	}
	// A test binary records neither a module version nor a commit.
	if got := String(""); got != "(devel)" {
		t.Errorf("String(\"\") = %q; want (devel)", got)
	}
}
