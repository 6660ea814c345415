package ghapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
)

// perPage is GitHub's largest page size: every listing asks for it so a
// busy pull request costs as few calls as possible.
const perPage = 100

// maxPages bounds every listing (100 × 100 items) so a misbehaving server
// cannot keep the run paging forever.
const maxPages = 100

// PullRequest reads one pull request. The race guard calls it right before
// the first write. A missing PR is an error wrapping ErrNotFound.
func (c *Client) PullRequest(ctx context.Context, owner, repo string, number int) (*github.PullRequest, error) {
	o := op{
		action:     fmt.Sprintf("read pull request %s/%s#%d", owner, repo, number),
		permission: "pull-requests: read",
		notFound:   fmt.Sprintf("pull request %s/%s#%d does not exist", owner, repo, number),
	}
	pr, _, err := c.gh.PullRequests.Get(ctx, owner, repo, number)
	if err != nil {
		return nil, o.fail(err)
	}
	return pr, nil
}

// OpenPullRequests lists every open pull request of a repository, by
// number: sweep's one listing instead of one call per preview.
func (c *Client) OpenPullRequests(ctx context.Context, owner, repo string) (map[int]*github.PullRequest, error) {
	o := op{
		action:     fmt.Sprintf("list open pull requests of %s/%s", owner, repo),
		permission: "pull-requests: read",
		notFound:   fmt.Sprintf("repository %s/%s does not exist or the token cannot see it", owner, repo),
	}
	out := make(map[int]*github.PullRequest)
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: perPage}}
	for range maxPages {
		prs, resp, err := c.gh.PullRequests.List(ctx, owner, repo, opts)
		if err != nil {
			return nil, o.fail(err)
		}
		for _, pr := range prs {
			out[pr.GetNumber()] = pr
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	return nil, fmt.Errorf("cannot %s: more than %d pages", o.action, maxPages)
}

// FileAtRef reads a file's content at a ref (a branch, tag or commit). A
// file that does not exist is found=false with no error.
func (c *Client) FileAtRef(ctx context.Context, owner, repo, path, ref string) (data []byte, found bool, err error) {
	o := op{
		action:     fmt.Sprintf("read %s at %s in %s/%s", path, ref, owner, repo),
		permission: "contents: read",
	}
	file, dir, _, err := c.gh.Repositories.GetContents(ctx, owner, repo, path, &github.RepositoryContentGetOptions{Ref: ref})
	switch {
	case isStatus(err, http.StatusNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, o.fail(err)
	case file == nil || dir != nil:
		return nil, false, fmt.Errorf("cannot %s: it is a directory, not a file", o.action)
	case file.GetType() != "file":
		return nil, false, fmt.Errorf("cannot %s: it is a %s, not a file", o.action, file.GetType())
	}
	s, err := file.GetContent()
	if err != nil {
		return nil, false, fmt.Errorf("cannot %s: %w", o.action, err)
	}
	return []byte(s), true, nil
}
