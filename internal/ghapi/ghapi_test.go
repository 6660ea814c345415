package ghapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

const (
	owner = "octo-org"
	repo  = "shop"
	sha1  = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	sha2  = "9f2c3b1a7e4d5c6b8a90f1e2d3c4b5a6978e1f20"
)

// waits records the retry waits a client asked for and sleeps 1ms instead.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(d time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return time.Millisecond
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// setup starts a fake GitHub seeded with octo-org/shop#42 and a client for
// it over the GitHub Enterprise Server URL form.
func setup(t *testing.T, opts ...fakegithub.Option) (*Client, *fakegithub.Server, *waits) {
	t.Helper()
	srv := fakegithub.New(t, opts...)
	srv.AddRepo(fakegithub.Repo{Owner: owner, Name: repo, ID: 123456789, OwnerID: 987654})
	srv.AddPullRequest(owner, repo, fakegithub.PullRequest{
		Number: 42, Title: "Add login page", HeadRef: "feature/login", HeadSHA: sha1,
		RequestedReviewers: []string{"alice"}, Assignees: []string{"bob"},
	})
	srv.SetBranch(owner, repo, "other", sha2)
	w := &waits{}
	c, err := New(Options{
		Token:        srv.Token(),
		APIURL:       srv.APIURL(),
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		MaxRetries:   3,
		sleep:        w.sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv, w
}

func writes(srv *fakegithub.Server) []string {
	var out []string
	for _, c := range srv.Writes() {
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); !errors.Is(err, ErrNoToken) {
		t.Errorf("New without token: got %v; want ErrNoToken", err)
	}
	tests := []struct {
		name, api, wantBase, wantUpload string
		wantErr                         bool
	}{
		{name: "github.com default", api: "", wantBase: "https://api.github.com/", wantUpload: "https://uploads.github.com/"},
		{name: "github.com explicit", api: "https://api.github.com", wantBase: "https://api.github.com/", wantUpload: "https://uploads.github.com/"},
		{name: "GHES", api: "https://ghes.example.com/api/v3", wantBase: "https://ghes.example.com/api/v3/", wantUpload: "https://ghes.example.com/api/uploads/"},
		{name: "GHES trailing slash", api: "https://ghes.example.com/api/v3/", wantBase: "https://ghes.example.com/api/v3/", wantUpload: "https://ghes.example.com/api/uploads/"},
		{name: "GHE.com data residency", api: "https://api.octocorp.ghe.com", wantBase: "https://api.octocorp.ghe.com/", wantUpload: "https://api.octocorp.ghe.com/api/uploads/"},
		{name: "loopback http", api: "http://127.0.0.1:8080/api/v3", wantBase: "http://127.0.0.1:8080/api/v3/", wantUpload: "http://127.0.0.1:8080/api/uploads/"},
		{name: "plain http elsewhere", api: "http://ghes.example.com/api/v3", wantErr: true},
		{name: "credentials in URL", api: "https://user:pass@ghes.example.com/api/v3", wantErr: true},
		{name: "not a URL", api: "ghes.example.com", wantErr: true},
		{name: "other scheme", api: "ftp://ghes.example.com/", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(Options{Token: "t0ken", APIURL: tc.api})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("New(%q): got no error; want one", tc.api)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tc.api, err)
			}
			if got := c.gh.BaseURL.String(); got != tc.wantBase {
				t.Errorf("BaseURL: got %q; want %q", got, tc.wantBase)
			}
			if got := c.gh.UploadURL.String(); got != tc.wantUpload {
				t.Errorf("UploadURL: got %q; want %q", got, tc.wantUpload)
			}
		})
	}
}

func TestEnterprisePrefixIsUsed(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	if _, err := c.PullRequest(context.Background(), owner, repo, 42); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 1 || calls[0].Raw != "/api/v3/repos/octo-org/shop/pulls/42" {
		t.Errorf("calls: got %+v; want one GET /api/v3/repos/octo-org/shop/pulls/42", calls)
	}
}

