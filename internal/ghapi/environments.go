package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
)

// environmentPermission is what a token needs to create, change or delete
// environments and their branch policies. The GITHUB_TOKEN of a workflow can
// never hold it, hence the advice.
const environmentPermission = "Administration: write (repository administration) — use a GitHub App token; or use trust-scope: ref, which needs no environment"

// BranchPolicy is one deployment branch or tag policy of an environment.
type BranchPolicy struct {
	ID   int64
	Name string // fnmatch pattern matched against the run's GITHUB_REF
	Type string // "branch" or "tag"
}

// EnvironmentState is an environment as plan needs it.
type EnvironmentState struct {
	Exists bool
	// ProtectedBranches and CustomBranchPolicies are the environment's
	// deployment_branch_policy; both false means any ref may deploy.
	ProtectedBranches    bool
	CustomBranchPolicies bool
	Policies             []BranchPolicy // sorted by name, then type
}

// AdmitsOnly reports whether the environment admits deployments from ref's
// runs and from no other ref: custom branch policies on, and exactly one
// policy, the branch policy naming ref.
//
// GitHub matches an environment's "selected branches and tags" rules
// against the GITHUB_REF of the workflow run; a pull_request run's
// GITHUB_REF is refs/pull/N/merge, and GitHub's documentation says a
// *branch* rule named `refs/pull/*/merge` admits pull_request runs
// ("Deployment branches and tags", docs.github.com/actions/reference/
// workflows-and-actions/deployments-and-environments). So the one policy is
// {"name": "refs/pull/42/merge", "type": "branch"}: the full ref, as a
// branch rule, with no wildcard.
func (s EnvironmentState) AdmitsOnly(ref string) bool {
	return s.Exists && !s.ProtectedBranches && s.CustomBranchPolicies &&
		len(s.Policies) == 1 && s.Policies[0].Name == ref && s.Policies[0].Type == "branch"
}

// Environment reads an environment and its branch policies. A missing
// environment is a zero EnvironmentState.
func (c *Client) Environment(ctx context.Context, owner, repo, env string) (EnvironmentState, error) {
	if err := checkEnvName(env); err != nil {
		return EnvironmentState{}, err
	}
	o := op{
		action:     fmt.Sprintf("read environment %s of %s/%s", env, owner, repo),
		permission: "actions: read",
	}
	e, _, err := c.gh.Repositories.GetEnvironment(ctx, owner, repo, env)
	switch {
	case isStatus(err, http.StatusNotFound):
		return EnvironmentState{}, nil
	case err != nil:
		return EnvironmentState{}, o.fail(err)
	}
	st := EnvironmentState{Exists: true}
	if p := e.DeploymentBranchPolicy; p != nil {
		st.ProtectedBranches = p.GetProtectedBranches()
		st.CustomBranchPolicies = p.GetCustomBranchPolicies()
	}
	if !st.CustomBranchPolicies {
		// GitHub answers 404 for the policy list unless custom policies
		// are on; there are none to read.
		return st, nil
	}
	list, _, err := c.gh.Repositories.ListDeploymentBranchPolicies(ctx, owner, repo, env)
	if err != nil {
		return EnvironmentState{}, o.fail(err)
	}
	for _, p := range list.BranchPolicies {
		typ := p.GetType()
		if typ == "" {
			typ = "branch" // GitHub's default; older servers omit it
		}
		st.Policies = append(st.Policies, BranchPolicy{ID: p.GetID(), Name: p.GetName(), Type: typ})
	}
	slices.SortFunc(st.Policies, func(a, b BranchPolicy) int {
		return strings.Compare(a.Name+"\x00"+a.Type, b.Name+"\x00"+b.Type)
	})
	if n := list.GetTotalCount(); n > len(st.Policies) {
		// More than one page: more than the single policy we keep, so it
		// is not up to date either way; record the count so AdmitsOnly
		// fails and EnsureEnvironment cleans up.
		for range n - len(st.Policies) {
			st.Policies = append(st.Policies, BranchPolicy{Name: "(unlisted)", Type: "branch"})
		}
	}
	return st, nil
}

