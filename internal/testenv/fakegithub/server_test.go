package fakegithub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// clients returns go-github clients for srv in both URL forms: github.com
// style (BaseURL at the root) and GitHub Enterprise Server (/api/v3/).
func clients(t *testing.T, srv *fakegithub.Server) map[string]*github.Client {
	t.Helper()
	plain := github.NewClient(nil).WithAuthToken(srv.Token())
	u, err := url.Parse(srv.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	plain.BaseURL = u
	ghes, err := github.NewClient(nil).WithAuthToken(srv.Token()).WithEnterpriseURLs(srv.URL()+"/api/v3/", srv.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*github.Client{"github.com": plain, "GHES": ghes}
}

// putEnvironment sends body as the environment's PUT, like the code under
// test does: go-github's CreateUpdateEnvironment always adds wait_timer
// and can_admins_bypass, and GitHub's description refuses the latter.
func putEnvironment(ctx context.Context, gh *github.Client, owner, repo, env string, body any) (*github.Environment, *github.Response, error) {
	req, err := gh.NewRequest(http.MethodPut, fmt.Sprintf("repos/%s/%s/environments/%s", owner, repo, url.PathEscape(env)), body)
	if err != nil {
		return nil, nil, err
	}
	e := new(github.Environment)
	resp, err := gh.Do(ctx, req, e)
	return e, resp, err
}

func seeded(t *testing.T, opts ...fakegithub.Option) *fakegithub.Server {
	t.Helper()
	srv := fakegithub.New(t, opts...)
	if err := srv.SeedEventFile(fakegithub.EventPath("pull_request_target.opened.json")); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestPullsBothURLForms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	for i := range 120 {
		srv.AddPullRequest("octo-org", "shop", fakegithub.PullRequest{Number: 100 + i})
	}
	srv.ClosePullRequest("octo-org", "shop", 100, true)
	for name, gh := range clients(t, srv) {
		t.Run(name, func(t *testing.T) {
			pr, _, err := gh.PullRequests.Get(ctx, "octo-org", "shop", 42)
			if err != nil {
				t.Fatal(err)
			}
			if pr.GetHead().GetRef() != "feature/login" || pr.GetBase().GetRepo().GetID() != 123456789 ||
				pr.GetBase().GetRepo().GetOwner().GetID() != 987654 || pr.GetUser().GetLogin() != "octocat" ||
				len(pr.RequestedReviewers) != 1 || pr.RequestedReviewers[0].GetLogin() != "alice" ||
				len(pr.Assignees) != 1 || pr.Assignees[0].GetLogin() != "bob" || pr.GetMerged() {
				t.Errorf("PR: got %+v", pr)
			}

			var all []*github.PullRequest
			opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 50}}
			pages := 0
			for {
				prs, resp, err := gh.PullRequests.List(ctx, "octo-org", "shop", opts)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				all = append(all, prs...)
				if resp.NextPage == 0 {
					if pages > 1 && resp.PrevPage == 0 {
						t.Error("last page has no prev link")
					}
					break
				}
				if resp.LastPage != 3 {
					t.Errorf("LastPage: got %d; want 3", resp.LastPage)
				}
				opts.Page = resp.NextPage
			}
			if len(all) != 120 || pages != 3 {
				t.Errorf("open PRs: got %d in %d pages; want 120 in 3", len(all), pages)
			}
			seen := map[int]bool{}
			for _, pr := range all {
				if seen[pr.GetNumber()] || pr.GetNumber() == 100 {
					t.Errorf("PR #%d listed twice or while closed", pr.GetNumber())
				}
				seen[pr.GetNumber()] = true
			}
		})
	}
	for _, c := range srv.Calls() {
		if strings.HasPrefix(c.Path, "/api/v3") {
			t.Errorf("Call.Path %q keeps the /api/v3 prefix", c.Path)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t, fakegithub.WithToken("right"))
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"bearer", "Bearer right", 200},
		{"token", "token right", 200},
		{"wrong", "Bearer wrong", 401},
		{"missing", "", 401},
		{"basic", "Basic right", 401},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/repos/octo-org/shop/pulls/42", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: got %d; want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	gh := github.NewClient(nil).WithAuthToken("wrong")
	gh.BaseURL, _ = url.Parse(srv.URL() + "/")
	_, _, err := gh.PullRequests.Get(ctx, "octo-org", "shop", 42)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 401 || er.Message != "Bad credentials" {
		t.Errorf("go-github with a bad token: got %v; want 401 Bad credentials", err)
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t, fakegithub.WithPermissions(map[string]string{
		fakegithub.PermPullRequests: fakegithub.Read, fakegithub.PermActions: fakegithub.Read,
	}))
	gh := clients(t, srv)["GHES"]
	if _, _, err := gh.PullRequests.Get(ctx, "octo-org", "shop", 42); err != nil {
		t.Errorf("read with read permission: %v", err)
	}
	_, _, err := putEnvironment(ctx, gh, "octo-org", "shop", "preview-pr-42", struct{}{})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 403 || er.Message != "Resource not accessible by integration" ||
		er.Response.Header.Get("X-Accepted-GitHub-Permissions") != "administration=write" {
		t.Errorf("environment write: got %v; want GitHub's 403 naming administration=write", err)
	}
	_, _, err = gh.Issues.CreateComment(ctx, "octo-org", "shop", 42, &github.IssueComment{Body: github.String("x")})
	if !errors.As(err, &er) || er.Response.StatusCode != 403 ||
		er.Response.Header.Get("X-Accepted-GitHub-Permissions") != "issues=write; pull_requests=write" {
		t.Errorf("comment write: got %v; want 403", err)
	}
	if len(srv.Comments("octo-org", "shop", 42)) != 0 {
		t.Error("a comment was created without permission")
	}
}