func TestPullRequest(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	ctx := context.Background()
	pr, err := c.PullRequest(ctx, owner, repo, 42)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 42 || pr.GetState() != "open" || pr.GetHead().GetSHA() != sha1 || pr.GetHead().GetRef() != "feature/login" ||
		pr.GetBase().GetRepo().GetID() != 123456789 || pr.RequestedReviewers[0].GetLogin() != "alice" {
		t.Errorf("PullRequest: got %+v", pr)
	}

	_, err = c.PullRequest(ctx, owner, repo, 7)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing PR: got %v; want ErrNotFound", err)
	}
	if want := "pull request octo-org/shop#7 does not exist"; !strings.Contains(err.Error(), want) {
		t.Errorf("missing PR: got %q; want it to contain %q", err, want)
	}
}

func TestOpenPullRequests(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	for n := 100; n < 350; n++ {
		srv.AddPullRequest(owner, repo, fakegithub.PullRequest{Number: n})
		if n%5 == 0 {
			srv.ClosePullRequest(owner, repo, n, n%10 == 0)
		}
	}
	srv.ResetCalls()
	prs, err := c.OpenPullRequests(context.Background(), owner, repo)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(prs), 1+250-50; got != want {
		t.Errorf("open PRs: got %d; want %d", got, want)
	}
	if prs[42] == nil || prs[101] == nil || prs[105] != nil {
		t.Errorf("open PRs: #42 %v, #101 %v, #105 (closed) %v", prs[42] != nil, prs[101] != nil, prs[105] != nil)
	}
	calls := srv.Calls()
	if len(calls) != 3 {
		t.Errorf("calls: got %d %v; want 3 pages of 100", len(calls), calls)
	}
	for _, call := range calls {
		if !strings.Contains(call.Query, "per_page=100") || !strings.Contains(call.Query, "state=open") {
			t.Errorf("call %s?%s: want state=open&per_page=100", call.Path, call.Query)
		}
	}
}

func TestFileAtRef(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	ctx := context.Background()
	content := "users: [alice]\nteams: [octo-org/shop-admins]\n" + strings.Repeat("# padding\n", 20)
	srv.SetFile(owner, repo, "main", ".github/preview-access.yml", content)

	data, found, err := c.FileAtRef(ctx, owner, repo, ".github/preview-access.yml", "main")
	if err != nil || !found || string(data) != content {
		t.Errorf("FileAtRef(main): got %q, %v, %v; want the content, true, nil", data, found, err)
	}
	// Absent, and proven so by the listing of its directory, or of the
	// root when the directory is missing too.
	srv.SetBranch(owner, repo, "other", strings.Repeat("1", 40))
	for _, path := range []string{".github/access.yml", "nowhere/at/all.yml"} {
		data, found, err = c.FileAtRef(ctx, owner, repo, path, "other")
		if err != nil || found || data != nil {
			t.Errorf("FileAtRef(%s at other): got %q, %v, %v; want nil, false, nil", path, data, found, err)
		}
	}
	// A 404 that no listing explains is not absence: a ref that does not
	// exist, or a token that cannot see the contents.
	if _, found, err := c.FileAtRef(ctx, owner, repo, ".github/preview-access.yml", "gone"); !errors.Is(err, ErrUnreadable) || found {
		t.Errorf("FileAtRef(unknown ref): found %v, err %v; want ErrUnreadable", found, err)
	}
	srv.FailNext("GET", "/repos/octo-org/shop/contents/.github/preview-access.yml", 1, http.StatusNotFound)
	srv.FailNext("GET", "/repos/octo-org/shop/contents/.github", 1, http.StatusNotFound)
	srv.FailNext("GET", "/repos/octo-org/shop/contents/", 1, http.StatusNotFound)
	if _, found, err := c.FileAtRef(ctx, owner, repo, ".github/preview-access.yml", ""); !errors.Is(err, ErrUnreadable) || found || !strings.Contains(err.Error(), "contents: read") {
		t.Errorf("FileAtRef with every listing hidden: found %v, err %v; want ErrUnreadable naming contents: read", found, err)
	}
	srv.FailNext("GET", "/repos/octo-org/shop/contents/.github/preview-access.yml", 1, http.StatusNotFound)
	if _, found, err := c.FileAtRef(ctx, owner, repo, ".github/preview-access.yml", "main"); !errors.Is(err, ErrUnreadable) || found {
		t.Errorf("FileAtRef with a 404 for a listed file: found %v, err %v; want ErrUnreadable", found, err)
	}
	if _, _, err := c.FileAtRef(ctx, owner, repo, ".github", "main"); err == nil {
		t.Error("FileAtRef(directory): got no error; want one")
	}
}

