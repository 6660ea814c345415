package ghapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Marker is the hidden HTML comment that identifies the sticky comment of
// one preview, e.g. "<!-- preview-access:gh-123456789-pr-42 -->". Characters
// that could end an HTML comment early are replaced, so an id can never
// produce a marker that hides or forges content.
func Marker(id string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, id)
	for strings.Contains(clean, "--") {
		clean = strings.ReplaceAll(clean, "--", "-")
	}
	return "<!-- preview-access:" + clean + " -->"
}

// Comment finds the comment on issue or pull request number whose body
// starts with marker and whose author is a bot (the workflow's
// github-actions[bot] or an App), searching every page. A person cannot
// post as a bot, so a comment that quotes the marker cannot pose as the
// sticky one. With several, the oldest wins (it is the one people have
// seen). No such comment is (nil, nil).
func (c *Client) Comment(ctx context.Context, owner, repo string, number int, marker string) (*github.IssueComment, error) {
	if marker == "" {
		return nil, errors.New("empty comment marker")
	}
	o := op{
		action:     fmt.Sprintf("read the comments of %s/%s#%d", owner, repo, number),
		permission: "pull-requests: read",
		notFound:   fmt.Sprintf("pull request %s/%s#%d does not exist", owner, repo, number),
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: perPage}}
	for range maxPages {
		comments, resp, err := c.gh.Issues.ListComments(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, o.fail(err)
		}
		for _, cm := range comments {
			if strings.HasPrefix(cm.GetBody(), marker) && cm.GetUser().GetType() == "Bot" {
				return cm, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
	return nil, fmt.Errorf("cannot %s: more than %d pages", o.action, maxPages)
}

// WriteComment makes the sticky comment's body equal body, given the
// comment Comment found (existing, nil when there is none): it creates the
// comment when there is none, edits it in place when its body differs, and
// writes nothing when it is already equal. The marker is put on the first
// line when body lacks it, so the comment is found next time.
func (c *Client) WriteComment(ctx context.Context, owner, repo string, number int, existing *github.IssueComment, marker, body string) (changed bool, err error) {
	if !strings.Contains(body, marker) {
		body = marker + "\n" + body
	}
	w := op{
		action:     fmt.Sprintf("write issue comments on %s/%s#%d", owner, repo, number),
		permission: "pull-requests: write",
	}
	if existing == nil {
		if _, _, err := c.gh.Issues.CreateComment(ctx, owner, repo, number, &github.IssueComment{Body: github.String(body)}); err != nil {
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

// sameText compares comment bodies as GitHub stores them: line endings
// may come back as CRLF and trailing whitespace is not significant.
func sameText(a, b string) bool {
	norm := func(s string) string {
		return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\n")
	}
	return norm(a) == norm(b)
}
