package openapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/preview-access/preview-access/internal/testenv/openapi"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func TestRequest(t *testing.T) {
	t.Parallel()
	v := openapi.Check(t)
	const env = "/repos/octo-org/shop/environments/preview-pr-42"
	for _, tt := range []struct {
		name, method, path, query, body string
		header                          http.Header
		// wantErr is "" for a valid request, else a part of the error.
		wantErr string
	}{
		{name: "environment with custom branch policies", method: "PUT", path: env,
			body: `{"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}`},
		{name: "environment without body", method: "PUT", path: env},
		{name: "environment any branch", method: "PUT", path: env, body: `{"deployment_branch_policy": null}`},
		{name: "environment can_admins_bypass", method: "PUT", path: env,
			body: `{"can_admins_bypass": true}`, wantErr: "can_admins_bypass"},
		{name: "environment branch policy half set", method: "PUT", path: env,
			body: `{"deployment_branch_policy": {"protected_branches": false}}`, wantErr: "custom_branch_policies"},
		{name: "environment wait_timer as string", method: "PUT", path: env,
			body: `{"wait_timer": "30"}`, wantErr: "wait_timer"},
		{name: "environment body not JSON", method: "PUT", path: env, body: `{`, wantErr: "request body"},
		{name: "deployment", method: "POST", path: "/repos/o/r/deployments",
			body: `{"ref": "main", "auto_merge": false, "required_contexts": [], "payload": {"pr": 42}, "environment": "preview-pr-42", "transient_environment": true}`},
		{name: "deployment auto_merge as string", method: "POST", path: "/repos/o/r/deployments",
			body: `{"ref": "main", "auto_merge": "false"}`, wantErr: "auto_merge"},
		{name: "deployment without ref", method: "POST", path: "/repos/o/r/deployments",
			body: `{"environment": "x"}`, wantErr: "ref"},
		{name: "deployment status state", method: "POST", path: "/repos/o/r/deployments/7/statuses",
			body: `{"state": "bogus"}`, wantErr: "state"},
		{name: "deployment id not a number", method: "GET", path: "/repos/o/r/deployments/abc", wantErr: "deployment_id"},
		{name: "pulls state", method: "GET", path: "/repos/o/r/pulls", query: "state=open&per_page=100&page=2"},
		{name: "pulls bad state", method: "GET", path: "/repos/o/r/pulls", query: "state=merged", wantErr: "state"},
		{name: "contents root", method: "GET", path: "/repos/o/r/contents/", query: "ref=main"},
		{name: "contents nested path", method: "GET", path: "/repos/o/r/contents/.github/preview-access.yml", query: "ref=main"},
		{name: "comment", method: "POST", path: "/repos/o/r/issues/42/comments", body: `{"body": "hi"}`},
		{name: "comment without body", method: "POST", path: "/repos/o/r/issues/42/comments", body: `{}`, wantErr: "body"},
		{name: "comment form encoded", method: "POST", path: "/repos/o/r/issues/42/comments", body: `body=hi`,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, wantErr: "Content-Type"},
		{name: "body where none is taken", method: "GET", path: "/repos/o/r/pulls/42", body: `{}`, wantErr: "body"},
		{name: "branch policy", method: "POST", path: env + "/deployment-branch-policies", body: `{"name": "refs/pull/42/merge", "type": "branch"}`},
		{name: "branch policy type", method: "POST", path: env + "/deployment-branch-policies", body: `{"name": "x", "type": "ref"}`, wantErr: "type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.header
			if h == nil && tt.body != "" {
				h = jsonHeader
			}
			err := v.Request(tt.method, tt.path, tt.query, h, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("%s %s %s: got %v; want no error", tt.method, tt.path, tt.body, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("%s %s %s: got %v; want an error naming %q", tt.method, tt.path, tt.body, err, tt.wantErr)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	t.Parallel()
	v := openapi.Check(t)
	const policy = "/repos/o/r/environments/e/deployment-branch-policies/5"
	for _, tt := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantErr            string
	}{
		{name: "branch policy", method: "GET", path: policy, status: 200,
			body: `{"id": 5, "node_id": "x", "name": "main", "type": "branch"}`},
		{name: "branch policy type", method: "GET", path: policy, status: 200,
			body: `{"id": 5, "node_id": "x", "name": "main", "type": "ref"}`, wantErr: "type"},
		{name: "branch policy id as string", method: "GET", path: policy, status: 200,
			body: `{"id": "5", "name": "main", "type": "branch"}`, wantErr: "id"},
		{name: "environment missing html_url", method: "GET", path: "/repos/o/r/environments/e", status: 200,
			body:    `{"id": 1, "node_id": "x", "name": "e", "url": "u", "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z"}`,
			wantErr: "html_url"},
		{name: "environment bad date", method: "GET", path: "/repos/o/r/environments/e", status: 200,
			body:    `{"id": 1, "node_id": "x", "name": "e", "url": "u", "html_url": "h", "created_at": "yesterday", "updated_at": "2024-05-01T12:00:00Z"}`,
			wantErr: "created_at"},
		{name: "environment", method: "GET", path: "/repos/o/r/environments/e", status: 200,
			body: `{"id": 1, "node_id": "x", "name": "e", "url": "u", "html_url": "h", "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z", "deployment_branch_policy": null, "protection_rules": []}`},
		{name: "not JSON", method: "GET", path: policy, status: 200, header: http.Header{"Content-Type": {"text/plain"}},
			body: `ok`, wantErr: "Content-Type"},
		{name: "no content", method: "DELETE", path: policy, status: 204},
		{name: "undocumented success", method: "DELETE", path: policy, status: 200, body: `{}`, wantErr: "not a documented response"},
		{name: "undocumented error", method: "GET", path: policy, status: 404,
			body: `{"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}`},
		{name: "undocumented error as text", method: "GET", path: policy, status: 502, header: http.Header{"Content-Type": {"text/plain"}},
			body: "502 Bad Gateway\n", wantErr: "Content-Type"},
		{name: "undocumented 422 without documentation_url", method: "GET", path: policy, status: 422,
			body: `{"message": "Validation Failed"}`, wantErr: "documentation_url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.header
			if h == nil {
				h = http.Header{"Content-Type": {"application/json; charset=utf-8"}}
			}
			err := v.Response(tt.method, tt.path, "", tt.status, h, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("%s %s %d %s: got %v; want no error", tt.method, tt.path, tt.status, tt.body, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("%s %s %d %s: got %v; want an error naming %q", tt.method, tt.path, tt.status, tt.body, err, tt.wantErr)
			}
		})
	}
}

func TestOperation(t *testing.T) {
	t.Parallel()
	v := openapi.Check(t)
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/repos/o/r/issues/comments/7", "issues/get-comment"},
		{"GET", "/repos/o/r/issues/7/comments", "issues/list-comments"},
		{"PATCH", "/repos/o/r/issues/comments/7", "issues/update-comment"},
		{"GET", "/repos/o/r/contents/a/b/c.yml", "repos/get-content"},
		{"GET", "/repos/o/r/git/ref/heads/feature/x", "git/get-ref"},
		{"GET", "/repos/o/r/compare/main...feature", "repos/compare-commits"},
		{"GET", "/repos/o/r/environments/a%2Fb", "repos/get-environment"},
		{"PUT", "/repos/o/r/environments/e/deployment-branch-policies/1", "repos/update-deployment-branch-policy"},
	} {
		got, err := v.Operation(tt.method, tt.path)
		if err != nil || got != tt.want {
			t.Errorf("Operation(%s %s) = %q, %v; want %q", tt.method, tt.path, got, err, tt.want)
		}
	}
	for _, p := range []string{"GET /graphql", "POST /graphql", "DELETE /repos/o/r/pulls/1", "GET /nope", "GET /repos/o/r/pulls/", "GET /repos/o//pulls"} {
		method, path, _ := strings.Cut(p, " ")
		if _, err := v.Operation(method, path); !errors.Is(err, openapi.ErrUnknownOperation) {
			t.Errorf("Operation(%s): got %v; want ErrUnknownOperation", p, err)
		}
	}
}