func TestUpsertComment(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	ctx := context.Background()
	marker := report.Marker("gh-123456789-pr-42")
	// 150 comments by others first, so the sticky one lands on page 2.
	for i := range 150 {
		srv.AddComment(owner, repo, 42, "alice", fmt.Sprintf("looks good %d", i))
	}
	// A marker for another preview must not be taken for ours.
	srv.AddComment(owner, repo, 42, "github-actions[bot]", report.Marker("gh-123456789-pr-4")+"\nother")
	// A person quoting our marker cannot pose as the sticky comment.
	srv.AddComment(owner, repo, 42, "mallory", marker+"\n<!-- preview-access-state:up-forged -->")

	body := marker + "\n### Preview access\nrole: `preview-octo-org-shop-pr-42`\n"
	steps := []struct {
		name, body  string
		wantChanged bool
		wantWrites  []string
	}{
		{name: "create", body: body, wantChanged: true, wantWrites: []string{"POST /repos/octo-org/shop/issues/42/comments"}},
		{name: "same body", body: body, wantChanged: false},
		{name: "same body with CRLF", body: strings.ReplaceAll(body, "\n", "\r\n"), wantChanged: false},
		{name: "new body", body: body + "revoked\n", wantChanged: true, wantWrites: []string{"PATCH /repos/octo-org/shop/issues/comments/*"}},
		{name: "new body again", body: body + "revoked\n", wantChanged: false},
	}
	for _, st := range steps {
		srv.ResetCalls()
		changed, err := c.UpsertComment(ctx, owner, repo, 42, marker, st.body)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if changed != st.wantChanged {
			t.Errorf("%s: changed %v; want %v", st.name, changed, st.wantChanged)
		}
		got := writes(srv)
		for i := range got {
			if strings.HasPrefix(got[i], "PATCH /repos/octo-org/shop/issues/comments/") {
				got[i] = "PATCH /repos/octo-org/shop/issues/comments/*"
			}
		}
		if diff := cmp.Diff(st.wantWrites, got); diff != "" {
			t.Errorf("%s: writes (-want +got):\n%s", st.name, diff)
		}
	}
	var ours int
	for _, cm := range srv.Comments(owner, repo, 42) {
		if strings.Contains(cm.Body, marker) && cm.Author != "mallory" {
			ours++
			if cm.Body != body+"revoked\n" {
				t.Errorf("sticky comment body: got %q", cm.Body)
			}
		}
	}
	if ours != 1 {
		t.Errorf("sticky comments: got %d; want exactly 1", ours)
	}

	// A body without the marker gets it, so the next run finds it.
	srv.ResetCalls()
	if _, err := c.UpsertComment(ctx, owner, repo, 42, report.Marker("x"), "plain"); err != nil {
		t.Fatal(err)
	}
	cm, err := c.sticky(ctx, owner, repo, 42, report.Marker("x"))
	if err != nil || cm == nil || cm.GetBody() != report.Marker("x")+"\nplain" {
		t.Errorf("Comment(x): got %v, %v; want the marked comment", cm, err)
	}
}

func TestCommentOnMissingPR(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	_, err := c.UpsertComment(context.Background(), owner, repo, 9, report.Marker("a"), "b")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v; want ErrNotFound", err)
	}
}

