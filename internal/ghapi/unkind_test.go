package ghapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// TestWritesAppliedBut5xxAreNotRepeated: GitHub creates the comment (the
// deployment, the status) and answers 502; the client reads before it
// writes again, so exactly one exists.
func TestWritesAppliedBut5xxAreNotRepeated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	posts := func(srv *fakegithub.Server, path string) int {
		n := 0
		for _, c := range srv.Calls() {
			if c.Method == http.MethodPost && c.Path == path {
				n++
			}
		}
		return n
	}
	t.Run("comment", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		path := "/repos/octo-org/shop/issues/42/comments"
		srv.Inject(fakegithub.Fault{Method: "POST", Path: path, Applied: true, Status: http.StatusBadGateway})
		if changed, err := c.WriteComment(ctx, owner, repo, 42, nil, report.Marker("m"), "hello"); err != nil || !changed {
			t.Fatalf("WriteComment = %v, %v; want it to see its comment was made", changed, err)
		}
		if cs := srv.Comments(owner, repo, 42); len(cs) != 1 {
			t.Errorf("%d comments; want exactly 1", len(cs))
		}
		if n := posts(srv, path); n != 1 {
			t.Errorf("%d POSTs; want 1 (the write happened, it is not repeated)", n)
		}
	})
	t.Run("comment not made", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		path := "/repos/octo-org/shop/issues/42/comments"
		srv.FailNext("POST", path, 1, http.StatusBadGateway) // refused, not made
		if _, err := c.WriteComment(ctx, owner, repo, 42, nil, report.Marker("m"), "hello"); err != nil {
			t.Fatal(err)
		}
		if cs := srv.Comments(owner, repo, 42); len(cs) != 1 || posts(srv, path) != 2 {
			t.Errorf("%d comments after %d POSTs; want 1 after 2 (read, then write again)", len(cs), posts(srv, path))
		}
	})
	t.Run("deployment", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		path := "/repos/octo-org/shop/deployments"
		srv.Inject(fakegithub.Fault{Method: "POST", Path: path, Applied: true, Status: http.StatusServiceUnavailable})
		id, err := c.CreateDeployment(ctx, owner, repo, "preview-pr-42", sha1)
		if err != nil || id == 0 {
			t.Fatalf("CreateDeployment = %d, %v", id, err)
		}
		if ds := srv.Deployments(owner, repo); len(ds) != 1 || ds[0].ID != id || posts(srv, path) != 1 {
			t.Errorf("deployments %+v after %d POSTs; want the one made, id %d, after 1", ds, posts(srv, path), id)
		}
	})
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		id, err := c.CreateDeployment(ctx, owner, repo, "preview-pr-42", sha1)
		if err != nil {
			t.Fatal(err)
		}
		srv.Inject(fakegithub.Fault{Method: "POST", Path: "/repos/octo-org/shop/deployments/*/statuses", Applied: true, Status: http.StatusBadGateway})
		if err := c.SetDeploymentStatus(ctx, owner, repo, id, "success", "https://pr-42.example.com"); err != nil {
			t.Fatal(err)
		}
		if ds := srv.Deployments(owner, repo); len(ds[0].Statuses) != 1 {
			t.Errorf("%d statuses; want 1", len(ds[0].Statuses))
		}
	})
}

// TestAnotherAppsCommentIsNotOurs: a comment with the marker by another
// identity (another app, the workflow token when ours is an App's) is
// counted, never taken for the sticky one.
func TestAnotherAppsCommentIsNotOurs(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t, fakegithub.WithActor("preview-bot[bot]", "Bot"))
	ctx := context.Background()
	marker := report.Marker("gh-1-pr-42")
	srv.AddComment(owner, repo, 42, "github-actions[bot]", marker+"\nsomeone else's")
	own, others, err := c.StickyComments(ctx, owner, repo, 42, marker)
	if err != nil || len(own) != 0 || others != 1 {
		t.Fatalf("StickyComments = %d own, %d others, %v; want 0 and 1", len(own), others, err)
	}
	if _, err := c.UpsertComment(ctx, owner, repo, 42, marker, "ours"); err != nil {
		t.Fatal(err)
	}
	cs := srv.Comments(owner, repo, 42)
	if len(cs) != 2 || cs[0].Body != marker+"\nsomeone else's" || cs[1].Author != "preview-bot[bot]" {
		t.Errorf("comments %+v; want the other app's untouched and one of ours", cs)
	}
	id, err := c.Identity(ctx)
	if err != nil || id.Login != "preview-bot" || id.ID == 0 {
		t.Errorf("Identity = %+v, %v; want GraphQL's viewer, preview-bot", id, err)
	}
}

// TestEnvironmentKeepsHumanProtections: turning on the branch policy of an
// environment someone protected keeps the wait timer and the reviewers;
// the body holds the branch policy setting alone.
func TestEnvironmentKeepsHumanProtections(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	srv.ProtectEnvironment(owner, repo, "preview-pr-42", 30, 4532992)
	if _, err := c.EnsureEnvironment(context.Background(), owner, repo, "preview-pr-42", "refs/pull/42/merge"); err != nil {
		t.Fatal(err)
	}
	e, _ := srv.Environment(owner, repo, "preview-pr-42")
	if e.WaitTimer != 30 || len(e.Reviewers) != 1 || e.Reviewers[0].ID != 4532992 {
		t.Errorf("after EnsureEnvironment: wait timer %d, reviewers %+v; want 30 and 4532992 kept", e.WaitTimer, e.Reviewers)
	}
	for _, call := range srv.Writes() {
		if call.Method != http.MethodPut {
			continue
		}
		var body map[string]json.RawMessage
		json.Unmarshal([]byte(call.Body), &body)
		if len(body) != 1 || body["deployment_branch_policy"] == nil {
			t.Errorf("PUT %s body %s; want deployment_branch_policy alone", call.Path, call.Body)
		}
	}
}

// TestErrorsNameTheCause: a rate limit past the wait says when it resets;
// a read from the default branch does not print an empty ref.
func TestErrorsNameTheCause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, srv, _ := setup(t)
	srv.Inject(fakegithub.Fault{Method: "GET", Path: "/repos/octo-org/shop/pulls/42", Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	_, err := c.PullRequest(ctx, owner, repo, 42)
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "resets at") || !strings.Contains(err.Error(), "in 1h0m0s") {
		t.Errorf("429 past the wait: %v; want a rate limit with its reset time", err)
	}
	srv.FailNext("GET", "/repos/octo-org/shop/contents/x.yml", 10, http.StatusInternalServerError)
	_, _, err = c.FileAtRef(ctx, owner, repo, "x.yml", "")
	if err == nil || strings.Contains(err.Error(), " at  ") || !strings.Contains(err.Error(), "from the default branch of octo-org/shop") {
		t.Errorf("read from the default branch: %v; want it named so, with no empty ref", err)
	}
}