// recordingTB captures Errorf so a test can check that the fake reports
// requests to endpoints it does not implement.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Helper() {}

func TestUnknownEndpointFailsTheTest(t *testing.T) {
	t.Parallel()
	rec := &recordingTB{TB: t}
	srv := fakegithub.New(rec)
	srv.AddPullRequest("octo-org", "shop", fakegithub.PullRequest{Number: 42})
	for _, p := range []string{
		"GET /repos/octo-org/shop/releases",
		"POST /repos/octo-org/shop/pulls",
		"GET /repos/octo-org/shop/issues/42/labels",
		"DELETE /api/v3/repos/octo-org/shop/pulls/42",
	} {
		method, path, _ := strings.Cut(p, " ")
		req, _ := http.NewRequest(method, srv.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: got %d; want 404", p, resp.StatusCode)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 4 {
		t.Errorf("Errorf calls: got %q; want one per unknown request", rec.errs)
	}
}

// A request GitHub's OpenAPI description refuses fails the test and gets
// GitHub's 422, without reaching the fake's state; an injected fault does
// not hide it.
func TestInvalidRequestsFailTheTest(t *testing.T) {
	t.Parallel()
	rec := &recordingTB{TB: t}
	srv := fakegithub.New(rec)
	srv.AddPullRequest("octo-org", "shop", fakegithub.PullRequest{Number: 42})
	srv.FailNext("POST", "/repos/*/*/issues/42/comments", 1, 502)
	for _, tc := range []struct{ name, method, path, body string }{
		{"unknown field", "PUT", "/repos/octo-org/shop/environments/preview-pr-42", `{"can_admins_bypass": true}`},
		{"wrong type", "POST", "/api/v3/repos/octo-org/shop/deployments", `{"ref": "main", "auto_merge": "false"}`},
		{"missing field", "POST", "/repos/octo-org/shop/deployments", `{"environment": "preview-pr-42"}`},
		{"bad enum", "GET", "/repos/octo-org/shop/pulls?state=merged", ""},
		{"bad path parameter", "GET", "/repos/octo-org/shop/pulls/forty-two", ""},
		{"under a fault", "POST", "/repos/octo-org/shop/issues/42/comments", `{"body": 42}`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL()+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 422 || err != nil || got.Message != "Validation Failed" {
			t.Errorf("%s: got %d %q (%v); want 422 Validation Failed", tc.name, resp.StatusCode, got.Message, err)
		}
	}
	if _, ok := srv.Environment("octo-org", "shop", "preview-pr-42"); ok {
		t.Error("an invalid PUT created the environment")
	}
	if n := len(srv.Deployments("octo-org", "shop")); n != 0 {
		t.Errorf("deployments: got %d; want none", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 6 {
		t.Errorf("Errorf calls: got %q; want one per invalid request", rec.errs)
	}
}

func TestFaultsAndCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	srv.FailNext("GET", "/repos/*/*/pulls/42", 1, 502)
	srv.SecondaryRateLimitNext("", "", 1, "7")
	gh := clients(t, srv)["GHES"]

	_, _, err := gh.PullRequests.Get(ctx, "octo-org", "shop", 42)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 502 {
		t.Errorf("first: got %v; want 502", err)
	}
	_, _, err = gh.PullRequests.Get(ctx, "octo-org", "shop", 42)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil || abuse.RetryAfter.Seconds() != 7 {
		t.Errorf("second: got %v; want go-github's AbuseRateLimitError with RetryAfter 7s", err)
	}
	// go-github now refuses calls until the Retry-After passes; a fresh
	// client shows the fault is used up.
	gh = clients(t, srv)["github.com"]
	if _, _, err := gh.PullRequests.Get(ctx, "octo-org", "shop", 42); err != nil {
		t.Errorf("third: %v", err)
	}
	var got []int
	for _, c := range srv.Calls() {
		got = append(got, c.Status)
	}
	if fmt.Sprint(got) != "[502 403 200]" {
		t.Errorf("statuses: got %v; want [502 403 200]", got)
	}
	if len(srv.Writes()) != 0 {
		t.Errorf("writes: got %v; want none", srv.Writes())
	}
}

func TestContents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	body := strings.Repeat("line of yaml\n", 30)
	srv.SetFile("octo-org", "shop", "main", ".github/preview-access.yml", body)
	srv.SetFile("octo-org", "shop", "main", ".github/workflows/ci.yml", "on: push\n")
	gh := clients(t, srv)["GHES"]

	fc, _, _, err := gh.Repositories.GetContents(ctx, "octo-org", "shop", ".github/preview-access.yml", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := fc.GetContent()
	if err != nil || got != body || fc.GetType() != "file" || fc.GetEncoding() != "base64" || fc.GetSize() != len(body) {
		t.Errorf("file: got %q (%s, %s, %d), %v", got, fc.GetType(), fc.GetEncoding(), fc.GetSize(), err)
	}
	_, dir, _, err := gh.Repositories.GetContents(ctx, "octo-org", "shop", ".github", nil)
	if err != nil || len(dir) != 2 || dir[0].GetName() != "preview-access.yml" || dir[1].GetType() != "dir" {
		t.Errorf("directory: got %v, %v", dir, err)
	}
	_, _, resp, err := gh.Repositories.GetContents(ctx, "octo-org", "shop", "missing.yml", nil)
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("missing file: got %v; want 404", err)
	}
	_, _, resp, err = gh.Repositories.GetContents(ctx, "octo-org", "shop", ".github/preview-access.yml", &github.RepositoryContentGetOptions{Ref: "nope"})
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("unknown ref: got %v; want 404", err)
	}
}

func TestCommentsPaginateAndEdit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	for i := range 150 {
		srv.AddComment("octo-org", "shop", 42, "alice", fmt.Sprint("c", i))
	}
	gh := clients(t, srv)["github.com"]
	c, _, err := gh.Issues.CreateComment(ctx, "octo-org", "shop", 42, &github.IssueComment{Body: github.String("sticky")})
	if err != nil || c.GetUser().GetLogin() != "github-actions[bot]" || c.GetUser().GetType() != "Bot" {
		t.Fatalf("create: got %+v, %v", c, err)
	}
	if _, _, err := gh.Issues.EditComment(ctx, "octo-org", "shop", c.GetID(), &github.IssueComment{Body: github.String("edited")}); err != nil {
		t.Fatal(err)
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var all []*github.IssueComment
	for {
		cs, resp, err := gh.Issues.ListComments(ctx, "octo-org", "shop", 42, opts)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 151 || all[150].GetBody() != "edited" || all[0].GetBody() != "c0" {
		t.Errorf("comments: got %d, last %q; want 151, oldest first, last edited", len(all), all[len(all)-1].GetBody())
	}
	if _, _, err := gh.Issues.CreateComment(ctx, "octo-org", "shop", 42, &github.IssueComment{Body: github.String("")}); err == nil {
		t.Error("empty body: got no error; want 422")
	}
	if _, _, err := gh.Issues.CreateComment(ctx, "octo-org", "shop", 999, &github.IssueComment{Body: github.String("x")}); err == nil {
		t.Error("missing PR: got no error; want 404")
	}
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	gh := clients(t, srv)["GHES"]
	const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

	// auto_merge defaults to true: GitHub would merge main into the branch.
	_, resp, err := gh.Repositories.CreateDeployment(ctx, "octo-org", "shop", &github.DeploymentRequest{Ref: github.String("feature/login")})
	var acc *github.AcceptedError
	if !errors.As(err, &acc) || resp.StatusCode != 202 {
		t.Errorf("auto_merge default: got %v; want 202", err)
	}
	_, _, err = gh.Repositories.CreateDeployment(ctx, "octo-org", "shop", &github.DeploymentRequest{Ref: github.String("nope"), AutoMerge: github.Bool(false)})
	if err == nil || !strings.Contains(err.Error(), "No ref found for: nope") {
		t.Errorf("unknown ref: got %v; want 422", err)
	}

	mk := func(env string, transient bool) *github.Deployment {
		t.Helper()
		d, _, err := gh.Repositories.CreateDeployment(ctx, "octo-org", "shop", &github.DeploymentRequest{
			Ref: github.String(sha), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
			Environment: github.String(env), TransientEnvironment: github.Bool(transient), ProductionEnvironment: github.Bool(false),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := gh.Repositories.CreateDeploymentStatus(ctx, "octo-org", "shop", d.GetID(), &github.DeploymentStatusRequest{
			State: github.String("success"), EnvironmentURL: github.String("https://" + env + ".example"),
		}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	s1 := mk("staging", false)
	s2 := mk("staging", false)
	t1 := mk("preview-pr-42", true)
	t2 := mk("preview-pr-42", true)
	if s1.GetSHA() != sha || s1.GetEnvironment() != "staging" {
		t.Errorf("deployment: got %+v", s1)
	}

	latest := func(d *github.Deployment) string {
		sts, _, err := gh.Repositories.ListDeploymentStatuses(ctx, "octo-org", "shop", d.GetID(), &github.ListOptions{PerPage: 1})
		if err != nil || len(sts) == 0 {
			t.Fatalf("statuses of %d: %v, %v", d.GetID(), sts, err)
		}
		return sts[0].GetState()
	}
	// auto_inactive applies to non-transient deployments only.
	for d, want := range map[*github.Deployment]string{s1: "inactive", s2: "success", t1: "success", t2: "success"} {
		if got := latest(d); got != want {
			t.Errorf("deployment %d (%s): latest state %q; want %q", d.GetID(), d.GetEnvironment(), got, want)
		}
	}
	ds, _, err := gh.Repositories.ListDeployments(ctx, "octo-org", "shop", &github.DeploymentsListOptions{Environment: "preview-pr-42"})
	if err != nil || len(ds) != 2 || ds[0].GetID() != t2.GetID() {
		t.Errorf("list by environment: got %v, %v; want newest first", ds, err)
	}
}

func TestEnvironments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	gh := clients(t, srv)["GHES"]
	const env = "preview-pr-42"

	if _, resp, err := gh.Repositories.GetEnvironment(ctx, "octo-org", "shop", env); err == nil || resp.StatusCode != 404 {
		t.Errorf("missing environment: got %v; want 404", err)
	}
	// Policies cannot be added until custom branch policies are on.
	_, resp, err := gh.Repositories.CreateDeploymentBranchPolicy(ctx, "octo-org", "shop", env, &github.DeploymentBranchPolicyRequest{Name: github.String("x")})
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("policy on missing environment: got %v; want 404", err)
	}
	e, _, err := putEnvironment(ctx, gh, "octo-org", "shop", env, map[string]any{
		"deployment_branch_policy": map[string]bool{"protected_branches": false, "custom_branch_policies": true},
	})
	if err != nil || e.GetName() != env || !e.GetDeploymentBranchPolicy().GetCustomBranchPolicies() {
		t.Fatalf("create: got %+v, %v", e, err)
	}
	p, _, err := gh.Repositories.CreateDeploymentBranchPolicy(ctx, "octo-org", "shop", env, &github.DeploymentBranchPolicyRequest{
		Name: github.String("refs/pull/42/merge"), Type: github.String("branch"),
	})
	if err != nil || p.GetName() != "refs/pull/42/merge" || p.GetType() != "branch" {
		t.Fatalf("policy: got %+v, %v", p, err)
	}
	// The same pattern again: GitHub answers 303 to the existing policy,
	// which the HTTP client follows.
	p2, _, err := gh.Repositories.CreateDeploymentBranchPolicy(ctx, "octo-org", "shop", env, &github.DeploymentBranchPolicyRequest{
		Name: github.String("refs/pull/42/merge"), Type: github.String("branch"),
	})
	if err != nil || p2.GetID() != p.GetID() {
		t.Errorf("duplicate policy: got %+v, %v; want the existing one", p2, err)
	}
	list, _, err := gh.Repositories.ListDeploymentBranchPolicies(ctx, "octo-org", "shop", env)
	if err != nil || list.GetTotalCount() != 1 {
		t.Errorf("list: got %+v, %v; want one policy", list, err)
	}
	// Both protected_branches and custom_branch_policies true is refused.
	if _, _, err := putEnvironment(ctx, gh, "octo-org", "shop", env, map[string]any{
		"deployment_branch_policy": map[string]bool{"protected_branches": true, "custom_branch_policies": true},
	}); err == nil {
		t.Error("both true: got no error; want 422")
	}
	if _, err := gh.Repositories.DeleteDeploymentBranchPolicy(ctx, "octo-org", "shop", env, p.GetID()); err != nil {
		t.Error(err)
	}
	if _, err := gh.Repositories.DeleteEnvironment(ctx, "octo-org", "shop", env); err != nil {
		t.Error(err)
	}
	if resp, err := gh.Repositories.DeleteEnvironment(ctx, "octo-org", "shop", env); err == nil || resp.StatusCode != 404 {
		t.Errorf("delete again: got %v; want 404", err)
	}
	var ws []string
	for _, c := range srv.Writes() {
		ws = append(ws, fmt.Sprint(c.Method, " ", c.Status))
	}
	if want := "[POST 404 PUT 200 POST 200 POST 303 PUT 422 DELETE 204 DELETE 204 DELETE 404]"; fmt.Sprint(ws) != want {
		t.Errorf("writes: got %v; want %s", ws, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := seeded(t)
	gh := clients(t, srv)["GHES"]
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, _, err := gh.Issues.CreateComment(ctx, "octo-org", "shop", 42, &github.IssueComment{Body: github.String(fmt.Sprint(i))}); err != nil {
				t.Error(err)
			}
			_ = srv.Calls()
		})
	}
	wg.Wait()
	if n := len(srv.Comments("octo-org", "shop", 42)); n != 20 {
		t.Errorf("comments: got %d; want 20", n)
	}
}

// graphqlPost sends one GraphQL query and decodes the answer.
func graphqlPost(t *testing.T, srv *fakegithub.Server, query string, vars map[string]any) (data map[string]any, errs []map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", srv.URL()+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any   `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("GraphQL answered %d", resp.StatusCode)
	}
	return out.Data, out.Errors
}

// The fake answers GraphQL the way GitHub does: a repository's
// deployments, newest first with DESC, each with its latest status in
// GraphQL's upper-case enum; FORBIDDEN for a token without deployments
// read, which nulls the repository (the field is non-null); NOT_FOUND for
// an unknown repository.
func TestGraphQLDeployments(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	env := "preview-octo-org-shop-pr-42"
	first := srv.AddDeployment("octo-org", "shop", fakegithub.Deployment{SHA: "aaa", Environment: env, Statuses: []fakegithub.DeploymentStatus{{State: "success", EnvironmentURL: "https://x.example"}, {State: "inactive"}}})
	second := srv.AddDeployment("octo-org", "shop", fakegithub.Deployment{SHA: "bbb", Environment: env})
	srv.AddDeployment("octo-org", "shop", fakegithub.Deployment{SHA: "ccc", Environment: "other"})
	const q = `query($owner: String!, $name: String!, $env: String!) {
	  a: repository(owner: $owner, name: $name) {
	    deployments(environments: [$env], first: 10, orderBy: {field: CREATED_AT, direction: DESC}) {
	      totalCount nodes { databaseId commitOid latestStatus { state environmentUrl } }
	    }
	  }
	}`
	data, errs := graphqlPost(t, srv, q, map[string]any{"owner": "octo-org", "name": "shop", "env": env})
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	got, _ := json.Marshal(data)
	want := fmt.Sprintf(`{"a":{"deployments":{"nodes":[{"commitOid":"bbb","databaseId":%d,"latestStatus":null},{"commitOid":"aaa","databaseId":%d,"latestStatus":{"environmentUrl":null,"state":"INACTIVE"}}],"totalCount":2}}}`, second, first)
	if string(got) != want {
		t.Errorf("data:\n got %s\nwant %s", got, want)
	}

	srv.SetPermissions(map[string]string{fakegithub.PermPullRequests: fakegithub.Read})
	data, errs = graphqlPost(t, srv, q, map[string]any{"owner": "octo-org", "name": "shop", "env": env})
	if len(errs) != 1 || errs[0]["type"] != "FORBIDDEN" || data["a"] != nil {
		t.Errorf("without deployments read: data %v, errors %v; want a null repository and FORBIDDEN", data, errs)
	}
	srv.SetPermissions(nil)
	data, errs = graphqlPost(t, srv, q, map[string]any{"owner": "octo-org", "name": "nope", "env": env})
	if len(errs) != 1 || errs[0]["type"] != "NOT_FOUND" || data["a"] != nil {
		t.Errorf("unknown repository: data %v, errors %v; want NOT_FOUND", data, errs)
	}
	data, _ = graphqlPost(t, srv, `query { viewer { login databaseId } }`, nil)
	if v, _ := data["viewer"].(map[string]any); v["login"] != "github-actions" {
		t.Errorf("viewer: %v; want github-actions without [bot]", data)
	}
}

// A query GitHub's schema refuses, one without pagination, and a valid
// field the fake does not serve each fail the test.
func TestGraphQLRefusalsFailTheTest(t *testing.T) {
	t.Parallel()
	rec := &recordingTB{TB: t}
	srv := fakegithub.New(rec)
	srv.AddPullRequest("octo-org", "shop", fakegithub.PullRequest{Number: 42})
	for _, q := range []string{
		`query { viewer { login nope } }`,
		`query { repository(owner: "octo-org", name: "shop") { deployments { totalCount } } }`,
		`query { viewer { email } }`,
		`query { viewer { login }`,
	} {
		if _, errs := graphqlPost(t, srv, q, nil); len(errs) == 0 {
			t.Errorf("%s: no errors in the answer", q)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 3 {
		t.Errorf("Errorf calls: got %q; want one per refused or unserved query (pagination is GitHub's own error, not the test's)", rec.errs)
	}
}