type deployCall struct {
	Ref                   string    `json:"ref"`
	AutoMerge             *bool     `json:"auto_merge"`
	RequiredContexts      *[]string `json:"required_contexts"`
	Environment           string    `json:"environment"`
	TransientEnvironment  *bool     `json:"transient_environment"`
	ProductionEnvironment *bool     `json:"production_environment"`
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	ctx := context.Background()
	const env, url = "preview-pr-42", "https://pr-42.preview.example.com"

	ds, err := c.Deployments(ctx, owner, repo, env)
	if err != nil || len(ds) != 0 {
		t.Fatalf("Deployments before: got %+v, %v; want none", ds, err)
	}

	id1, err := c.CreateDeployment(ctx, owner, repo, env, sha1)
	if err != nil {
		t.Fatal(err)
	}
	ws := srv.Writes()
	if len(ws) != 1 || ws[0].Path != "/repos/octo-org/shop/deployments" {
		t.Fatalf("writes: got %v; want one deployment", writes(srv))
	}
	var req deployCall
	if err := json.Unmarshal([]byte(ws[0].Body), &req); err != nil {
		t.Fatal(err)
	}
	f, tr := false, true
	want := deployCall{Ref: sha1, AutoMerge: &f, RequiredContexts: &[]string{}, Environment: env, TransientEnvironment: &tr, ProductionEnvironment: &f}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("deployment request (-want +got):\n%s", diff)
	}
	if ds, _ := c.Deployments(ctx, owner, repo, env); len(ds) != 1 || ds[0].State != "" {
		t.Errorf("a new deployment has no status yet: %+v", ds)
	}
	if err := c.SetDeploymentStatus(ctx, owner, repo, id1, "success", url); err != nil {
		t.Fatal(err)
	}
	ds, err = c.Deployments(ctx, owner, repo, env)
	if err != nil || len(ds) != 1 || !ds[0].Current(sha1, url) {
		t.Errorf("Deployments after: %+v, %v; want one current", ds, err)
	}

	// A push: a second deployment, listed first.
	id2, err := c.CreateDeployment(ctx, owner, repo, env, sha2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetDeploymentStatus(ctx, owner, repo, id2, "success", url); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	ds, err = c.Deployments(ctx, owner, repo, env)
	if err != nil || len(ds) != 2 || ds[0].SHA != sha2 || ds[1].SHA != sha1 {
		t.Fatalf("Deployments: %+v, %v; want the newest first", ds, err)
	}
	if calls := srv.Calls(); len(calls) != 1 {
		t.Errorf("Deployments made %d requests; want one GraphQL query for the deployments and their statuses", len(calls))
	}

	// Without deployments: read, GraphQL answers FORBIDDEN with status
	// 200: still the token's missing permission.
	srv.SetPermissions(map[string]string{fakegithub.PermPullRequests: fakegithub.Read})
	_, err = c.Deployments(ctx, owner, repo, env)
	var perm *PermissionError
	if !errors.As(err, &perm) || perm.Permission != "deployments: read" {
		t.Errorf("Deployments without the permission: %v; want a PermissionError naming deployments: read", err)
	}
	srv.SetPermissions(nil)

	// Teardown, twice: the second writes nothing.
	srv.ResetCalls()
	changed, err := c.deactivateAll(ctx, owner, repo, env)
	if err != nil || !changed || len(srv.Writes()) != 2 {
		t.Errorf("deactivate: changed %v, err %v, writes %v; want two status writes", changed, err, writes(srv))
	}
	srv.ResetCalls()
	changed, err = c.deactivateAll(ctx, owner, repo, env)
	if err != nil || changed || len(srv.Writes()) != 0 {
		t.Errorf("deactivate again: changed %v, err %v, writes %v; want none", changed, err, writes(srv))
	}
	for _, d := range srv.Deployments(owner, repo) {
		if last(d) != "inactive" {
			t.Errorf("deployment %d: got %q; want inactive", d.ID, last(d))
		}
	}
}

func last(d fakegithub.Deployment) string {
	if len(d.Statuses) == 0 {
		return ""
	}
	return d.Statuses[len(d.Statuses)-1].State
}

func TestEnsureEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const env, ref = "preview-pr-42", "refs/pull/42/merge"
	wantPolicy := []fakegithub.BranchPolicy{{Name: ref, Type: "branch"}}
	tests := []struct {
		name string
		seed func(*fakegithub.Server)
	}{
		{name: "new", seed: func(*fakegithub.Server) {}},
		{name: "unprotected", seed: func(s *fakegithub.Server) { s.AddEnvironment(owner, repo, env, nil) }},
		{name: "protected branches", seed: func(s *fakegithub.Server) {
			s.AddEnvironment(owner, repo, env, &fakegithub.BranchPolicySetting{ProtectedBranches: true})
		}},
		{name: "stray policies", seed: func(s *fakegithub.Server) {
			s.AddEnvironment(owner, repo, env, &fakegithub.BranchPolicySetting{CustomBranchPolicies: true},
				fakegithub.BranchPolicy{Name: "main"}, fakegithub.BranchPolicy{Name: "refs/pull/*/merge"},
				fakegithub.BranchPolicy{Name: ref, Type: "tag"}, fakegithub.BranchPolicy{Name: ref})
		}},
		{name: "many stray policies", seed: func(s *fakegithub.Server) {
			var ps []fakegithub.BranchPolicy
			for i := range 45 {
				ps = append(ps, fakegithub.BranchPolicy{Name: fmt.Sprintf("release/%d", i)})
			}
			s.AddEnvironment(owner, repo, env, &fakegithub.BranchPolicySetting{CustomBranchPolicies: true}, ps...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, srv, _ := setup(t)
			tc.seed(srv)
			changed, err := c.EnsureEnvironment(ctx, owner, repo, env, ref)
			if err != nil || !changed {
				t.Fatalf("EnsureEnvironment: got %v, %v; want true, nil", changed, err)
			}
			e, ok := srv.Environment(owner, repo, env)
			if !ok || e.BranchPolicy == nil || e.BranchPolicy.ProtectedBranches || !e.BranchPolicy.CustomBranchPolicies {
				t.Fatalf("environment: got %+v; want custom branch policies", e)
			}
			if diff := cmp.Diff(wantPolicy, e.Policies, cmpIgnoreID()); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
			st, err := c.Environment(ctx, owner, repo, env)
			if err != nil || !st.AdmitsOnly(ref) || st.AdmitsOnly("refs/pull/43/merge") {
				t.Errorf("Environment: got %+v, %v; want it to admit only %s", st, err, ref)
			}

			srv.ResetCalls()
			changed, err = c.EnsureEnvironment(ctx, owner, repo, env, ref)
			if err != nil || changed || len(srv.Writes()) != 0 {
				t.Errorf("re-run: changed %v, err %v, writes %v; want none", changed, err, writes(srv))
			}
		})
	}
}

func cmpIgnoreID() cmp.Option {
	return cmp.Transformer("noID", func(p fakegithub.BranchPolicy) fakegithub.BranchPolicy { p.ID = 0; return p })
}

func TestEnsureEnvironmentRefusesPatterns(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	for _, ref := range []string{"", "refs/pull/*/merge", "refs/pull/4?/merge", "refs/pull/[0-9]/merge", " refs/pull/42/merge"} {
		if _, err := c.EnsureEnvironment(context.Background(), owner, repo, "preview-pr-42", ref); err == nil {
			t.Errorf("EnsureEnvironment(%q): got no error; want one", ref)
		}
	}
	for _, env := range []string{"", "a/b", "a?b", "..", strings.Repeat("e", 256)} {
		if _, err := c.EnsureEnvironment(context.Background(), owner, repo, env, "refs/pull/42/merge"); err == nil {
			t.Errorf("EnsureEnvironment(env %q): got no error; want one", env)
		}
	}
	if len(srv.Calls()) != 0 {
		t.Errorf("calls: got %v; want none for bad input", srv.Calls())
	}
}

