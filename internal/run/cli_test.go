package run

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/preview-access/preview-access/internal/plan"
)

// cli runs Main as a person would, outside Actions, with no AWS
// credentials and no GitHub token.
func cmdline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = Main(context.Background(), Env{
		Args:   args,
		Getenv: func(string) string { return "" },
		Stdout: &out,
		Stderr: &errw,
		LoadAWS: func(context.Context, string) (aws.Config, error) {
			return aws.Config{Credentials: aws.AnonymousCredentials{}}, nil
		},
	})
	t.Logf("%v → exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errw.String())
	return code, out.String(), errw.String()
}

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"help", []string{"--help"}, ExitOK, "Exit codes: 0 success", ""},
		{"version", []string{"--version"}, ExitOK, "preview-access (devel)", ""},
		{"no command", nil, ExitUsage, "", "no command given"},
		{"unknown command", []string{"deploy"}, ExitUsage, "", `unknown command "deploy"`},
		{"unknown flag", []string{"plan", "--bogus"}, ExitUsage, "", "flag provided but not defined: -bogus"},
		{"command help lists its inputs, on stdout", []string{"up", "-h"}, ExitOK, "--permissions-boundary ARN", ""},
		{"up without a PR", []string{"up"}, ExitUsage, "", "up needs --event FILE or --repo OWNER/REPO"},
		{"bad repo", []string{"up", "--repo", "a/b/c", "--pr", "1"}, ExitUsage, "", "is not OWNER/REPO"},
		{"bad output", []string{"plan", "--output", "yaml"}, ExitUsage, "", "--output must be text or json"},
		{"repo without id or token", []string{"down", "--repo", "octo-org/shop", "--pr", "4"}, ExitUsage, "", "--repository-id is needed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := cmdline(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.inStdout) || !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("exit %d; want %d\nstdout: %s\nstderr: %s\nwant stdout to contain %q, stderr %q", code, tc.code, stdout, stderr, tc.inStdout, tc.inStderr)
			}
		})
	}
}

