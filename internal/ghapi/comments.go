package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/group"
)

// Identity is who the token writes as: github-actions for the workflow's
// GITHUB_TOKEN, the app's bot for an App token, the user for a personal
// token. ID is the account's database id (a REST user's "id").
type Identity struct {
	Login string
	ID    int64
}

// Owns reports whether u is the identity: by id when both are known,
// else by login, ignoring case and the "[bot]" that REST adds to bots'
// logins and GraphQL does not.
func (i Identity) Owns(u *github.User) bool {
	if u == nil {
		return false
	}
	if i.ID != 0 && u.GetID() != 0 {
		return i.ID == u.GetID()
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "[bot]")) }
	return i.Login != "" && norm(i.Login) == norm(u.GetLogin())
}

// Identity asks GitHub who the token is (GraphQL's viewer: REST has no
// call that answers it for an installation token), once per Client.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	c.identityOnce.Do(func() { c.identity, c.identityErr = c.viewer(ctx) })
	return c.identity, c.identityErr
}

func (c *Client) viewer(ctx context.Context) (Identity, error) {
	o := op{action: "ask GitHub who the token is (GraphQL viewer)", permission: "a valid github-token"}
	var out struct {
		Viewer struct {
			Login      string `json:"login"`
			DatabaseID int64  `json:"databaseId"`
		} `json:"viewer"`
	}
	if err := c.graphql(ctx, o, viewerQuery, nil, &out); err != nil {
		return Identity{}, err
	}
	if out.Viewer.Login == "" {
		return Identity{}, fmt.Errorf("cannot %s: no viewer in the answer", o.action)
	}
	return Identity{Login: out.Viewer.Login, ID: out.Viewer.DatabaseID}, nil
}

const viewerQuery = "query { viewer { login databaseId } }"

// StickyComments lists the comments of issue or pull request number whose
// body starts with marker, searching every page: those the token's own
// identity wrote, oldest first (the sticky comment is the first; any
// others are duplicates to remove), and how many others carry the marker
// (another app's, or a person quoting it), which are never touched.
func (c *Client) StickyComments(ctx context.Context, owner, repo string, number int, marker string) (own []*github.IssueComment, others int, err error) {
	if marker == "" {
		return nil, 0, errors.New("empty comment marker")
	}
	// Who the token is and what the comments are do not depend on each
	// other: both are asked at once.
	var (
		me             Identity
		marked         []*github.IssueComment
		idErr, listErr error
		g              group.Group
	)
	g.Go(func() error { me, idErr = c.Identity(ctx); return nil })
	g.Go(func() error { marked, listErr = c.markedComments(ctx, owner, repo, number, marker); return nil })
	g.Wait()
	switch {
	case idErr != nil:
		return nil, 0, idErr
	case listErr != nil:
		return nil, 0, listErr
	}
	for _, cm := range marked {
		if me.Owns(cm.GetUser()) {
			own = append(own, cm)
		} else {
			others++
		}
	}
	return own, others, nil
}

// markedComments lists the comments of number whose body starts with
// marker, every page, oldest first.
func (c *Client) markedComments(ctx context.Context, owner, repo string, number int, marker string) ([]*github.IssueComment, error) {
	o := op{
		action:     fmt.Sprintf("read the comments of %s/%s#%d", owner, repo, number),
		permission: "pull-requests: read",
		notFound:   fmt.Sprintf("pull request %s/%s#%d does not exist", owner, repo, number),
	}
	var marked []*github.IssueComment
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: perPage}}
	for range maxPages {
		comments, resp, err := c.gh.Issues.ListComments(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, o.fail(err)
		}
		for _, cm := range comments {
			if strings.HasPrefix(cm.GetBody(), marker) {
				marked = append(marked, cm)
			}
		}
		if resp.NextPage == 0 {
			return marked, nil
		}
		opts.Page = resp.NextPage
	}
	return nil, fmt.Errorf("cannot %s: more than %d pages", o.action, maxPages)
}

// WriteComment makes the sticky comment's body equal body, given the
// comment StickyComments found (existing, nil when there is none): it creates the
// comment when there is none, edits it in place when its body differs, and
// writes nothing when it is already equal. The marker is put on the first
// line when body lacks it, so the comment is found next time. A create
// that fails in a way that may have created it anyway (a 5xx) is not sent
// again until the comments are read and show it missing: a retried POST
// would leave two sticky comments.
func (c *Client) WriteComment(ctx context.Context, owner, repo string, number int, existing *github.IssueComment, marker, body string) (changed bool, err error) {
	if !strings.Contains(body, marker) {
		body = marker + "\n" + body
	}
	w := op{
		action:     fmt.Sprintf("write issue comments on %s/%s#%d", owner, repo, number),
		permission: "pull-requests: write",
	}
	if existing == nil {
		err := c.retryWrite(ctx, func() error {
			_, _, err := c.gh.Issues.CreateComment(ctx, owner, repo, number, &github.IssueComment{Body: github.String(body)})
			return err
		}, func() (bool, error) {
			own, _, err := c.StickyComments(ctx, owner, repo, number, marker)
			return slices.ContainsFunc(own, func(cm *github.IssueComment) bool { return sameText(cm.GetBody(), body) }), err
		})
		if err != nil {
			return false, w.fail(err)
		}
		return true, nil
	}
	if sameText(existing.GetBody(), body) {
		return false, nil
	}
	if _, _, err := c.gh.Issues.EditComment(ctx, owner, repo, existing.GetID(), &github.IssueComment{Body: github.String(body)}); err != nil {
		return false, w.fail(err)
	}
	return true, nil
}

// DeleteComment deletes a comment by id; one already gone is success with
// changed=false.
func (c *Client) DeleteComment(ctx context.Context, owner, repo string, id int64) (changed bool, err error) {
	w := op{action: fmt.Sprintf("delete issue comments on %s/%s", owner, repo), permission: "pull-requests: write"}
	_, err = c.gh.Issues.DeleteComment(ctx, owner, repo, id)
	switch {
	case isStatus(err, http.StatusNotFound):
		return false, nil
	case err != nil:
		return false, w.fail(err)
	}
	return true, nil
}

// sameText compares comment bodies as GitHub stores them: line endings
// may come back as CRLF and trailing whitespace is not significant.
func sameText(a, b string) bool {
	norm := func(s string) string {
		return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\n")
	}
	return norm(a) == norm(b)
}
