package ghapi

import (
	"context"

	"github.com/google/go-github/v60/github"
)

// UpsertComment (a test helper: the action finds the comment during
// observe and calls WriteComment) makes the sticky comment's body equal body: it creates the
// comment when none carries marker, edits it in place when its body
// differs, and writes nothing when it is already equal. The marker is put
// on the first line when body lacks it, so the comment is found next time.
func (c *Client) UpsertComment(ctx context.Context, owner, repo string, number int, marker, body string) (changed bool, err error) {
	existing, err := c.sticky(ctx, owner, repo, number, marker)
	if err != nil {
		return false, err
	}
	return c.WriteComment(ctx, owner, repo, number, existing, marker, body)
}

// sticky is the sticky comment (a test helper): the oldest comment of the
// token's identity that starts with marker, or nil.
func (c *Client) sticky(ctx context.Context, owner, repo string, number int, marker string) (*github.IssueComment, error) {
	own, _, err := c.StickyComments(ctx, owner, repo, number, marker)
	if err != nil || len(own) == 0 {
		return nil, err
	}
	return own[0], nil
}

// deactivateAll (a test helper, as the planner does for down) marks every
// deployment of environment whose latest status is not inactive inactive,
// and reports whether there was one.
func (c *Client) deactivateAll(ctx context.Context, owner, repo, environment string) (bool, error) {
	states, err := c.Deployments(ctx, owner, repo, environment)
	if err != nil {
		return false, err
	}
	var ids []int64
	for _, st := range states {
		if st.State != "inactive" {
			ids = append(ids, st.ID)
		}
	}
	return len(ids) > 0, c.Deactivate(ctx, owner, repo, ids)
}
