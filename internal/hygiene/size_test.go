package hygiene

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Limits on the code's size (issue 13): a package that outgrows them is
// doing more than one job, and a function that does is several.
const (
	maxPackageLines  = 1200
	maxFunctionLines = 100
)

// TestCodeSize: no package of the action has more than maxPackageLines
// lines outside its tests, and no function outside tests more than
// maxFunctionLines. The packages under internal/testenv are test code (the
// fake GitHub, the fault proxy: TestTestenvIsNotShipped shows the binary
// never links them): their functions are held to the limit, their size
// is not.
func TestCodeSize(t *testing.T) {
	t.Parallel()
	lines := map[string]int{} // package dir → lines of its non-test files
	fset := token.NewFileSet()
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != moduleRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, path)
		lines[filepath.Dir(rel)] += fset.File(f.Pos()).LineCount()
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFunctionLines {
				t.Errorf("%s: function %s has %d lines; split it (at most %d)", rel, fn.Name.Name, n, maxFunctionLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 10 {
		t.Fatalf("found only %d packages under %s; the walk is broken", len(lines), moduleRoot)
	}
	dirs := make([]string, 0, len(lines))
	for d := range lines {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if lines[d] > maxPackageLines && !isTestCode(d) {
			t.Errorf("package %s has %d lines outside tests; split it (at most %d)", d, lines[d], maxPackageLines)
		}
	}
}

func isTestCode(dir string) bool {
	return strings.HasPrefix(filepath.ToSlash(dir), "internal/testenv")
}

// TestTestenvIsNotShipped: the binary links no package under
// internal/testenv, so they are test code whatever their file names.
func TestTestenvIsNotShipped(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/preview-access/preview-access/cmd/preview-access").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/preview-access/preview-access/internal/engine") {
		t.Fatalf("go list shows no engine among the binary's packages; the check proves nothing:\n%s", out)
	}
	for _, d := range deps {
		if strings.Contains(d, "/internal/testenv") {
			t.Errorf("the binary links %s", d)
		}
	}
}