// TestPlanSample is the README's first command: a plan of the built-in
// sample event with no credentials at all.
func TestPlanSample(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cmdline(t, "plan")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"+ iam-role", "preview-octo-org.shop-pr-42", "Trust policy:", "refs/pull/42/merge", "Plan (up): 2 to create"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("plan output lacks %q:\n%s", w, stdout)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("colour codes written to a non-terminal")
	}

	code, stdout, _ = cmdline(t, "plan", "--output", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &p); code != 0 || err != nil || p.Mode != "up" || len(p.Changes) != 2 {
		t.Errorf("plan --output json: exit %d, %v, %+v\n%s", code, err, p, stdout)
	}
	// It carries the role's ARN and the documents a run would write, as
	// JSON a policy check can read.
	var docs struct {
		RoleARN   string `json:"roleArn"`
		Documents struct {
			Trust, Permissions struct {
				Version   string
				Statement []map[string]any
			}
			Gateway *struct {
				APIVersion string         `json:"apiVersion"`
				Bindings   map[string]any `json:"bindings"`
			}
		} `json:"documents"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &docs); err != nil ||
		docs.RoleARN != "arn:aws:iam::123456789012:role/preview-access/octo-org/shop/preview-octo-org.shop-pr-42" ||
		docs.Documents.Trust.Version != "2012-10-17" || len(docs.Documents.Trust.Statement) == 0 ||
		docs.Documents.Trust.Statement[0]["Action"] != "sts:AssumeRoleWithWebIdentity" ||
		docs.Documents.Permissions.Version != "2012-10-17" || len(docs.Documents.Permissions.Statement) == 0 {
		t.Errorf("plan --output json lacks the role ARN or the documents (%v): %+v\n%s", err, docs, stdout)
	}
	code, stdout, _ = cmdline(t, "plan", "--output", "json", "--gateway", "file", "--gateway-file", filepath.Join(t.TempDir(), "g.json"))
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &docs); code != 0 || err != nil || docs.Documents.Gateway == nil ||
		docs.Documents.Gateway.APIVersion != "preview-access/v1" || docs.Documents.Gateway.Bindings["user:octocat"] == nil {
		t.Errorf("plan --output json with a gateway lacks its document (exit %d, %v):\n%s", code, err, stdout)
	}
}

func TestPlanEventFile(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cmdline(t, "plan", "--event", "../../testdata/events/pull_request_target.closed.merged.json",
		"--account-id", "123456789012")
	if code != 0 || !strings.Contains(stdout, "Plan (down)") {
		t.Errorf("plan of a closed PR: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestExplainCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	ok := write("ok.json", `{"iss":"https://token.actions.githubusercontent.com","aud":"sts.amazonaws.com","sub":"repo:octo-org/shop:pull_request","ref":"refs/pull/42/merge","repository_id":"123456789"}`)
	other := write("other.json", `{"iss":"https://token.actions.githubusercontent.com","aud":"sts.amazonaws.com","sub":"repo:octo-org/shop:pull_request","ref":"refs/pull/43/merge","repository_id":"123456789"}`)
	base := []string{"explain", "--repo", "octo-org/shop", "--repository-id", "123456789", "--pr", "42"}

	code, stdout, stderr := cmdline(t, append(base, "--claims", ok)...)
	if code != 0 || !strings.Contains(stdout, "ADMITTED") {
		t.Errorf("matching token: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = cmdline(t, append(base, "--claims", other)...)
	if code != 1 || !strings.Contains(stdout, "refs/pull/43/merge") || !strings.Contains(stdout, "✗") {
		t.Errorf("PR 43's token: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := cmdline(t, append(base, "--claims", ok, "--token", "x.y.z")...); code != ExitUsage {
		t.Errorf("both --claims and --token: exit %d (%s); want 2", code, stderr)
	}
}

func TestBootstrapCLI(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cmdline(t, "bootstrap", "--account-id", "123456789012", "--repo", "octo-org/shop", "--repository-id", "123456789")
	if code != 0 || !strings.Contains(stdout, "AWS::IAM::Role") || !strings.Contains(stdout, "/preview-access/octo-org/shop/") {
		t.Errorf("bootstrap: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = cmdline(t, "bootstrap", "--account-id", "123456789012", "--repo", "octo-org/shop", "--format", "terraform", "--no-oidc-provider", "--audience", "sts.example")
	if code != 0 || !strings.Contains(stdout, `resource "aws_iam_role" "provisioner"`) || strings.Contains(stdout, "aws_iam_openid_connect_provider") || !strings.Contains(stdout, `"sts.example"`) {
		t.Errorf("bootstrap --format terraform --no-oidc-provider --audience: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = cmdline(t, "bootstrap", "--account-id", "123456789012", "--repo", "octo-org/shop", "--format", "json")
	if code != 0 || !json.Valid([]byte(stdout)) {
		t.Errorf("bootstrap --format json: exit %d, valid JSON %t", code, json.Valid([]byte(stdout)))
	}
	if code, _, stderr := cmdline(t, "bootstrap", "--account-id", "12", "--repo", "octo-org/shop"); code != ExitError || !strings.Contains(stderr, "12") {
		t.Errorf("bad account id: exit %d\n%s", code, stderr)
	}
}

// TestVersionIsLogged: the stamped version is what --version prints and
// the first line of every run's log, right after the secrets are masked;
// for a person it goes to stderr, so stdout stays the plan.
func TestVersionIsLogged(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	Main(context.Background(), Env{Args: []string{"--version"}, Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &out, Version: "v1.4.2"})
	if !strings.HasPrefix(out.String(), "preview-access v1.4.2") {
		t.Errorf("--version printed %q; want the stamped version", out.String())
	}

	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	r := h.runWith(runOpts{})
	var first string
	for _, l := range strings.Split(r.stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			first = l
			break
		}
	}
	if r.code != 0 || !strings.HasPrefix(first, "preview-access ") {
		t.Errorf("exit %d, first line of the log %q; want the version", r.code, first)
	}

	code, stdout, stderr := cmdline(t, "plan", "--output", "json")
	if code != 0 || !strings.HasPrefix(stderr, "preview-access ") || !strings.HasPrefix(stdout, "{") {
		t.Errorf("plan --output json: exit %d, stdout starts %.20q, stderr starts %.20q; want JSON on stdout and the version on stderr", code, stdout, stderr)
	}
}

// TestCLIBehaves: boolean flags need no value, each command lists only its
// own flags with real value names, a mistake is one line naming the
// command's help (and the closest flag), and down of an open PR asks for
// --yes.
func TestCLIBehaves(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cmdline(t, "plan", "--event", "../../testdata/events/pull_request_target.opened.json", "--account-id", "123456789012", "--allow-missing-boundary", "--output", "json")
	if code != 0 || !strings.HasPrefix(stdout, "{") {
		t.Errorf("a boolean flag without a value: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := cmdline(t, "plan", "--allow-missing-boundary=maybe"); code != ExitUsage || !strings.Contains(stderr, `"maybe" is not true or false`) {
		t.Errorf("--allow-missing-boundary=maybe: exit %d, %s", code, stderr)
	}

	help := map[string]string{}
	for _, c := range []string{"plan", "up", "down", "sweep", "status", "bootstrap", "explain"} {
		code, stdout, stderr := cmdline(t, c, "--help")
		if code != ExitOK || !strings.HasPrefix(stdout, "Usage: preview-access "+c) || strings.Contains(stderr, "Usage") {
			t.Errorf("%s --help: exit %d, help on stdout %t", c, code, strings.HasPrefix(stdout, "Usage"))
		}
		help[c] = stdout
	}
	for _, tc := range []struct {
		command string
		has     []string
		lacks   []string
	}{
		{"plan", []string{"--pr N\n", "--dry-run\n", "--permissions-boundary ARN\n", "--github-token TOKEN\n"}, []string{"--mode", "--concurrency", "${{", "--yes"}},
		{"up", []string{"--ttl DURATION\n", "--allow-forks\n"}, []string{"--concurrency", "--yes"}},
		{"down", []string{"--yes\n", "--gateway none|opa|webhook|file\n"}, []string{"--ttl", "--permissions-template", "--concurrency"}},
		{"sweep", []string{"--concurrency N\n", "--dry-run\n"}, []string{"--pr ", "--permissions-boundary", "--yes"}},
		{"bootstrap", []string{"--no-oidc-provider\n", "--account-id ACCOUNT_ID\n"}, []string{"--gateway"}},
		{"explain", []string{"--claims FILE\n", "--subject-template TEMPLATE\n", "Show, condition by condition"}, []string{"--event ", "--gateway"}},
		{"status", []string{"--output text|json\n", "--gateway-url URL\n", "--github-token TOKEN\n", "who has which gateway role and why"}, []string{"--pr ", "--dry-run", "--concurrency", "--permissions-boundary", "--trust-scope", "--yes"}},
	} {
		for _, w := range tc.has {
			if !strings.Contains(help[tc.command], w) {
				t.Errorf("%s --help lacks %q", tc.command, w)
			}
		}
		for _, w := range tc.lacks {
			if strings.Contains(help[tc.command], w) {
				t.Errorf("%s --help has %q", tc.command, w)
			}
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--dry-rn"}, "flag provided but not defined: -dry-rn (did you mean --dry-run?) (see preview-access plan --help)"},
		{[]string{"sweep", "extra"}, `unexpected argument "extra" (see preview-access sweep --help)`},
		{[]string{"bootstrap", "--repository-id", "x", "--repo", "o/r"}, `--repository-id "x" is not a positive number (see preview-access bootstrap --help)`},
		{[]string{"deploy"}, `unknown command "deploy" (see preview-access --help)`},
		{[]string{"down", "--repo", "octo-org/shop", "--pr", "4", "--repository-id", "1"}, "pull request 4 is open (or its state is unknown without a token): down removes its access while it is open; pass --yes"},
	} {
		code, stdout, stderr := cmdline(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		errorLines := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "preview-access: ") {
				errorLines++
			}
		}
		if code != ExitUsage || stdout != "" || !strings.Contains(lines[len(lines)-1], tc.want) || errorLines != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one error line with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestUnknownInputIsNamed: a with: key the action does not know is a
// warning that names the closest input.
func TestUnknownInputIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("INPUT_PERMISSION-BOUNDARY", "arn:aws:iam::123456789012:policy/x", "INPUT_COLOUR", "blue")
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	w := strings.Join(h.annotations("warning"), "\n")
	for _, want := range []string{`input "permission-boundary" is not an input of preview-access and is ignored (did you mean permissions-boundary?)`, `input "colour" is not an input of preview-access and is ignored`} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
}
