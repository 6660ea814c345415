package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// open gives each pull request n a preview through an up run of the
// opened event, as the provisioner workflow would.
func (h *harness) open(ns ...int) {
	h.t.Helper()
	for _, n := range ns {
		h.event("pull_request_target", "pull_request_target.opened.json", replace(`"number": 42`, `"number": `+strconv.Itoa(n)))
		if code := h.run(); code != 0 {
			h.t.Fatalf("up of pull request %d: exit %d", n, code)
		}
		if !h.role(n).Exists {
			h.t.Fatalf("up of pull request %d made no role", n)
		}
	}
}

// sweep runs the scheduled workflow.
func (h *harness) sweep() int {
	h.t.Helper()
	h.event("schedule", "schedule.json")
	return h.run()
}

func (h *harness) path() string { return "/preview-access/" + h.owner + "/" + h.repo + "/" }

// createRole makes a role straight in moto, bypassing the tool, with an
// inline policy when policy is set.
func (h *harness) createRole(name, path string, tags map[string]string, policy bool) {
	h.t.Helper()
	ctx := context.Background()
	var tl []types.Tag
	for k, v := range tags {
		tl = append(tl, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := h.iam.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String(name), Path: aws.String(path), Tags: tl,
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		h.iam.DeleteRolePolicy(context.Background(), &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("preview-access")})
		h.iam.DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(name)})
	})
	if policy {
		if _, err := h.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
			RoleName: aws.String(name), PolicyName: aws.String("preview-access"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`),
		}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) exists(name string) bool {
	h.t.Helper()
	_, err := h.iam.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(name)})
	var nse *types.NoSuchEntityException
	switch {
	case err == nil:
		return true
	case errors.As(err, &nse):
		return false
	}
	h.t.Fatal(err)
	return false
}

// ownTags are the tags the tool writes on pull request n's role.
func (h *harness) ownTags(n int, expires time.Time) map[string]string {
	return map[string]string{
		naming.TagManagedBy: naming.ManagedByValue, naming.TagRepository: h.owner + "/" + h.repo,
		naming.TagRepositoryID: strconv.FormatInt(h.repoID, 10), naming.TagPullRequest: strconv.Itoa(n),
		naming.TagExpiresAt: expires.UTC().Format(time.RFC3339),
	}
}

// checkRevoked asserts that pull request n's comment says access was
// revoked and its deployments are inactive.
func (h *harness) checkRevoked(n int) {
	h.t.Helper()
	comments := h.gh.Comments(h.owner, h.repo, n)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "revoked") {
		h.t.Errorf("pull request %d: comments %+v; want the one comment saying revoked", n, comments)
	}
	for _, d := range h.gh.Deployments(h.owner, h.repo) {
		if d.Environment == fmt.Sprintf("preview-pr-%d", n) && lastState(d) != "inactive" {
			h.t.Errorf("pull request %d: deployment %d is %q; want inactive", n, d.ID, lastState(d))
		}
	}
}

func (h *harness) checkLive(n int) {
	h.t.Helper()
	if !h.role(n).Exists {
		h.t.Errorf("role of open pull request %d was removed", n)
	}
	for _, c := range h.gh.Comments(h.owner, h.repo, n) {
		if strings.Contains(c.Body, "revoked") {
			h.t.Errorf("pull request %d: comment says revoked:\n%s", n, c.Body)
		}
	}
	for _, d := range h.gh.Deployments(h.owner, h.repo) {
		if d.Environment == fmt.Sprintf("preview-pr-%d", n) && lastState(d) != "success" {
			h.t.Errorf("pull request %d: deployment is %q; want success", n, lastState(d))
		}
	}
}

// iamWrites are the IAM write calls by action since the last reset.
func (h *harness) iamWrites() map[string]int {
	out := map[string]int{}
	for a, n := range h.proxy.Counts() {
		if !strings.HasPrefix(a, "Get") && !strings.HasPrefix(a, "List") {
			out[a] = n
		}
	}
	return out
}

func TestSweepRemovesClosedKeepsOpen(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2, 3)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, true)
	h.gh.ClosePullRequest(h.owner, h.repo, 3, false)

	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.role(2).Exists || h.role(3).Exists {
		t.Error("roles of closed pull requests 2 and 3 are still there")
	}
	h.checkLive(1)
	h.checkRevoked(2)
	h.checkRevoked(3)
	if diff := cmp.Diff(map[string]int{"DeleteRolePolicy": 2, "DeleteRole": 2}, h.iamWrites()); diff != "" {
		t.Errorf("IAM writes (-want +got):\n%s", diff)
	}
	if n := h.proxy.Count("ListRoles"); n != 1 {
		t.Errorf("ListRoles calls = %d; want 1 (one page)", n)
	}
	var pulls int
	for _, c := range h.gh.Calls() {
		if c.Method == http.MethodGet && c.Path == "/repos/"+h.owner+"/"+h.repo+"/pulls" {
			pulls++
			if !strings.Contains(c.Query, "state=open") || !strings.Contains(c.Query, "per_page=100") {
				t.Errorf("pull request listing %q; want state=open, per_page=100", c.Query)
			}
		} else if strings.HasPrefix(c.Path, "/repos/"+h.owner+"/"+h.repo+"/pulls/") {
			t.Errorf("per-PR read %s %s; sweep lists the open PRs instead", c.Method, c.Path)
		}
	}
	if pulls != 2 {
		t.Errorf("open PR listings = %d; want 2 (the first and the re-check)", pulls)
	}
	out := h.outputs()
	if out["changed"] != "true" {
		t.Errorf("changed = %q; want true", out["changed"])
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(out["plan"]), &p); err != nil || p.Mode != "sweep" || len(p.Changes) != 2 {
		t.Errorf("plan output %q (%v); want a sweep plan of two deletions", out["plan"], err)
	}
	sum := h.summary()
	for _, want := range []string{"**Removed** (2)", h.roleName(2), h.roleName(3), "**Kept** (1)", h.roleName(1) + " (pull request 1 is open)", "**Failed** (0)"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}

	// Nothing left to do: the re-run reads and writes nothing.
	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("second sweep: exit %d", code)
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("second sweep wrote: IAM %v, GitHub %v; want nothing", h.iamWrites(), ghW)
	}
	if out := h.outputs(); out["changed"] != "false" {
		t.Errorf("second sweep changed = %q; want false", out["changed"])
	}
	h.checkLive(1)
}

func TestSweepCLI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, true)
	// The CLI: no runner variables, the repository from flags.
	h.set("GITHUB_ACTIONS", "", "GITHUB_REPOSITORY", "", "GITHUB_REPOSITORY_ID", "", "GITHUB_EVENT_NAME", "", "GITHUB_EVENT_PATH", "")
	if code := h.run("sweep", "--repo", h.owner+"/"+h.repo, "--repository-id", strconv.FormatInt(h.repoID, 10)); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.role(1).Exists {
		t.Error("role of closed pull request 1 is still there")
	}
	h.checkRevoked(1)
	h.checkLive(2)
	if !strings.Contains(h.stdout.String(), "sweep: 1 removed, 1 kept, 0 failed") {
		t.Errorf("stdout lacks the tally:\n%s", h.stdout.String())
	}

	// Without the repository id the sweep cannot recognise its roles.
	if code := h.run("sweep", "--repo", h.owner+"/"+h.repo); code != ExitError {
		t.Errorf("sweep without --repository-id: exit %d; want 1", code)
	}
}

func TestSweepExpired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("ttl", "2d")
	h.open(1, 2)
	// Pull request 2 stays active: a later up pushes its expiry forward.
	h.now = h.now.Add(36 * time.Hour)
	h.open(2)

	h.now = h.now.Add(13 * time.Hour) // 49h after 1's up, 13h after 2's
	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.role(1).Exists {
		t.Error("role of pull request 1 outlived its expiry (its PR is open, but the expiry wins)")
	}
	h.checkRevoked(1)
	h.checkLive(2)
	// The sweep's revocation says which role went, in plain English.
	body := h.gh.Comments(h.owner, h.repo, 1)[0].Body
	if want := "Access ended because " + report.ReasonExpired + ": the role `arn:aws:iam::123456789012:role" + h.path() + h.roleName(1) + "` was removed"; !strings.Contains(body, want) || strings.Contains(body, "the role —") {
		t.Errorf("sweep's revocation comment does not name the role:\n%s\nwant %q", body, want)
	}
	if sum := h.summary(); !strings.Contains(sum, "**Removed** (1)") {
		t.Errorf("summary:\n%s", sum)
	}
	if !strings.Contains(h.stdout.String(), "expired at") {
		t.Errorf("the plan does not say why:\n%s", h.stdout.String())
	}
}

func TestSweepWithoutGitHubTokenRemovesOnlyExpired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("ttl", "1d")
	h.open(1)
	// Expiries count from the start of the day: 2 opens the next day.
	h.now = h.now.Add(16 * time.Hour)
	h.open(2)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, true)
	h.now = h.now.Add(9 * time.Hour) // 1 expired; 2 closed but not expired
	h.set("github-token", "")
	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.role(1).Exists {
		t.Error("expired role of pull request 1 is still there")
	}
	if !h.role(2).Exists {
		t.Error("role of pull request 2 was removed though the sweep could not know its PR is closed")
	}
	if w := strings.Join(h.annotations("warning"), "\n"); !strings.Contains(w, "no GitHub token") {
		t.Errorf("warnings %q; want one about the missing token", w)
	}
	if calls := h.gh.Calls(); len(calls) != 0 {
		t.Errorf("GitHub calls without a token: %v", calls)
	}
}

func TestSweepDryRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2, 3)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, true)
	h.gh.ClosePullRequest(h.owner, h.repo, 3, true)
	h.set("dry-run", "true")
	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("dry run wrote: IAM %v, GitHub %v", h.iamWrites(), ghW)
	}
	for _, n := range []int{1, 2, 3} {
		h.checkLive(n)
	}
	for _, n := range []int{2, 3} {
		if line := "delete  " + h.roleName(n); !strings.Contains(h.stdout.String(), h.roleName(n)) || !strings.Contains(h.stdout.String(), "pull request "+strconv.Itoa(n)+" is closed") {
			t.Errorf("dry run does not list %q:\n%s", line, h.stdout.String())
		}
	}
	out := h.outputs()
	if out["changed"] != "false" {
		t.Errorf("changed = %q; want false", out["changed"])
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(out["plan"]), &p); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range p.Changes {
		if c.Action == plan.Delete {
			names = append(names, c.Name)
		}
	}
	if want := []string{h.roleName(2), h.roleName(3)}; !slices.Equal(names, want) {
		t.Errorf("plan deletes %v; want %v", names, want)
	}
	if sum := h.summary(); !strings.Contains(sum, "Dry run: nothing was removed") || !strings.Contains(sum, h.roleName(2)) {
		t.Errorf("summary:\n%s", sum)
	}
}

// TestSweepLeavesOthersAlone: roles under the path that the tool did not
// make, and roles of other repositories, are never touched.
func TestSweepLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, true)

	untagged := "hand-made-" + h.repo
	h.createRole(untagged, h.path(), map[string]string{"team": "ops"}, true)
	// The tool's tags, but another repository's id, under this path.
	imposter := "imposter-" + h.repo
	tags := h.ownTags(1, h.now.Add(-time.Hour))
	tags[naming.TagRepositoryID] = "1"
	h.createRole(imposter, h.path(), tags, true)
	// Another repository's expired preview of a closed PR number.
	otherOwner, otherRepo := testenv.UniqueRepo(t)
	other := "preview-" + otherOwner + "." + otherRepo + "-pr-1"
	otherTags := h.ownTags(1, h.now.Add(-time.Hour))
	otherTags[naming.TagRepository] = otherOwner + "/" + otherRepo
	otherTags[naming.TagRepositoryID] = "2"
	h.createRole(other, "/preview-access/"+otherOwner+"/"+otherRepo+"/", otherTags, true)

	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.role(1).Exists {
		t.Error("role of closed pull request 1 is still there")
	}
	for _, name := range []string{untagged, imposter, other} {
		if !h.exists(name) {
			t.Errorf("role %s was deleted", name)
		}
	}
	if diff := cmp.Diff(map[string]int{"DeleteRolePolicy": 1, "DeleteRole": 1}, h.iamWrites()); diff != "" {
		t.Errorf("IAM writes (-want +got):\n%s", diff)
	}
	warnings := h.annotations("warning")
	for _, name := range []string{untagged, imposter} {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, name) && strings.Contains(w, "left alone") }) {
			t.Errorf("no warning names %s: %q", name, warnings)
		}
	}
	if slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, other) }) {
		t.Errorf("another repository's role is reported: %q", warnings)
	}
}

// TestSweepRenamedRepository: roles made before a rename live under the
// old name's path; the repository id tag says they are ours.
func TestSweepRenamedRepository(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	oldRepo := "r" + testenv.UniqueName(t)[1:]
	old := "preview-" + h.owner + "." + oldRepo + "-pr-7"
	tags := h.ownTags(7, h.now.Add(24*time.Hour))
	tags[naming.TagRepository] = h.owner + "/" + oldRepo
	h.createRole(old, "/preview-access/"+h.owner+"/"+oldRepo+"/", tags, true)
	keep := "preview-" + h.owner + "." + oldRepo + "-pr-8"
	tags = h.ownTags(8, h.now.Add(24*time.Hour))
	h.createRole(keep, "/preview-access/"+h.owner+"/"+oldRepo+"/", tags, true)
	h.gh.AddPullRequest(h.owner, h.repo, fakegithub.PullRequest{Number: 7, State: "closed", Merged: true})
	h.gh.AddPullRequest(h.owner, h.repo, fakegithub.PullRequest{Number: 8})

	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.exists(old) {
		t.Errorf("role %s of the renamed repository's closed PR is still there", old)
	}
	if !h.exists(keep) {
		t.Errorf("role %s of an open PR was removed", keep)
	}
}

// TestSweepKeepsReopened: a PR reopened after the first listing keeps its
// preview; the re-check right before deleting sees it.
func TestSweepKeepsReopened(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, false)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, false)
	var once sync.Once
	// ListRoles comes after the first PR listing and before the re-check.
	h.proxy.BeforeForward(func(action string) {
		if action == "ListRoles" {
			once.Do(func() { h.gh.ReopenPullRequest(h.owner, h.repo, 2) })
		}
	})
	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	h.proxy.BeforeForward(nil)
	if h.role(1).Exists {
		t.Error("role of closed pull request 1 is still there")
	}
	h.checkRevoked(1)
	h.checkLive(2)
	if diff := cmp.Diff(map[string]int{"DeleteRolePolicy": 1, "DeleteRole": 1}, h.iamWrites()); diff != "" {
		t.Errorf("IAM writes (-want +got):\n%s", diff)
	}
	if sum := h.summary(); !strings.Contains(sum, h.roleName(2)+" (pull request 2 was reopened)") {
		t.Errorf("summary does not say 2 was kept as reopened:\n%s", sum)
	}
}

func TestSweepWithoutPullRequestPermissionDeletesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, true)
	h.gh.SetPermissions(map[string]string{fakegithub.PermContents: fakegithub.Read, fakegithub.PermMetadata: fakegithub.Read, fakegithub.PermDeployments: fakegithub.Write})
	h.resetCounts()
	if code := h.sweep(); code != ExitError {
		t.Fatalf("sweep: exit %d; want 1", code)
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("writes: IAM %v, GitHub %v; want none", h.iamWrites(), ghW)
	}
	if n := len(h.proxy.Counts()); n != 0 {
		t.Errorf("IAM calls %v; want none (the PR listing comes first)", h.proxy.Counts())
	}
	if !h.role(1).Exists {
		t.Error("the role was removed")
	}
	errs := strings.Join(h.annotations("error"), "\n")
	for _, want := range []string{"pull-requests: read", "nothing was deleted"} {
		if !strings.Contains(errs, want) {
			t.Errorf("error %q lacks %q", errs, want)
		}
	}
}

func TestSweepRetriesThrottlingAndErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2, 3)
	for _, n := range []int{1, 2, 3} {
		h.gh.ClosePullRequest(h.owner, h.repo, n, true)
	}
	// Fewer faults than one call has attempts (testenv.MaxAttempts), so
	// every call gets through whatever the interleaving.
	h.proxy.Throttle("DeleteRole", 2)
	h.proxy.Fail("DeleteRole", 1, 500)
	h.proxy.Throttle("DeleteRolePolicy", 1)
	h.proxy.Fail("DeleteRolePolicy", 1, 503)
	h.proxy.Fail("ListRoles", 1, 503)
	h.proxy.Throttle("GetRole", 2)
	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	for _, n := range []int{1, 2, 3} {
		if h.role(n).Exists {
			t.Errorf("role of pull request %d is still there", n)
		}
		h.checkRevoked(n)
	}
	if got := h.proxy.Count("DeleteRole"); got != 6 {
		t.Errorf("DeleteRole calls = %d; want 6 (3 + 3 retried)", got)
	}
}

func TestSweepFaultOutlastingRetries(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2, 3)
	for _, n := range []int{1, 2, 3} {
		h.gh.ClosePullRequest(h.owner, h.repo, n, true)
	}
	// One at a time, so the first DeleteRole (pull request 1's) takes
	// every fault.
	h.set("concurrency", "1")
	h.proxy.Fail("DeleteRole", testenv.MaxAttempts, 503)
	if code := h.sweep(); code != ExitError {
		t.Fatalf("sweep: exit %d; want 1", code)
	}
	if !h.role(1).Exists {
		t.Fatal("role 1 is gone although every DeleteRole failed")
	}
	if h.role(2).Exists || h.role(3).Exists {
		t.Error("the failure of one role stopped the others")
	}
	errs := strings.Join(h.annotations("error"), "\n")
	for _, want := range []string{"left 1 previews behind", h.roleName(1), "re-run"} {
		if !strings.Contains(errs, want) {
			t.Errorf("error %q lacks %q", errs, want)
		}
	}
	if sum := h.summary(); !strings.Contains(sum, "**Failed** (1)") || !strings.Contains(sum, "**Removed** (2)") {
		t.Errorf("summary:\n%s", sum)
	}
	// Its permissions are gone, and its GitHub records say so: they
	// follow the revocation. The role itself stays, the record of the
	// unfinished teardown (issue 13: the role goes last).
	if r := h.role(1); r.Policy != nil || len(r.Managed) > 0 {
		t.Error("role 1 kept its permissions")
	}
	h.checkRevoked(1)

	// The fault is over: a re-run finishes the job.
	if code := h.sweep(); code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if h.role(1).Exists {
		t.Error("role 1 survived the re-run")
	}
	h.checkRevoked(1)
}

// TestSweepRoleWithForeignAttachment: a role of ours that someone attached
// an instance profile to is not half-removed; it is named as a leftover.
func TestSweepRoleWithForeignAttachment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1, 2)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, true)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, true)
	ctx := context.Background()
	ip := "ip-" + h.repo
	if _, err := h.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(ip)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(ip), RoleName: aws.String(h.roleName(1))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.iam.RemoveRoleFromInstanceProfile(context.Background(), &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(ip), RoleName: aws.String(h.roleName(1))})
		h.iam.DeleteInstanceProfile(context.Background(), &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(ip)})
	})
	h.resetCounts()
	if code := h.sweep(); code != ExitError {
		t.Fatalf("sweep: exit %d; want 1", code)
	}
	if o := h.role(1); !o.Exists || o.Policy == nil {
		t.Error("role 1 was changed although it has an instance profile the tool did not make")
	}
	if h.role(2).Exists {
		t.Error("role 2 is still there")
	}
	if errs := strings.Join(h.annotations("error"), "\n"); !strings.Contains(errs, "instance profile "+ip) {
		t.Errorf("error %q does not name the instance profile", errs)
	}
}

func TestSweepOPAGateway(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.useOPA()
	h.open(1, 2, 3)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, true)
	h.gh.ClosePullRequest(h.owner, h.repo, 3, true)
	// Pull request 3's role is already gone, but not its document, comment
	// or deployment: a teardown that failed after IAM.
	for _, del := range []func() error{
		func() error {
			_, err := h.iam.DeleteRolePolicy(context.Background(), &iam.DeleteRolePolicyInput{RoleName: aws.String(h.roleName(3)), PolicyName: aws.String("preview-access")})
			return err
		},
		func() error {
			_, err := h.iam.DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(h.roleName(3))})
			return err
		},
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	id := func(n int) string { return preview.Preview{RepositoryID: h.repoID, Number: n}.ID() }
	if !opaHas(t, id(3)) {
		t.Fatal("setup: document of 3 is gone")
	}

	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if !opaHas(t, id(1)) {
		t.Error("document of open pull request 1 was removed")
	}
	for _, n := range []int{2, 3} {
		if opaHas(t, id(n)) {
			t.Errorf("document of closed pull request %d is still there", n)
		}
	}
	if h.role(2).Exists {
		t.Error("role of 2 is still there")
	}
	if sum := h.summary(); !strings.Contains(sum, "gateway policy "+id(3)) {
		t.Errorf("summary does not list the orphan document:\n%s", sum)
	}
	h.checkLive(1)
	h.checkRevoked(2)
	h.checkRevoked(3)
}

// opaHas reports whether OPA holds the preview document id.
func opaHas(t *testing.T, id string) bool {
	t.Helper()
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	opaDo(t, http.MethodGet, gateway.OPARepositoriesPath+"/"+repositoryOf(id)+"/previews/"+id, nil, &out)
	return len(out.Result) > 0 && string(out.Result) != "null"
}

// repositoryOf is the repository id in a preview id gh-<id>-pr-<n>.
func repositoryOf(previewID string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(previewID, "gh-"), "-")
	return id
}

// TestSweepStopsBeforeItsDeadline: a sweep with more to remove than its
// deadline allows starts no teardown after the deadline minus its
// reserve, says what it left, and leaves no preview half-removed; the next
// sweep finishes. The run's clock moves two minutes with every DeleteRole,
// so the fourth removal reaches the stop of a 10m timeout (reserve 2m).
func TestSweepStopsBeforeItsDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	prs := []int{1, 2, 3, 4, 5, 6}
	h.open(prs...)
	for _, n := range prs {
		h.gh.ClosePullRequest(h.owner, h.repo, n, true)
	}
	h.set("concurrency", "1", "timeout", "10m")
	h.proxy.BeforeForward(func(action string) {
		if action == "DeleteRole" {
			h.advance(2 * time.Minute)
		}
	})
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	h.proxy.BeforeForward(nil)
	var removed, left []int
	for _, n := range prs {
		r := h.role(n)
		switch {
		case !r.Exists:
			removed = append(removed, n)
			h.checkRevoked(n)
		case r.Policy != nil:
			left = append(left, n)
			for _, c := range h.gh.Comments(h.owner, h.repo, n) {
				if strings.Contains(c.Body, "revoked") {
					t.Errorf("pull request %d was left, but its comment says revoked", n)
				}
			}
		default:
			t.Errorf("pull request %d is half-removed: its role exists without its policy", n)
		}
	}
	if !slices.Equal(removed, []int{1, 2, 3, 4}) || !slices.Equal(left, []int{5, 6}) {
		t.Errorf("removed %v, left %v; want 1-4 removed before the stop and 5, 6 left whole", removed, left)
	}
	warnings := strings.Join(h.annotations("warning"), "\n")
	if !strings.Contains(warnings, "2 previews are left for the next run: pull request 5, pull request 6") {
		t.Errorf("warnings %q; want the previews left named", warnings)
	}
	if sum := h.summary(); !strings.Contains(sum, "**Left for the next run (deadline)** (2)") {
		t.Errorf("summary does not list what was left:\n%s", sum)
	}
	if code := h.sweep(); code != 0 {
		t.Fatalf("next sweep: exit %d", code)
	}
	for _, n := range left {
		if h.role(n).Exists {
			t.Errorf("the next sweep left pull request %d", n)
		}
		h.checkRevoked(n)
	}
}
