package desired

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/testenv/golden"
	"github.com/preview-access/preview-access/templates"
)

func sample() preview.Preview {
	return preview.Preview{
		Owner: "octo-org", Repo: "shop", RepositoryID: 123456789, OwnerID: 987654, Number: 42,
		HeadRef: `a";echo${IFS}x;#`, HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", BaseRef: "main",
		Author: "octocat", State: "open",
		UpdatedAt: time.Date(2026, 11, 24, 9, 12, 31, 0, time.UTC),
	}
}

func cfg(t *testing.T, over map[string]string) config.Config {
	t.Helper()
	c, err := config.Load(func(name string) string {
		if v, ok := over[name]; ok {
			return v
		}
		switch name {
		case "account-id":
			return "123456789012"
		case "permissions-boundary":
			return "arn:aws:iam::123456789012:policy/preview-access-boundary-octo-org.shop"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGolden renders the desired state for each trust scope and compares
// the documents, and the plan against an empty account, with
// testdata/golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	t.Parallel()
	tmpl, _ := templates.FS.ReadFile(templates.DefaultPermissions)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, scope := range []string{"ref", "environment"} {
		t.Run(scope, func(t *testing.T) {
			t.Parallel()
			s, err := Build(cfg(t, map[string]string{"trust-scope": scope}), sample(), tmpl, now)
			if err != nil {
				t.Fatal(err)
			}
			r, err := planner.Up(planner.Desired{Role: s.Role}, planner.Observed{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			p := r.Plan
			p.WriteText(&buf, false)
			fmt.Fprintf(&buf, "\nrole ARN: %s\nenvironment: %q\nexpires: %s\ntags:\n", s.RoleARN, s.Environment, s.ExpiresAt.Format(time.RFC3339))
			for _, k := range slices.Sorted(maps.Keys(s.Role.Tags)) {
				fmt.Fprintf(&buf, "  %s = %s\n", k, s.Role.Tags[k])
			}
			buf.WriteString("\ntrust policy:\n")
			buf.Write(pretty(s.Role.Trust))
			buf.WriteString("\npermission policy:\n")
			buf.Write(pretty(s.Role.Policy))
			checkGolden(t, "up-"+scope+".txt", buf.Bytes())
			if strings.Contains(buf.String(), "echo") || strings.Contains(buf.String(), "pwned") {
				t.Error("branch name or title reached the desired state")
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	tmpl, _ := templates.FS.ReadFile(templates.DefaultPermissions)
	now := time.Now()
	long := sample()
	long.Repo = strings.Repeat("r", 100)
	if s, err := Build(cfg(t, nil), long, tmpl, now); err != nil || len(s.RoleName) != 64 {
		t.Errorf("long repository: name %q (%d), err %v; want a 64-character name", s.RoleName, len(s.RoleName), err)
	}
	_, err := Build(cfg(t, map[string]string{"subject-template": "repo:{owner}/{repo}:" + strings.Repeat("x", 2100)}), sample(), tmpl, now)
	if err == nil || !strings.Contains(err.Error(), "trust-policy-size-limit") {
		t.Errorf("oversized trust: err %v; want the quota named", err)
	}
	_, err = Build(cfg(t, nil), sample(), []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]}`), now)
	if err == nil || !strings.Contains(err.Error(), "input permissions-template") {
		t.Errorf("NotAction template: err %v; want a permissions-template problem", err)
	}
}

func pretty(doc []byte) []byte {
	var buf bytes.Buffer
	json.Indent(&buf, doc, "", "  ")
	buf.WriteByte('\n')
	return buf.Bytes()
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("..", "..", "testdata", "golden", name), got)
}

// TestAudience: the audience input is the trust's aud, exactly; the
// default is configure-aws-credentials' sts.amazonaws.com.
func TestAudience(t *testing.T) {
	t.Parallel()
	tmpl, _ := templates.FS.ReadFile(templates.DefaultPermissions)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ input, want string }{
		{"", "sts.amazonaws.com"},
		{"api://preview-access", "api://preview-access"},
	} {
		st, err := Build(cfg(t, map[string]string{"audience": tc.input}), sample(), tmpl, now)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Statement []struct{ Condition map[string]map[string]string }
		}
		if err := json.Unmarshal(st.Role.Trust, &d); err != nil {
			t.Fatal(err)
		}
		if got := d.Statement[0].Condition["StringEquals"]["token.actions.githubusercontent.com:aud"]; got != tc.want {
			t.Errorf("audience %q: trust aud = %q; want %q", tc.input, got, tc.want)
		}
	}
}