// EnsureEnvironment makes environment env admit only ref's runs (see
// AdmitsOnly): it creates or updates env with custom branch policies,
// creates the one branch policy naming ref, deletes every other policy, and
// then reads the environment back to verify. When it already admits only
// ref, nothing is written. A token without repository administration gets a
// *PermissionError; GitHub would otherwise create the environment
// unprotected the first time a job names it, so this never degrades
// silently.
func (c *Client) EnsureEnvironment(ctx context.Context, owner, repo, env, ref string) (changed bool, err error) {
	if err := checkEnvName(env); err != nil {
		return false, err
	}
	if err := checkPolicyRef(ref); err != nil {
		return false, err
	}
	cur, err := c.Environment(ctx, owner, repo, env)
	if err != nil {
		return false, err
	}
	if cur.AdmitsOnly(ref) {
		return false, nil
	}
	w := op{action: fmt.Sprintf("create or update environment %s of %s/%s", env, owner, repo), permission: environmentPermission}

	if !cur.Exists || cur.ProtectedBranches || !cur.CustomBranchPolicies {
		if err := c.putBranchPolicySetting(ctx, owner, repo, env); err != nil {
			return false, w.fail(err)
		}
		changed = true
		// Switching to custom policies may have kept or dropped old ones:
		// read them again rather than guess.
		if cur, err = c.Environment(ctx, owner, repo, env); err != nil {
			return changed, err
		}
	}

	has := func(st EnvironmentState) bool {
		return slices.ContainsFunc(st.Policies, func(p BranchPolicy) bool { return p.Name == ref && p.Type == "branch" })
	}
	if !has(cur) {
		err := c.retryWrite(ctx, func() error {
			_, _, err := c.gh.Repositories.CreateDeploymentBranchPolicy(ctx, owner, repo, env, &github.DeploymentBranchPolicyRequest{
				Name: github.String(ref),
				Type: github.String("branch"),
			})
			return err
		}, func() (bool, error) {
			st, err := c.Environment(ctx, owner, repo, env)
			return has(st), err
		})
		if err != nil {
			return changed, w.fail(err)
		}
		changed = true
	}

	// Delete the others; a list longer than one page takes several rounds.
	for round := 0; ; round++ {
		var extra []BranchPolicy
		for _, p := range cur.Policies {
			if p.ID != 0 && (p.Name != ref || p.Type != "branch") {
				extra = append(extra, p)
			}
		}
		for _, p := range extra {
			_, err := c.gh.Repositories.DeleteDeploymentBranchPolicy(ctx, owner, repo, env, p.ID)
			if err != nil && !isStatus(err, http.StatusNotFound) {
				return changed, w.fail(err)
			}
			changed = true
		}
		if cur, err = c.Environment(ctx, owner, repo, env); err != nil {
			return changed, err
		}
		if cur.AdmitsOnly(ref) {
			return changed, nil
		}
		if len(extra) == 0 || round == maxPages {
			return changed, fmt.Errorf("environment %s of %s/%s did not verify after update: want only branch policy %q with custom branch policies on; GitHub has %s",
				env, owner, repo, ref, cur.describe())
		}
	}
}

// putBranchPolicySetting turns the environment's custom deployment branch
// policies on, creating it when absent. The body holds that field alone:
// go-github's CreateUpdateEnvironment would also send wait_timer 0,
// reviewers null and can_admins_bypass, which GitHub's schema refuses
// (additionalProperties: false) and which would wipe the wait timer and
// required reviewers a person set on the environment. GitHub keeps the
// fields a request leaves out.
func (c *Client) putBranchPolicySetting(ctx context.Context, owner, repo, env string) error {
	u := fmt.Sprintf("repos/%s/%s/environments/%s", url.PathEscape(owner), url.PathEscape(repo), url.PathEscape(env))
	body := map[string]any{"deployment_branch_policy": map[string]bool{"protected_branches": false, "custom_branch_policies": true}}
	req, err := c.gh.NewRequest(http.MethodPut, u, body)
	if err != nil {
		return err
	}
	_, err = c.gh.Do(ctx, req, nil)
	return err
}

// DeleteEnvironment deletes env. An environment that is already gone is
// success with changed=false.
func (c *Client) DeleteEnvironment(ctx context.Context, owner, repo, env string) (changed bool, err error) {
	if err := checkEnvName(env); err != nil {
		return false, err
	}
	o := op{action: fmt.Sprintf("delete environment %s of %s/%s", env, owner, repo), permission: environmentPermission}
	_, err = c.gh.Repositories.DeleteEnvironment(ctx, owner, repo, env)
	switch {
	case isStatus(err, http.StatusNotFound):
		return false, nil
	case err != nil:
		return false, o.fail(err)
	}
	return true, nil
}

func (s EnvironmentState) describe() string {
	if !s.Exists {
		return "no such environment"
	}
	var ps []string
	for _, p := range s.Policies {
		ps = append(ps, fmt.Sprintf("%s %q", p.Type, p.Name))
	}
	return fmt.Sprintf("protected_branches=%t custom_branch_policies=%t policies=[%s]",
		s.ProtectedBranches, s.CustomBranchPolicies, strings.Join(ps, ", "))
}

// checkEnvName refuses names that would change the request path. GitHub
// environment names are at most 255 characters.
func checkEnvName(env string) error {
	if env == "" || len(env) > 255 || strings.ContainsAny(env, "/?#%\\\x00\r\n") || env == "." || env == ".." {
		return fmt.Errorf("environment name %q is empty, too long or contains a character not allowed in a URL path segment", env)
	}
	return nil
}

// checkPolicyRef refuses refs whose policy would admit more than one ref:
// policy names are fnmatch patterns, so a wildcard would widen the trust.
func checkPolicyRef(ref string) error {
	if ref == "" || strings.ContainsAny(ref, "*?[]{}\\") || strings.TrimSpace(ref) != ref {
		return errors.New("deployment branch policy ref must be one exact ref such as refs/pull/42/merge, without wildcards")
	}
	return nil
}
