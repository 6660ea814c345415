package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/preview"
)

// GitHubAPI is what a run needs from GitHub; *ghapi.Client satisfies it.
type GitHubAPI interface {
	PullRequest(ctx context.Context, owner, repo string, number int) (*github.PullRequest, error)
	OpenPullRequests(ctx context.Context, owner, repo string) (map[int]*github.PullRequest, error)
	FileAtRef(ctx context.Context, owner, repo, path, ref string) ([]byte, bool, error)
	Comment(ctx context.Context, owner, repo string, number int, marker string) (*github.IssueComment, error)
	StickyComments(ctx context.Context, owner, repo string, number int, marker string) (own []*github.IssueComment, others int, err error)
	WriteComment(ctx context.Context, owner, repo string, number int, existing *github.IssueComment, marker, body string) (bool, error)
	DeleteComment(ctx context.Context, owner, repo string, id int64) (bool, error)
	Deployments(ctx context.Context, owner, repo, environment string) ([]ghapi.DeploymentState, error)
	CreateDeployment(ctx context.Context, owner, repo, environment, ref string) (int64, error)
	SetDeploymentStatus(ctx context.Context, owner, repo string, id int64, state, url string) error
	DeactivateDeployments(ctx context.Context, owner, repo, environment string) (bool, error)
	Deactivate(ctx context.Context, owner, repo string, ids []int64) error
	RecentDeployments(ctx context.Context, owner, repo string, since time.Time) ([]*github.Deployment, error)
	Environment(ctx context.Context, owner, repo, env string) (ghapi.EnvironmentState, error)
	EnsureEnvironment(ctx context.Context, owner, repo, env, ref string) (bool, error)
	DeleteEnvironment(ctx context.Context, owner, repo, env string) (bool, error)
}

var _ GitHubAPI = (*ghapi.Client)(nil)

var errNotExist = fs.ErrNotExist

// newGitHub builds the GitHub client, or returns nil when there is no
// token: the CLI without credentials still plans and
// converges IAM and the gateway.
func newGitHub(env Env, u *ui, cfg config.Config) (GitHubAPI, error) {
	token := cfg.GitHubToken
	if token == "" {
		token = env.Getenv("GITHUB_TOKEN")
	}
	c, err := ghapi.New(ghapi.Options{Token: token, APIURL: env.Getenv("GITHUB_API_URL"), HTTPClient: env.HTTPClient})
	if errors.Is(err, ghapi.ErrNoToken) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	u.mask(token)
	return c, nil
}

// previewFromAPI reads the pull request a workflow_dispatch or CLI run
// names.
func previewFromAPI(ctx context.Context, gh GitHubAPI, owner, repo string, number int) (preview.Preview, error) {
	if gh == nil {
		return preview.Preview{}, errors.New("reading the pull request needs a GitHub token (github-token)")
	}
	pr, err := gh.PullRequest(ctx, owner, repo, number)
	if err != nil {
		return preview.Preview{}, err
	}
	return event.FromPullRequest(pr)
}
