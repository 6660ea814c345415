package run

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// TestActionLifecycle drives the action through opened → synchronize →
// closed, as a runner would, and checks IAM, GitHub and the outputs after
// each step, and that a re-run of each step writes nothing.
func TestActionLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	// opened: the role, the comment and the deployment appear.
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	role := h.role(42)
	if !role.Exists {
		t.Fatal("opened: no role")
	}
	wantPath := "/preview-access/" + h.owner + "/" + h.repo + "/"
	if role.Path != wantPath || role.Boundary != "arn:aws:iam::123456789012:policy/preview-boundary" || role.MaxSession != 3600 {
		t.Errorf("opened: role path %q boundary %q session %d", role.Path, role.Boundary, role.MaxSession)
	}
	var trust struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal(role.Trust, &trust); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{
		"token.actions.githubusercontent.com:aud":           "sts.amazonaws.com",
		"token.actions.githubusercontent.com:sub":           "repo:" + h.owner + "/" + h.repo + ":pull_request",
		"token.actions.githubusercontent.com:ref":           "refs/pull/42/merge",
		"token.actions.githubusercontent.com:repository_id": h.env["GITHUB_REPOSITORY_ID"],
	}, trust.Statement[0].Condition["StringEquals"]); diff != "" {
		t.Errorf("trust conditions (-want +got):\n%s", diff)
	}
	for k, want := range map[string]string{
		naming.TagManagedBy: "preview-access", naming.TagRepository: h.owner + "/" + h.repo,
		naming.TagRepositoryID: h.env["GITHUB_REPOSITORY_ID"], naming.TagPullRequest: "42",
		naming.TagHeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
	} {
		if role.Tags[k] != want {
			t.Errorf("tag %s = %q; want %q", k, role.Tags[k], want)
		}
	}
	out := h.outputs()
	wantARN := "arn:aws:iam::123456789012:role" + wantPath + h.roleName(42)
	if out["role-arn"] != wantARN || out["role-name"] != h.roleName(42) || out["changed"] != "true" {
		t.Errorf("opened outputs: %v", out)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(out["plan"]), &p); err != nil || p.Mode != "up" {
		t.Errorf("plan output %q: %v", out["plan"], err)
	}
	comments := h.gh.Comments(h.owner, h.repo, 42)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, wantARN) {
		t.Fatalf("opened: comments %+v; want one naming the role", comments)
	}
	deps := h.gh.Deployments(h.owner, h.repo)
	if len(deps) != 1 || deps[0].Environment != "preview-pr-42" || lastState(deps[0]) != "success" {
		t.Errorf("opened: deployments %+v; want one success for preview-pr-42", deps)
	}
	if got := deps[0].Statuses[len(deps[0].Statuses)-1].EnvironmentURL; got != "https://pr-42."+h.repo+".preview.test" {
		t.Errorf("deployment environment_url = %q", got)
	}
	if s := h.summary(); !strings.Contains(s, "| resource | name | action | detail |") || !strings.Contains(s, "role-arn") {
		t.Errorf("summary lacks the plan table or outputs:\n%s", s)
	}

	// The same event again: nothing is written anywhere.
	h.resetCounts()
	if code := h.run(); code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("re-run of opened wrote: IAM %d %v, GitHub %v; want nothing", iamW, h.proxy.Counts(), ghW)
	}
	if out := h.outputs(); out["changed"] != "false" {
		t.Errorf("re-run changed = %q; want false", out["changed"])
	}

	// synchronize: a new head SHA re-tags the role and updates the
	// deployment and comment; the trust and policy stay.
	h.event("pull_request_target", "pull_request_target.synchronize.json")
	h.resetCounts()
	if code := h.run(); code != 0 {
		t.Fatalf("synchronize: exit %d", code)
	}
	iamWrites := map[string]int{}
	for a, n := range h.proxy.Counts() {
		if strings.HasPrefix(a, "Create") || strings.HasPrefix(a, "Put") || strings.HasPrefix(a, "Update") || strings.HasPrefix(a, "Tag") || strings.HasPrefix(a, "Untag") || strings.HasPrefix(a, "Delete") || strings.HasPrefix(a, "Attach") || strings.HasPrefix(a, "Detach") {
			iamWrites[a] = n
		}
	}
	if diff := cmp.Diff(map[string]int{"TagRole": 1}, iamWrites); diff != "" {
		t.Errorf("synchronize IAM writes (-want +got):\n%s", diff)
	}
	if got := h.role(42).Tags[naming.TagHeadSHA]; got != "9f2c3b1a7e4d5c6b8a90f1e2d3c4b5a6978e1f20" {
		t.Errorf("head-sha tag after synchronize = %q", got)
	}
	if n := len(h.gh.Comments(h.owner, h.repo, 42)); n != 1 {
		t.Errorf("comments after synchronize: %d; want 1 (edited in place)", n)
	}

	// closed: everything goes; the comment says so; the deployment is inactive.
	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	if h.role(42).Exists {
		t.Error("closed: role still exists")
	}
	comments = h.gh.Comments(h.owner, h.repo, 42)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "revoked") {
		t.Errorf("closed: comments %+v; want the one comment saying revoked", comments)
	}
	for _, d := range h.gh.Deployments(h.owner, h.repo) {
		if lastState(d) != "inactive" {
			t.Errorf("closed: deployment %d is %q; want inactive", d.ID, lastState(d))
		}
	}
	if out := h.outputs(); out["role-arn"] != "" || out["changed"] != "true" {
		t.Errorf("closed outputs: %v", out)
	}

	// closed again: already gone is success, and nothing is written.
	h.resetCounts()
	if code := h.run(); code != 0 {
		t.Fatalf("closed re-run: exit %d", code)
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("re-run of closed wrote: IAM %d, GitHub %v; want nothing", iamW, ghW)
	}
}

func lastState(d fakegithub.Deployment) string {
	if len(d.Statuses) == 0 {
		return ""
	}
	return d.Statuses[len(d.Statuses)-1].State
}
