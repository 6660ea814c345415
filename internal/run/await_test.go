package run

import (
	"strings"
	"testing"

	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// await runs the deploy job's step: mode await on the pull_request event,
// with deployments: read only and no AWS credentials in play.
func (h *harness) await(timeout string) result {
	h.t.Helper()
	h.event("pull_request", "pull_request_target.opened.json")
	return h.runWith(runOpts{env: map[string]string{"mode": "await", "timeout": timeout}})
}

// TestAwait: after the provisioner's up, the deploy job's await finds the
// deployment of the PR's head succeeded and outputs the role the up made;
// it needs no AWS call.
func TestAwait(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(42)
	up := h.outputs()["role-arn"]
	h.resetCounts()
	h.gh.SetPermissions(map[string]string{fakegithub.PermDeployments: fakegithub.Read, fakegithub.PermMetadata: fakegithub.Read})
	r := h.await("30s")
	if r.code != 0 || r.outputs["role-arn"] != up || up == "" {
		t.Errorf("await: exit %d, role-arn %q; want 0 and the up's %q", r.code, r.outputs["role-arn"], up)
	}
	if n := len(h.proxy.Counts()); n != 0 {
		t.Errorf("await made IAM calls %v; want none", h.proxy.Counts())
	}
	if !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("await does not say the deployment succeeded:\n%s", r.stdout)
	}
}

// TestAwaitFailsClearly: a provisioner deployment that failed, or that a
// newer push superseded, fails await at once with what happened; none at
// all fails it at its deadline.
func TestAwaitFailsClearly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, state, timeout, want string
	}{
		{"provisioner failed", "failure", "1m", "ended in failure: its run failed"},
		{"superseded", "inactive", "1m", "is inactive: the pull request was closed, or a newer push superseded this commit"},
		{"never ran", "", "10s", "no successful deployment of 6dcb09b5b578 to preview-pr-42 after 10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if tc.state != "" {
				h.gh.AddDeployment(h.owner, h.repo, fakegithub.Deployment{
					SHA: openedSHA, Environment: "preview-pr-42", Description: planner.DeploymentDescription,
					Statuses: []fakegithub.DeploymentStatus{{State: tc.state}},
				})
			}
			r := h.await(tc.timeout)
			if msg := strings.Join(r.errors(), "\n"); r.code != ExitError || !strings.Contains(msg, tc.want) {
				t.Errorf("exit %d, errors %q; want 1 and %q", r.code, msg, tc.want)
			}
		})
	}
	h := newHarness(t)
	h.set("account-id", "")
	if r := h.await("30s"); r.code != ExitError || !strings.Contains(strings.Join(r.errors(), "\n"), "input account-id: mode await needs the account id") {
		t.Errorf("await without account-id: exit %d, %v", r.code, r.errors())
	}
}
