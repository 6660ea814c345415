package run

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/preview-access/preview-access/internal/testenv"
)

// TestTeardownSurvivesGatewayOutage: a gateway that cannot be reached does
// not keep access alive: the role loses every permission, and ends the run
// unfinished, naming what it left. The role itself stays, without
// permissions, as the record that the teardown is not finished (issue
// 13: the role goes last), and the next run removes the document and the
// role.
func TestTeardownSurvivesGatewayOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.useOPA()
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gateway is down", http.StatusServiceUnavailable)
	}))
	down.Close() // connection refused from now on
	h.set("gateway-url", down.URL)
	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != ExitError {
		t.Fatalf("closed with the gateway down: exit %d; want 1", code)
	}
	if r := h.role(42); r.Exists && (r.Policy != nil || len(r.Managed) > 0) {
		t.Error("the role kept its permissions through a gateway outage")
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "gateway-policy") || !strings.Contains(msg, "access is revoked") {
		t.Errorf("error %q; want it to say access is revoked and the gateway policy was left", msg)
	}
	// Back up: the next run removes the document.
	h.set("gateway-url", testenv.OPAURL(t))
	if code := h.run(); code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if got, reason := allowed(t, h, "pr-42."+h.repo+".preview.test", "octocat", "GET"); got || !strings.Contains(reason, "no preview") {
		t.Errorf("after the re-run: allow %t (%q); want no preview", got, reason)
	}
	if h.role(42).Exists {
		t.Error("the re-run left the role")
	}
}

// TestEnvironmentScopeNeedsAToken: without a token nothing can create the
// environment, so no role whose trust names it is created either.
func TestEnvironmentScopeNeedsAToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("trust-scope", "environment", "INPUT_GITHUB-TOKEN", "")
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "input github-token") || !strings.Contains(msg, "trust-scope: ref") {
		t.Errorf("error %q", msg)
	}
	if h.proxy.Writes() != 0 || h.role(42).Exists {
		t.Error("a role was created")
	}
}

// TestStaleDeploymentsAreDeactivated: a deployment left "success" by an
// earlier run (its successor never got a status) is made inactive on the
// next up and on teardown.
func TestStaleDeploymentsAreDeactivated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	// synchronize, but IAM fails: the new deployment has no status.
	h.event("pull_request_target", "pull_request_target.synchronize.json")
	h.proxy.Fail("TagRole", 20, 500)
	if code := h.run(); code != ExitError {
		t.Fatalf("synchronize with IAM failing: exit %d; want 1", code)
	}
	h.proxy.ClearFaults()
	h.event("pull_request_target", "pull_request_target.closed.unmerged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	for _, d := range h.gh.Deployments(h.owner, h.repo) {
		if s := lastState(d); s == "success" {
			t.Errorf("deployment %d is still %q after teardown", d.ID, s)
		}
	}
}

// TestSweepFinishesATeardownThatFailedOnGitHub: a teardown that revoked
// the role's permissions but could not update GitHub (its comment still
// offers access) leaves the role, without permissions, as the record of
// what is unfinished: down deletes the role last. The next sweep finds the
// role, updates the records and removes it; a second sweep writes
// nothing. (Before issue 13 down deleted the role first, and sweep had to
// search every closed PR's deployments for records that outlived it.)
func TestSweepFinishesATeardownThatFailedOnGitHub(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(5, 6)
	h.gh.ClosePullRequest(h.owner, h.repo, 5, true)
	h.gh.FailNext("PATCH", "/repos/*/*/issues/comments/*", 20, http.StatusBadGateway)
	h.event("pull_request_target", "pull_request_target.closed.merged.json", replace(`"number": 42`, `"number": 5`))
	if code := h.run(); code != ExitError {
		t.Fatalf("down with GitHub failing: exit %d; want 1", code)
	}
	if r := h.role(5); !r.Exists || r.Policy != nil {
		t.Fatalf("after the failed down: role exists %t, policy %s; want the role kept without its policy", r.Exists, r.Policy)
	}
	h.gh.ResetFaults()

	h.set("dry-run", "true")
	if code := h.sweep(); code != 0 || !strings.Contains(h.stdout.String(), h.roleName(5)) {
		t.Fatalf("dry run: exit %d; want the revoked role planned:\n%s", code, h.stdout.String())
	}
	h.set("dry-run", "false")
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	if h.role(5).Exists {
		t.Error("sweep left the revoked role")
	}
	h.checkRevoked(5)
	h.checkLive(6)

	h.resetCounts()
	if code := h.sweep(); code != 0 {
		t.Fatalf("second sweep: exit %d", code)
	}
	if _, ghW := h.writes(); len(ghW) != 0 || h.proxy.Writes() != 0 {
		t.Errorf("second sweep wrote: GitHub %v, IAM %d; want nothing", ghW, h.proxy.Writes())
	}
}
