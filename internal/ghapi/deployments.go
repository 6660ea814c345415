package ghapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/preview-access/preview-access/internal/group"

	"github.com/google/go-github/v60/github"
)

// DeploymentState is the latest deployment of an environment and its latest
// status, as plan needs them.
type DeploymentState struct {
	Deployment *github.Deployment       // nil when the environment has none
	Status     *github.DeploymentStatus // nil when the deployment has no status
}

// Exists reports whether the environment has a deployment.
func (s DeploymentState) Exists() bool { return s.Deployment != nil }

// State is the latest status's state ("success", "inactive", …) or "".
func (s DeploymentState) State() string { return s.Status.GetState() }

// URL is the latest status's environment_url or "".
func (s DeploymentState) URL() string { return s.Status.GetEnvironmentURL() }

// SHA is the deployed commit or "".
func (s DeploymentState) SHA() string { return s.Deployment.GetSHA() }

// Current reports whether the latest deployment is of sha and is live at url.
func (s DeploymentState) Current(sha, url string) bool {
	return s.Exists() && s.SHA() == sha && s.State() == "success" && s.URL() == url
}

// Deployments reads the newest deployments of an environment (at most
// maxDeployments), newest first, each with its latest status, read eight
// at a time. Older ones are not read: every successful up makes all but
// the newest inactive, so only the newest few can still be active.
func (c *Client) Deployments(ctx context.Context, owner, repo, environment string) ([]DeploymentState, error) {
	o := c.deploymentsRead(owner, repo, environment)
	all, _, err := c.gh.Repositories.ListDeployments(ctx, owner, repo, &github.DeploymentsListOptions{
		Environment: environment, ListOptions: github.ListOptions{PerPage: maxDeployments},
	})
	if err != nil {
		return nil, o.fail(err)
	}
	out := make([]DeploymentState, len(all))
	err = group.Each(len(all), 8, func(i int) (err error) {
		out[i].Deployment = all[i]
		out[i].Status, err = c.latestStatus(ctx, owner, repo, all[i].GetID(), o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// maxDeployments bounds how many of an environment's deployments
// Deployments reads.
const maxDeployments = 16

// RecentDeployments lists the repository's deployments of every
// environment, newest first, back to since: sweep's one listing to find
// previews whose records outlived their role.
func (c *Client) RecentDeployments(ctx context.Context, owner, repo string, since time.Time) ([]*github.Deployment, error) {
	o := op{action: fmt.Sprintf("list deployments of %s/%s", owner, repo), permission: "deployments: read"}
	var out []*github.Deployment
	opts := &github.DeploymentsListOptions{ListOptions: github.ListOptions{PerPage: perPage}}
	for page := 0; page < maxPages; page++ {
		ds, resp, err := c.gh.Repositories.ListDeployments(ctx, owner, repo, opts)
		if err != nil {
			return nil, o.fail(err)
		}
		for _, d := range ds {
			if d.GetCreatedAt().Before(since) {
				return out, nil
			}
			out = append(out, d)
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// CreateDeployment creates a deployment of ref (a commit SHA, preferably)
// to environment, with no status yet: auto_merge false (GitHub must never
// merge the base branch into the PR's branch), required_contexts empty
// (the preview is not gated on checks), transient, not production.
func (c *Client) CreateDeployment(ctx context.Context, owner, repo, environment, ref string) (int64, error) {
	if environment == "" || ref == "" {
		return 0, errors.New("deployment: empty environment or ref")
	}
	w := op{
		action:     fmt.Sprintf("create deployments in %s/%s", owner, repo),
		permission: "deployments: write",
	}
	var id int64
	err := c.retryWrite(ctx, func() error {
		d, _, err := c.gh.Repositories.CreateDeployment(ctx, owner, repo, &github.DeploymentRequest{
			Ref:                   github.String(ref),
			Task:                  github.String("deploy"),
			AutoMerge:             github.Bool(false),
			RequiredContexts:      &[]string{},
			Environment:           github.String(environment),
			Description:           github.String(deploymentDescription),
			TransientEnvironment:  github.Bool(true),
			ProductionEnvironment: github.Bool(false),
		})
		id = d.GetID()
		return err
	}, func() (bool, error) {
		// A deployment of this ref that preview-access made and that has
		// no status yet is the one the failed call created.
		ds, _, err := c.gh.Repositories.ListDeployments(ctx, owner, repo, &github.DeploymentsListOptions{
			Environment: environment, Ref: ref, ListOptions: github.ListOptions{PerPage: maxDeployments},
		})
		if err != nil {
			return false, err
		}
		for _, d := range ds {
			if d.GetDescription() != deploymentDescription {
				continue
			}
			sts, _, err := c.gh.Repositories.ListDeploymentStatuses(ctx, owner, repo, d.GetID(), &github.ListOptions{PerPage: 1})
			if err != nil {
				return false, err
			}
			if len(sts) == 0 {
				id = d.GetID()
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return 0, w.fail(err)
	}
	return id, nil
}

// deploymentDescription marks the deployments preview-access creates.
const deploymentDescription = "preview-access"

// SetDeploymentStatus posts a status ("success" with the preview's url, or
// "inactive") to deployment id.
func (c *Client) SetDeploymentStatus(ctx context.Context, owner, repo string, id int64, state, url string) error {
	w := op{
		action:     fmt.Sprintf("set deployment statuses in %s/%s", owner, repo),
		permission: "deployments: write",
	}
	desc := "preview access granted"
	if state == "inactive" {
		desc = "preview access revoked"
	}
	req := &github.DeploymentStatusRequest{State: github.String(state), Description: github.String(desc)}
	if url != "" {
		req.EnvironmentURL = github.String(url)
	}
	err := c.retryWrite(ctx, func() error {
		_, _, err := c.gh.Repositories.CreateDeploymentStatus(ctx, owner, repo, id, req)
		return err
	}, func() (bool, error) {
		latest, err := c.latestStatus(ctx, owner, repo, id, w)
		return latest.GetState() == state && latest.GetEnvironmentURL() == url, err
	})
	if err != nil {
		return w.fail(err)
	}
	return nil
}

// DeactivateDeployments sets status inactive on every deployment of the
// environment (of those Deployments reads) whose latest status is not
// inactive already.
func (c *Client) DeactivateDeployments(ctx context.Context, owner, repo, environment string) (changed bool, err error) {
	if environment == "" {
		return false, errors.New("deployment: empty environment name")
	}
	states, err := c.Deployments(ctx, owner, repo, environment)
	if err != nil {
		return false, err
	}
	ids := Active(states)
	return len(ids) > 0, c.Deactivate(ctx, owner, repo, ids)
}

// Active are the ids of the deployments whose latest status is not
// inactive (one with no status yet counts as active).
func Active(states []DeploymentState) []int64 {
	var ids []int64
	for _, st := range states {
		if st.State() != "inactive" {
			ids = append(ids, st.Deployment.GetID())
		}
	}
	return ids
}

// Deactivate posts status inactive to each deployment of ids, concurrently.
func (c *Client) Deactivate(ctx context.Context, owner, repo string, ids []int64) error {
	return group.Each(len(ids), 8, func(i int) error {
		return c.SetDeploymentStatus(ctx, owner, repo, ids[i], "inactive", "")
	})
}

// latestStatus returns a deployment's newest status (GitHub lists newest
// first), or nil.
func (c *Client) latestStatus(ctx context.Context, owner, repo string, id int64, o op) (*github.DeploymentStatus, error) {
	sts, _, err := c.gh.Repositories.ListDeploymentStatuses(ctx, owner, repo, id, &github.ListOptions{PerPage: 1})
	if err != nil {
		return nil, o.fail(err)
	}
	if len(sts) == 0 {
		return nil, nil
	}
	return sts[0], nil
}

func (c *Client) deploymentsRead(owner, repo, environment string) op {
	return op{
		action:     fmt.Sprintf("read deployments of environment %s in %s/%s", environment, owner, repo),
		permission: "deployments: read",
	}
}