func TestDeleteEnvironment(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t)
	ctx := context.Background()
	srv.AddEnvironment(owner, repo, "preview-pr-42", nil)
	if changed, err := c.DeleteEnvironment(ctx, owner, repo, "preview-pr-42"); err != nil || !changed {
		t.Errorf("delete: got %v, %v; want true, nil", changed, err)
	}
	if _, ok := srv.Environment(owner, repo, "preview-pr-42"); ok {
		t.Error("environment still exists")
	}
	if changed, err := c.DeleteEnvironment(ctx, owner, repo, "preview-pr-42"); err != nil || changed {
		t.Errorf("delete again: got %v, %v; want false, nil", changed, err)
	}
}

func TestPermissionErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// What a workflow's GITHUB_TOKEN typically holds: never administration.
	actionsToken := map[string]string{
		fakegithub.PermContents: fakegithub.Read, fakegithub.PermPullRequests: fakegithub.Write,
		fakegithub.PermDeployments: fakegithub.Write, fakegithub.PermActions: fakegithub.Read,
	}
	tests := []struct {
		name           string
		perms          map[string]string
		call           func(*Client) error
		wantPermission string
		wantText       string
	}{
		{
			name:  "environment needs administration",
			perms: actionsToken,
			call: func(c *Client) error {
				_, err := c.EnsureEnvironment(ctx, owner, repo, "preview-pr-42", "refs/pull/42/merge")
				return err
			},
			wantPermission: environmentPermission,
			wantText:       "use trust-scope: ref, which needs no environment",
		},
		{
			name:  "delete environment needs administration",
			perms: actionsToken,
			call: func(c *Client) error {
				_, err := c.DeleteEnvironment(ctx, owner, repo, "preview-pr-42")
				return err
			},
			wantPermission: environmentPermission,
		},
		{
			name:  "comment needs pull-requests write",
			perms: map[string]string{fakegithub.PermPullRequests: fakegithub.Read},
			call: func(c *Client) error {
				_, err := c.UpsertComment(ctx, owner, repo, 42, report.Marker("x"), "hello")
				return err
			},
			wantPermission: "pull-requests: write",
			wantText:       "the token cannot write issue comments on octo-org/shop#42: grant `pull-requests: write`",
		},
		{
			name:  "deployment needs deployments write",
			perms: map[string]string{fakegithub.PermDeployments: fakegithub.Read},
			call: func(c *Client) error {
				_, err := c.CreateDeployment(ctx, owner, repo, "preview-pr-42", sha1)
				return err
			},
			wantPermission: "deployments: write",
		},
		{
			name:  "pull request needs pull-requests read",
			perms: map[string]string{fakegithub.PermContents: fakegithub.Read},
			call: func(c *Client) error {
				_, err := c.PullRequest(ctx, owner, repo, 42)
				return err
			},
			wantPermission: "pull-requests: read",
		},
		{
			name:  "access file needs contents read",
			perms: map[string]string{fakegithub.PermPullRequests: fakegithub.Read},
			call: func(c *Client) error {
				_, _, err := c.FileAtRef(ctx, owner, repo, ".github/preview-access.yml", "main")
				return err
			},
			wantPermission: "contents: read",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, srv, _ := setup(t)
			if tc.name == "delete environment needs administration" {
				srv.AddEnvironment(owner, repo, "preview-pr-42", nil)
			}
			srv.SetPermissions(tc.perms)
			err := tc.call(c)
			var pe *PermissionError
			if !errors.As(err, &pe) || !errors.Is(err, ErrForbidden) {
				t.Fatalf("got %v; want a *PermissionError", err)
			}
			if pe.Permission != tc.wantPermission {
				t.Errorf("Permission: got %q; want %q", pe.Permission, tc.wantPermission)
			}
			if pe.Status != http.StatusForbidden || pe.Message != "Resource not accessible by integration" || pe.Accepted == "" {
				t.Errorf("got status %d message %q accepted %q; want GitHub's 403", pe.Status, pe.Message, pe.Accepted)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q; want it to contain %q", err, tc.wantText)
			}
			var calls []fakegithub.Call
			for _, call := range srv.Calls() {
				if call.Path != "/api/graphql" { // who the token is: a read
					calls = append(calls, call)
				}
			}
			for _, call := range calls {
				if call.Status == http.StatusForbidden {
					continue
				}
				if call.Method != http.MethodGet {
					t.Errorf("a write succeeded despite the missing permission: %+v", call)
				}
			}
			if n := len(calls); n > 3 {
				t.Errorf("calls: got %d; a 403 must not be retried", n)
			}
		})
	}
}

