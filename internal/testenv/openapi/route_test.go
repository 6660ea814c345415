package openapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRouterFind(t *testing.T) {
	t.Parallel()
	r := newRouter([]string{
		"/repos/{owner}/{repo}",
		"/repos/{owner}/{repo}/contents/{path}",
		"/repos/{owner}/{repo}/compare/{basehead}",
		"/repos/{owner}/{repo}/compare/{base}...{head}",
		"/repos/{owner}/{repo}/issues/comments/{comment_id}",
		"/repos/{owner}/{repo}/issues/{issue_number}",
		"/repos/{owner}/{repo}/issues/{issue_number}/comments",
		"/repos/{owner}/{repo}/git/ref/{ref}",
	})
	for _, tt := range []struct {
		name, path, want string
		params           map[string]string
	}{
		{"literal before parameter", "/repos/o/r/issues/comments/7", "/repos/{owner}/{repo}/issues/comments/{comment_id}",
			map[string]string{"owner": "o", "repo": "r", "comment_id": "7"}},
		{"parameter", "/repos/o/r/issues/7", "/repos/{owner}/{repo}/issues/{issue_number}",
			map[string]string{"owner": "o", "repo": "r", "issue_number": "7"}},
		{"escaped", "/repos/o/r/issues/7%2F8/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments",
			map[string]string{"owner": "o", "repo": "r", "issue_number": "7/8"}},
		{"nested file", "/repos/o/r/contents/.github/a%20b.yml", "/repos/{owner}/{repo}/contents/{path}",
			map[string]string{"owner": "o", "repo": "r", "path": ".github/a b.yml"}},
		{"repository root", "/repos/o/r/contents/", "/repos/{owner}/{repo}/contents/{path}",
			map[string]string{"owner": "o", "repo": "r", "path": ""}},
		{"ref with slashes", "/repos/o/r/git/ref/heads/feature/x", "/repos/{owner}/{repo}/git/ref/{ref}",
			map[string]string{"owner": "o", "repo": "r", "ref": "heads/feature/x"}},
		{"mixed segment", "/repos/o/r/compare/main...feature", "/repos/{owner}/{repo}/compare/{base}...{head}",
			map[string]string{"owner": "o", "repo": "r", "base": "main", "head": "feature"}},
		{"repository", "/repos/o/r", "/repos/{owner}/{repo}", map[string]string{"owner": "o", "repo": "r"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, params, ok := r.find(tt.path)
			if !ok {
				t.Fatalf("find(%s): no match; want %s", tt.path, tt.want)
			}
			if got.path != tt.want {
				t.Errorf("find(%s) = %s; want %s", tt.path, got.path, tt.want)
			}
			if diff := cmp.Diff(tt.params, params); diff != "" {
				t.Errorf("find(%s) parameters (-want +got):\n%s", tt.path, diff)
			}
		})
	}
	for _, p := range []string{"/repos/o/r/pulls", "/repos/o//issues/7", "/repos/o/r/issues/", "/repos/o/r/extra/x/y", "/graphql"} {
		if got, _, ok := r.find(p); ok {
			t.Errorf("find(%s) = %s; want no match", p, got.path)
		}
	}
}
