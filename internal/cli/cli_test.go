package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	s := New("plan", "Plans.\n")
	name := s.String("repo", "OWNER/REPO", "repository", "")
	dry := s.Bool("dry-run", "write nothing", false)
	var out bytes.Buffer
	if err := s.Parse([]string{"--repo", "o/r", "--dry-run"}, &out); err != nil || *name != "o/r" || *dry != "true" || !s.IsSet("dry-run") || out.Len() != 0 {
		t.Fatalf("Parse = %v; repo %q dry-run %q", err, *name, *dry)
	}
	s = New("plan", "Plans.\n")
	dry = s.Bool("dry-run", "write nothing", true)
	if err := s.Parse([]string{"--dry-run=false"}, &out); err != nil || *dry != "false" {
		t.Errorf("--dry-run=false: %v, %q", err, *dry)
	}
	err := New("plan", "").Parse([]string{"--help"}, &out)
	if !errors.Is(err, ErrHelp) || !strings.HasPrefix(out.String(), "Usage: preview-access plan [flags]") {
		t.Errorf("--help: %v, printed %q", err, out.String())
	}
	s = New("sweep", "")
	s.String("concurrency", "N", "how many at once", "4")
	err = s.Parse([]string{"--concurency", "2"}, &out)
	var ue *UsageError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUsage) || ue.Line() != "preview-access: flag provided but not defined: -concurency (did you mean --concurrency?) (see preview-access sweep --help)" {
		t.Errorf("typo: %v", err)
	}
}

func TestUsage(t *testing.T) {
	s := New("down", "Removes.\n")
	s.String("repo", "OWNER/REPO", "repository", "")
	s.Bool("yes", "confirm", false)
	s.String("gateway", "none|opa", "where", "none")
	var out bytes.Buffer
	s.Usage(&out)
	want := "Usage: preview-access down [flags]\n\nRemoves.\n\nFlags:\n  --repo OWNER/REPO\n      repository\n  --yes\n      confirm\n  --gateway none|opa\n      where (default none)\n"
	if out.String() != want {
		t.Errorf("Usage:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"permissions-boundary", "permissions-template", "dry-run", "pr"}
	for name, want := range map[string]string{
		"permission-boundary": "permissions-boundary",
		"PERMISSIONS-BOUNDRY": "permissions-boundary",
		"dryrun":              "dry-run",
		"colour":              "",
		"p":                   "pr",
	} {
		if got := Closest(name, known); got != want {
			t.Errorf("Closest(%q) = %q; want %q", name, got, want)
		}
	}
}