func TestEnvironmentNotCreatedWithoutPermission(t *testing.T) {
	t.Parallel()
	c, srv, _ := setup(t, fakegithub.WithPermissions(map[string]string{fakegithub.PermActions: fakegithub.Read}))
	_, err := c.EnsureEnvironment(context.Background(), owner, repo, "preview-pr-42", "refs/pull/42/merge")
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("got %v; want ErrForbidden", err)
	}
	if _, ok := srv.Environment(owner, repo, "preview-pr-42"); ok {
		t.Error("an environment was created without administration permission")
	}
}

func TestUnauthorizedAndTokenNeverShown(t *testing.T) {
	t.Parallel()
	srv := fakegithub.New(t)
	srv.AddPullRequest(owner, repo, fakegithub.PullRequest{Number: 42})
	const bad = "ghp_s3cr3tT0kenThatMustNeverBeShown000000"
	c, err := New(Options{Token: bad, APIURL: srv.APIURL(), RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error
	_, err = c.PullRequest(ctx, owner, repo, 42)
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("PullRequest with a bad token: got %v; want ErrUnauthorized", err)
	}
	errs = append(errs, err)
	_, err = c.UpsertComment(ctx, owner, repo, 42, report.Marker("x"), "b")
	errs = append(errs, err)
	_, err = c.EnsureEnvironment(ctx, owner, repo, "preview-pr-42", "refs/pull/42/merge")
	errs = append(errs, err)

	// A server that is gone: a transport error.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c2, err := New(Options{Token: bad, APIURL: dead.URL + "/api/v3", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.PullRequest(ctx, owner, repo, 42)
	errs = append(errs, err)

	for _, err := range errs {
		if err == nil {
			t.Error("got no error; want one")
			continue
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), bad) {
			t.Errorf("error shows the token: %v", err)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const prPath = "/repos/octo-org/shop/pulls/42"

	t.Run("502 then success", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		srv.FailNext("GET", prPath, 2, http.StatusBadGateway)
		if _, err := c.PullRequest(ctx, owner, repo, 42); err != nil {
			t.Fatal(err)
		}
		if got := statuses(srv); !cmp.Equal(got, []int{502, 502, 200}) {
			t.Errorf("statuses: got %v; want [502 502 200]", got)
		}
	})

	t.Run("5xx exhausts retries", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		srv.FailNext("GET", prPath, 10, http.StatusServiceUnavailable)
		_, err := c.PullRequest(ctx, owner, repo, 42)
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("got %v; want GitHub's 503", err)
		}
		if n := len(srv.Calls()); n != 4 {
			t.Errorf("calls: got %d; want 1 + 3 retries", n)
		}
	})

	t.Run("POST body is replayed", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		srv.FailNext("POST", "/repos/octo-org/shop/issues/42/comments", 1, http.StatusInternalServerError)
		if _, err := c.UpsertComment(ctx, owner, repo, 42, report.Marker("m"), "hello"); err != nil {
			t.Fatal(err)
		}
		cs := srv.Comments(owner, repo, 42)
		if len(cs) != 1 || cs[0].Body != report.Marker("m")+"\nhello" {
			t.Errorf("comments: got %+v; want exactly one with the body", cs)
		}
	})

	t.Run("secondary rate limit with Retry-After", func(t *testing.T) {
		t.Parallel()
		c, srv, w := setup(t)
		srv.SecondaryRateLimitNext("POST", "/repos/octo-org/shop/deployments", 1, "3")
		if _, err := c.CreateDeployment(ctx, owner, repo, "preview-pr-42", sha1); err != nil {
			t.Fatal(err)
		}
		if got := w.get(); !cmp.Equal(got, []time.Duration{3 * time.Second}) {
			t.Errorf("waits: got %v; want [3s] as Retry-After asked", got)
		}
		if n := len(srv.Deployments(owner, repo)); n != 1 {
			t.Errorf("deployments: got %d; want 1", n)
		}
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		c, srv, w := setup(t)
		srv.Inject(fakegithub.Fault{Method: "GET", Path: prPath, Status: http.StatusTooManyRequests, SecondaryRateLimit: true, RetryAfter: "2"})
		if _, err := c.PullRequest(ctx, owner, repo, 42); err != nil {
			t.Fatal(err)
		}
		if got := w.get(); !cmp.Equal(got, []time.Duration{2 * time.Second}) {
			t.Errorf("waits: got %v; want [2s]", got)
		}
	})

	t.Run("secondary rate limit without a time waits a minute", func(t *testing.T) {
		t.Parallel()
		c, srv, w := setup(t)
		srv.SecondaryRateLimitNext("GET", prPath, 1, "")
		if _, err := c.PullRequest(ctx, owner, repo, 42); err != nil {
			t.Fatal(err)
		}
		if got := w.get(); !cmp.Equal(got, []time.Duration{time.Minute}) {
			t.Errorf("waits: got %v; want [1m]", got)
		}
	})

	t.Run("primary rate limit waits for the reset", func(t *testing.T) {
		t.Parallel()
		c, srv, w := setup(t)
		srv.Inject(fakegithub.Fault{Method: "GET", Path: prPath, RateLimitReset: time.Now().Add(10 * time.Second)})
		if _, err := c.PullRequest(ctx, owner, repo, 42); err != nil {
			t.Fatal(err)
		}
		got := w.get()
		if len(got) != 1 || got[0] < 8*time.Second || got[0] > 10*time.Second {
			t.Errorf("waits: got %v; want about 10s", got)
		}
	})

	t.Run("wait beyond the bound is not retried", func(t *testing.T) {
		t.Parallel()
		c, srv, w := setup(t)
		srv.SecondaryRateLimitNext("GET", prPath, 1, "3600")
		_, err := c.PullRequest(ctx, owner, repo, 42)
		if !errors.Is(err, ErrRateLimited) {
			t.Errorf("got %v; want ErrRateLimited", err)
		}
		if n := len(srv.Calls()); n != 1 || len(w.get()) != 0 {
			t.Errorf("calls %d, waits %v; want 1 call and no wait", n, w.get())
		}
	})

	t.Run("other 4xx are not retried", func(t *testing.T) {
		t.Parallel()
		c, srv, _ := setup(t)
		for _, st := range []int{400, 404, 409, 422} {
			srv.FailNext("GET", prPath, 1, st)
		}
		for range 4 {
			if _, err := c.PullRequest(ctx, owner, repo, 42); err == nil {
				t.Error("got no error; want one")
			}
		}
		if got := statuses(srv); !cmp.Equal(got, []int{400, 404, 409, 422}) {
			t.Errorf("statuses: got %v; want each once", got)
		}
	})
}

func statuses(srv *fakegithub.Server) []int {
	var out []int
	for _, c := range srv.Calls() {
		out = append(out, c.Status)
	}
	return out
}

func TestTimeoutAndContext(t *testing.T) {
	t.Parallel()
	srv := fakegithub.New(t)
	srv.AddPullRequest(owner, repo, fakegithub.PullRequest{Number: 42})
	srv.SetLatency(2 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c, err := New(Options{Token: srv.Token(), APIURL: srv.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.PullRequest(ctx, owner, repo, 42)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v; the context should have ended it at once", d)
	}

	// Options.Timeout bounds each attempt; attempts that time out are retried.
	c, err = New(Options{Token: srv.Token(), APIURL: srv.APIURL(), Timeout: 30 * time.Millisecond, MaxRetries: 1,
		RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err = c.PullRequest(context.Background(), owner, repo, 42); err == nil {
		t.Error("got no error; want a timeout")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v; want two attempts of 30ms", d)
	}
}
