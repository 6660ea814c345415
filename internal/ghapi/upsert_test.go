package ghapi

import "context"

// UpsertComment (a test helper: the action finds the comment during
// observe and calls WriteComment) makes the sticky comment's body equal body: it creates the
// comment when none carries marker, edits it in place when its body
// differs, and writes nothing when it is already equal. The marker is put
// on the first line when body lacks it, so the comment is found next time.
func (c *Client) UpsertComment(ctx context.Context, owner, repo string, number int, marker, body string) (changed bool, err error) {
	existing, err := c.Comment(ctx, owner, repo, number, marker)
	if err != nil {
		return false, err
	}
	return c.WriteComment(ctx, owner, repo, number, existing, marker, body)
}
