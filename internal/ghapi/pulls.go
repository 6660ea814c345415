package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

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

// ErrUnreadable: a file could not be read and its absence could not be
// proven either. GitHub answers 404 for a file that does not exist and for
// a repository the token cannot see (no contents: read), so a 404 alone
// proves nothing.
var ErrUnreadable = errors.New("cannot be read, and cannot be proven absent")

// FileAtRef reads a file's content at a ref (a branch, tag or commit; ""
// is the default branch). found is false, with no error, only when the
// file is proven absent: its directory, or the nearest parent that
// exists, is listed and does not hold it. Any doubt is an error wrapping
// ErrUnreadable.
func (c *Client) FileAtRef(ctx context.Context, owner, repo, path, ref string) (data []byte, found bool, err error) {
	o := op{action: "read " + path + at(ref, owner, repo), permission: "contents: read"}
	file, dir, _, err := c.gh.Repositories.GetContents(ctx, owner, repo, path, &github.RepositoryContentGetOptions{Ref: ref})
	switch {
	case isStatus(err, http.StatusNotFound):
		if perr := c.proveAbsent(ctx, owner, repo, path, ref); perr != nil {
			return nil, false, perr
		}
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

// at renders where a file is read from, for messages.
func at(ref, owner, repo string) string {
	if ref == "" {
		return " from the default branch of " + owner + "/" + repo
	}
	return " at " + ref + " of " + owner + "/" + repo
}

// maxListing is how many entries GitHub's contents API lists of a
// directory; a full listing may leave entries out.
const maxListing = 1000

// proveAbsent shows that path does not exist at ref by listing its
// directory; when the directory itself answers 404, its parent, up to the
// repository's root. It returns nil when the listing of an existing
// directory lacks the next step of the path, and an error otherwise.
func (c *Client) proveAbsent(ctx context.Context, owner, repo, path, ref string) error {
	o := op{action: "read " + path + at(ref, owner, repo), permission: "contents: read"}
	unreadable := func(why string) error {
		return fmt.Errorf("%s %w: %s (GitHub answers 404 both for a missing file and for a token without contents: read)", path, ErrUnreadable, why)
	}
	child := strings.Trim(path, "/")
	for {
		parent := ""
		if i := strings.LastIndexByte(child, '/'); i >= 0 {
			parent = child[:i]
		}
		name := child[len(parent):]
		name = strings.TrimPrefix(name, "/")
		_, entries, _, err := c.gh.Repositories.GetContents(ctx, owner, repo, parent, &github.RepositoryContentGetOptions{Ref: ref})
		switch {
		case isStatus(err, http.StatusNotFound) && parent != "":
			child = parent
			continue
		case isStatus(err, http.StatusNotFound):
			return unreadable("not even the repository's root can be listed" + at(ref, owner, repo))
		case err != nil:
			return fmt.Errorf("%s %w: %w", path, ErrUnreadable, o.fail(err))
		case entries == nil:
			return unreadable(parent + " is not a directory")
		}
		for _, e := range entries {
			if e.GetName() == name {
				// Listed, yet not found a moment ago: a race or a
				// token that sees some paths only. Not proven.
				return unreadable(parent + "/" + name + " is listed but does not answer")
			}
		}
		if len(entries) >= maxListing {
			return unreadable("the listing of " + parent + " is cut at 1,000 entries")
		}
		return nil
	}
}
