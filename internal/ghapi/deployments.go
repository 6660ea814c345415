package ghapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/preview-access/preview-access/internal/group"

	"github.com/google/go-github/v60/github"
)

// DeploymentState is one deployment of an environment with its latest
// status.
type DeploymentState struct {
	ID          int64
	SHA         string
	Description string
	// State is the latest status's state, as REST spells it ("success",
	// "inactive", …); "" when the deployment has no status yet.
	State string
	URL   string // the latest status's environment URL
}

// Current reports whether the deployment is of sha and is live at url.
func (s DeploymentState) Current(sha, url string) bool {
	return s.SHA == sha && s.State == "success" && s.URL == url
}

// Deployments reads the newest deployments of an environment (at most
// maxDeployments), newest first, each with its latest status: one GraphQL
// query, where REST needs a read per deployment after the listing. Older
// ones are not read: every successful up makes all but the newest
// inactive, so only the newest few can still be active.
func (c *Client) Deployments(ctx context.Context, owner, repo, environment string) ([]DeploymentState, error) {
	o := c.deploymentsRead(owner, repo, environment)
	var out struct {
		Repository struct {
			Deployments struct {
				Nodes []struct {
					DatabaseID   int64  `json:"databaseId"`
					CommitOid    string `json:"commitOid"`
					Description  string `json:"description"`
					LatestStatus *struct {
						State          string `json:"state"`
						EnvironmentURL string `json:"environmentUrl"`
					} `json:"latestStatus"`
				} `json:"nodes"`
			} `json:"deployments"`
		} `json:"repository"`
	}
	vars := map[string]any{"owner": owner, "name": repo, "environment": environment, "first": maxDeployments}
	if err := c.graphql(ctx, o, deploymentsQuery, vars, &out); err != nil {
		return nil, err
	}
	nodes := out.Repository.Deployments.Nodes
	states := make([]DeploymentState, len(nodes))
	for i, n := range nodes {
		states[i] = DeploymentState{ID: n.DatabaseID, SHA: n.CommitOid, Description: n.Description}
		if st := n.LatestStatus; st != nil {
			// GraphQL's DeploymentStatusState is REST's state in upper case.
			states[i].State, states[i].URL = strings.ToLower(st.State), st.EnvironmentURL
		}
	}
	return states, nil
}

const deploymentsQuery = `query($owner: String!, $name: String!, $environment: String!, $first: Int!) {
  repository(owner: $owner, name: $name) {
    deployments(environments: [$environment], first: $first, orderBy: {field: CREATED_AT, direction: DESC}) {
      nodes { databaseId commitOid description latestStatus { state environmentUrl } }
    }
  }
}`

// maxDeployments bounds how many of an environment's deployments
// Deployments reads.
const maxDeployments = 16

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
