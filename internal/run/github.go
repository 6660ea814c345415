package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/preview"
)

// GitHubAPI is what a run needs from GitHub.
type GitHubAPI = engine.GitHubAPI

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
