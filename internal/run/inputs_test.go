package run

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// TestBadInputWritesNothing: each bad input or payload gets one readable
// annotation naming it, exit 1, and not a single write to IAM or GitHub.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(h *harness)
		want  []string // substrings of the expected error annotations, one each
	}{
		{"PR number 0", func(h *harness) {
			h.event("pull_request_target", "pull_request_target.opened.json", replace(`"number": 42`, `"number": 0`))
		}, []string{"pull request number 0 must be a positive integer"}},
		{"negative PR number", func(h *harness) {
			h.event("pull_request_target", "pull_request_target.opened.json", replace(`"number": 42`, `"number": -4`))
		}, []string{"pull request number -4 must be a positive integer"}},
		{"malformed boundary ARN", func(h *harness) { h.set("permissions-boundary", "arn:aws:iam::123:policy/x") }, []string{"input permissions-boundary"}},
		{"boundary from another partition", func(h *harness) { h.set("permissions-boundary", "arn:aws-cn:iam::123456789012:policy/b") }, []string{"partition aws-cn"}},
		{"session duration out of range", func(h *harness) { h.set("max-session-duration", "50000") }, []string{"input max-session-duration: 50000 is out of range"}},
		{"template that renders invalid JSON", func(h *harness) {
			h.set("permissions-template", ".github/preview-role.json")
			h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-role.json", `{"Version": "2012-10-17", "Statement": [`)
		}, []string{"input permissions-template: not valid JSON"}},
		{"template that grants admin", func(h *harness) {
			h.set("permissions-template", ".github/preview-role.json")
			h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-role.json", `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`)
		}, []string{`"Action": "*" on "Resource": "*"`, "wildcard over IAM or STS"}},
		{"template missing on the default branch", func(h *harness) { h.set("permissions-template", ".github/nope.json") }, []string{"does not exist on the default branch"}},
		{"role name template naming the branch", func(h *harness) { h.set("role-name-template", "preview-{head_ref}-{number}") }, []string{"unknown placeholder {head_ref}"}},
		{"missing event file", func(h *harness) {
			h.event("pull_request_target", "pull_request_target.opened.json")
			h.set("GITHUB_EVENT_PATH", h.dir+"/missing.json")
		}, []string{"read event file"}},
		{"malformed event file", func(h *harness) {
			h.event("pull_request_target", "pull_request_target.opened.json", func(string) string { return `{"action": "opened", "pull_request": [` })
		}, []string{"not a pull_request_target payload"}},
		{"event without a pull request", func(h *harness) {
			h.event("pull_request_target", "pull_request_target.opened.json", func(string) string { return `{"action": "opened"}` })
		}, []string{"has no pull_request object"}},
		{"several problems at once", func(h *harness) {
			h.set("ttl", "forever", "trust-scope", "branch", "concurrency", "0")
		}, []string{"input trust-scope", "input ttl", "input concurrency"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.event("pull_request_target", "pull_request_target.opened.json")
			tc.setup(h)
			h.resetCounts()
			if code := h.run(); code != ExitError {
				t.Fatalf("exit %d; want %d", code, ExitError)
			}
			got := h.annotations("error")
			if len(got) != len(tc.want) {
				t.Fatalf("annotations %q; want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("annotation %d = %q; want it to contain %q", i, got[i], w)
				}
			}
			if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
				t.Errorf("writes after bad input: IAM %d %v, GitHub %v; want none", iamW, h.proxy.Counts(), ghW)
			}
			if h.role(42).Exists || h.role(0).Exists {
				t.Error("a role was created")
			}
			// The job summary says it failed, what, and that nothing changed.
			sum := h.summary()
			if !strings.Contains(sum, "## Preview access: the run failed") || !strings.Contains(sum, "**nothing was created, changed or removed.**") ||
				strings.Count(sum, "\n| ") != len(tc.want)+1 {
				t.Errorf("job summary of a failed run does not say what failed (%d errors) and that nothing changed:\n%s", len(tc.want), sum)
			}
			for _, w := range tc.want {
				if in, ok := strings.CutPrefix(w, "input "); ok && !strings.Contains(sum, "input `"+strings.TrimSuffix(strings.Fields(in)[0], ":")+"`") {
					t.Errorf("job summary does not name input %s:\n%s", in, sum)
				}
			}
		})
	}
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.ReplaceAll(s, old, new) }
}

// TestHostileEvent: a branch name and title built to break shells,
// JSON and workflow commands change nothing but what they must.
func TestHostileEvent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.hostile.json")
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	role := h.role(42)
	if !role.Exists {
		t.Fatal("no role")
	}
	for _, bad := range []string{"echo", "$(id)", "IFS", "pwned"} {
		for k, v := range role.Tags {
			if strings.Contains(k+v, bad) {
				t.Errorf("tag %s=%s carries event text %q", k, v, bad)
			}
		}
		if strings.Contains(string(role.Trust), bad) || strings.Contains(string(role.Policy), bad) {
			t.Errorf("a policy carries event text %q", bad)
		}
	}
	if got := h.annotations("error"); len(got) != 0 {
		t.Errorf("the title forged annotations: %q", got)
	}
	for _, line := range strings.Split(h.stdout.String(), "\n") {
		if strings.HasPrefix(line, "::") && !strings.HasPrefix(line, "::add-mask::") {
			t.Errorf("workflow command in output: %q", line)
		}
	}
	if out := h.outputs(); len(out) != 7 || out["role-name"] != h.roleName(42) {
		t.Errorf("outputs %v; want the 7 outputs with the plain role name", out)
	}
}

func TestForkIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.fork.json")
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d; want 0 (a notice, not a failure)", code)
	}
	if got := h.annotations("notice"); len(got) != 1 || !strings.Contains(got[0], "allow-forks") {
		t.Errorf("notices %q; want one naming allow-forks", got)
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 || h.role(42).Exists {
		t.Errorf("fork PR: IAM writes %d, GitHub writes %v; want none", iamW, ghW)
	}

	h.set("allow-forks", "true")
	if code := h.run(); code != 0 || !h.role(42).Exists {
		t.Errorf("allow-forks: exit %d, role exists %t; want a role", code, h.role(42).Exists)
	}
}

func TestEventsThatChangeNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json", replace(`"action": "opened"`, `"action": "edited"`))
	if code := h.run(); code != 0 {
		t.Fatalf("edited: exit %d", code)
	}
	if got := h.annotations("notice"); len(got) != 1 || !strings.Contains(got[0], `"edited" does not change access`) {
		t.Errorf("notices %q", got)
	}
	if iamW, _ := h.writes(); iamW != 0 {
		t.Errorf("edited: %d IAM writes", iamW)
	}
}

// TestRaceGuard: the event says opened, but the PR was merged before the
// run got to write: nothing is created, and a role an earlier run made is
// removed.
func TestRaceGuard(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.gh.ClosePullRequest(h.owner, h.repo, 42, true)
	h.resetCounts()
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if iamW, _ := h.writes(); iamW != 0 || h.role(42).Exists {
		t.Errorf("closed meanwhile: %d IAM writes, role exists %t; want nothing created", iamW, h.role(42).Exists)
	}
	if got := h.annotations("notice"); len(got) != 1 || !strings.Contains(got[0], "closed meanwhile") {
		t.Errorf("notices %q; want one saying the PR closed meanwhile", got)
	}

	// An earlier run made the role; the late run takes it down.
	h.gh.ReopenPullRequest(h.owner, h.repo, 42)
	if code := h.run(); code != 0 || !h.role(42).Exists {
		t.Fatalf("reopened: exit %d, role %t", code, h.role(42).Exists)
	}
	h.gh.ClosePullRequest(h.owner, h.repo, 42, false)
	if code := h.run(); code != 0 || h.role(42).Exists {
		t.Errorf("closed before a late opened run: exit %d, role exists %t; want it removed", code, h.role(42).Exists)
	}
}

func TestEnvironmentScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("trust-scope", "environment")
	h.event("pull_request_target", "pull_request_target.opened.json")
	// The environment must exist, protected, before the trust names it.
	var envBeforeRole, sawCreate atomic.Bool
	h.proxy.BeforeForward(func(action string) {
		if action == "CreateRole" {
			env, ok := h.gh.Environment(h.owner, h.repo, "preview-pr-42")
			sawCreate.Store(true)
			envBeforeRole.Store(ok && len(env.Policies) == 1)
		}
	})
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !sawCreate.Load() || !envBeforeRole.Load() {
		t.Errorf("CreateRole seen %t, protected environment existed before it %t; want both", sawCreate.Load(), envBeforeRole.Load())
	}
	env, ok := h.gh.Environment(h.owner, h.repo, "preview-pr-42")
	if !ok || len(env.Policies) != 1 || env.Policies[0].Name != "refs/pull/42/merge" {
		t.Fatalf("environment %+v (exists %t); want one branch policy for refs/pull/42/merge", env, ok)
	}
	if !strings.Contains(string(h.role(42).Trust), `"token.actions.githubusercontent.com:environment":"preview-pr-42"`) {
		t.Errorf("trust does not name the environment: %s", h.role(42).Trust)
	}
	if out := h.outputs(); out["environment"] != "preview-pr-42" {
		t.Errorf("environment output = %q", out["environment"])
	}

	h.event("pull_request_target", "pull_request_target.closed.unmerged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	if _, ok := h.gh.Environment(h.owner, h.repo, "preview-pr-42"); ok || h.role(42).Exists {
		t.Errorf("closed: environment exists %t, role exists %t; want both gone", ok, h.role(42).Exists)
	}
}

// TestEnvironmentScopeWithoutAdminToken: the workflow token cannot make
// environments; the run fails naming the permission and the ref
// alternative, and creates no role.
func TestEnvironmentScopeWithoutAdminToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, fakegithub.WithPermissions(map[string]string{
		"pull_requests": "write", "issues": "write", "contents": "read", "deployments": "write", "actions": "read", "metadata": "read",
	}))
	h.set("trust-scope", "environment")
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	got := strings.Join(h.annotations("error"), "\n")
	for _, w := range []string{"Administration", "trust-scope: ref"} {
		if !strings.Contains(got, w) {
			t.Errorf("error %q does not mention %q", got, w)
		}
	}
	if iamW, _ := h.writes(); iamW != 0 || h.role(42).Exists {
		t.Errorf("IAM writes %d; want none", iamW)
	}
}

// TestPlanNeedsNoCredentials: plan with an account id and no AWS
// credentials prints the plan and exits 0.
func TestPlanNeedsNoCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("mode", "plan", "INPUT_GITHUB-TOKEN", "")
	h.event("pull_request_target", "pull_request_target.opened.json")
	env := Env{
		Getenv: func(k string) string { return h.env[k] },
		Stdout: &h.stdout, Stderr: &h.stderr,
		LoadAWS: func(context.Context, string) (aws.Config, error) {
			return aws.Config{Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{}}}, nil
		},
	}
	if code := Main(context.Background(), env); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stdout.String())
	}
	for _, w := range []string{"+ iam-role", "Trust policy:", `"refs/pull/42/merge"`, "Permission policy"} {
		if !strings.Contains(h.stdout.String(), w) {
			t.Errorf("plan output lacks %q", w)
		}
	}
	if h.proxy.Writes() != 0 {
		t.Error("plan wrote to IAM")
	}
	_ = errors.New
}
