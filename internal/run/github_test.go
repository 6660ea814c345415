package run

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

func (h *harness) marker(pr int) string {
	return report.Marker(fmt.Sprintf("gh-%d-pr-%d", h.repoID, pr))
}

// TestOneStickyComment: a comment POST that GitHub applied but answered
// 502 leaves one comment, not two; a duplicate of ours from an earlier run
// is removed, so down revokes the only one.
func TestOneStickyComment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.gh.Inject(fakegithub.Fault{Method: "POST", Path: "/repos/" + h.owner + "/" + h.repo + "/issues/42/comments", Applied: true, Status: http.StatusBadGateway})
	if code := h.run(); code != 0 {
		t.Fatalf("opened with the comment's answer lost: exit %d", code)
	}
	if cs := h.gh.Comments(h.owner, h.repo, 42); len(cs) != 1 {
		t.Fatalf("%d comments; want 1", len(cs))
	}
	// As if an older version had posted twice.
	h.gh.AddComment(h.owner, h.repo, 42, "github-actions[bot]", h.marker(42)+"\nan old duplicate")
	if code := h.run(); code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if cs := h.gh.Comments(h.owner, h.repo, 42); len(cs) != 1 || strings.Contains(cs[0].Body, "old duplicate") {
		t.Fatalf("after the re-run: %d comments (%+v); want the first one alone", len(cs), cs)
	}
	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	h.checkRevoked(42)
}

// TestAnotherAppsCommentIsLeftAlone: a comment with the marker that this
// token's identity did not write is neither edited nor revoked.
func TestAnotherAppsCommentIsLeftAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, fakegithub.WithActor("preview-bot[bot]", "Bot"))
	h.event("pull_request_target", "pull_request_target.opened.json")
	other := h.marker(42) + "\nanother app's comment"
	h.gh.AddComment(h.owner, h.repo, 42, "github-actions[bot]", other)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	cs := h.gh.Comments(h.owner, h.repo, 42)
	if len(cs) != 2 || cs[0].Body != other || cs[1].Author != "preview-bot[bot]" {
		t.Errorf("comments %+v; want the other app's untouched and one of ours", cs)
	}
	if n := strings.Join(h.annotations("notice"), "\n"); !strings.Contains(n, "not written by this token's identity") {
		t.Errorf("notices %q; want one about the other comment", n)
	}
}

// TestLargeAccessFileStillComments: an access file of 2,000 users gives a
// comment GitHub takes (the fake refuses one over 65,536 characters, as
// GitHub does); the job summary holds the whole list.
func TestLargeAccessFileStillComments(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("gateway", "file", "gateway-file", filepath.Join(h.dir, "policy.json"))
	var users strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&users, "      - reviewer-with-a-rather-long-login-%04d\n", i)
	}
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "grants:\n  reader:\n    users:\n"+users.String())
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	cs := h.gh.Comments(h.owner, h.repo, 42)
	if len(cs) != 1 || utf8.RuneCountInString(cs[0].Body) > 65536 || !strings.Contains(cs[0].Body, "too many for a comment") {
		t.Fatalf("comments %d (%d characters); want one summarised comment", len(cs), utf8.RuneCountInString(cs[len(cs)-1].Body))
	}
	if s := h.summary(); !strings.Contains(s, "reviewer-with-a-rather-long-login-1999") {
		t.Error("the job summary lacks the full list of who has access")
	}
}

// TestRevocationSaysWhyAndWho: the teardown comment gives the reason and
// names who lost access, from the gateway document it removed.
func TestRevocationSaysWhyAndWho(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("gateway", "file", "gateway-file", filepath.Join(h.dir, "policy.json"))
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	body := h.gh.Comments(h.owner, h.repo, 42)[0].Body
	for _, want := range []string{"Access ended because the pull request was merged", "and the gateway policy were removed", "Who lost access: `user:alice` (reader), `user:bob` (reader) and `user:octocat` (admin)."} {
		if !strings.Contains(body, want) {
			t.Errorf("revocation comment lacks %q:\n%s", want, body)
		}
	}
}

// TestEnvironmentProtectionsSurvive: up on a PR whose environment someone
// protected with a wait timer and reviewers keeps both.
func TestEnvironmentProtectionsSurvive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("trust-scope", "environment")
	h.gh.ProtectEnvironment(h.owner, h.repo, "preview-pr-42", 15, 4532992)
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	e, _ := h.gh.Environment(h.owner, h.repo, "preview-pr-42")
	if e.WaitTimer != 15 || len(e.Reviewers) != 1 {
		t.Errorf("environment after up: wait timer %d, reviewers %+v; want 15 and one reviewer kept", e.WaitTimer, e.Reviewers)
	}
	if e.BranchPolicy == nil || !e.BranchPolicy.CustomBranchPolicies || len(e.Policies) != 1 || e.Policies[0].Name != "refs/pull/42/merge" {
		t.Errorf("environment after up: %+v; want the one branch policy", e)
	}
}

// TestTransientEnvironmentIsRemoved: with trust-scope ref GitHub makes a
// preview-pr-N environment for the PR's deployments; teardown deletes it
// when the token may, and otherwise says which permission it needs.
func TestTransientEnvironmentIsRemoved(t *testing.T) {
	t.Parallel()
	for _, admin := range []bool{true, false} {
		t.Run(fmt.Sprintf("administration %t", admin), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.event("pull_request_target", "pull_request_target.opened.json")
			if code := h.run(); code != 0 {
				t.Fatalf("opened: exit %d", code)
			}
			if _, ok := h.gh.Environment(h.owner, h.repo, "preview-pr-42"); !ok {
				t.Fatal("the fake made no environment for the deployment, as GitHub does")
			}
			if !admin {
				h.gh.SetPermissions(map[string]string{fakegithub.PermPullRequests: fakegithub.Write, fakegithub.PermIssues: fakegithub.Write,
					fakegithub.PermDeployments: fakegithub.Write, fakegithub.PermContents: fakegithub.Read, fakegithub.PermActions: fakegithub.Read})
			}
			h.event("pull_request_target", "pull_request_target.closed.merged.json")
			if code := h.run(); code != 0 {
				t.Fatalf("closed: exit %d", code)
			}
			_, left := h.gh.Environment(h.owner, h.repo, "preview-pr-42")
			switch {
			case admin && left:
				t.Error("the environment is still there")
			case !admin && !left:
				t.Error("the environment went without the permission to delete it")
			case !admin && !strings.Contains(strings.Join(h.annotations("notice"), "\n"), "Administration: write"):
				t.Errorf("notices %q; want one naming Administration: write", h.annotations("notice"))
			}
		})
	}
}

// TestAccessFileThatCannotBeReadGrantsNothing: GitHub answers 404 to a
// token that cannot see the repository's contents; the narrowing access
// file must not silently give way to the wider defaults.
func TestAccessFileThatCannotBeReadGrantsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	policy := filepath.Join(h.dir, "policy.json")
	h.set("gateway", "file", "gateway-file", policy)
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "defaults:\n  author: reader\n  reviewers: none\n  assignees: none\n")
	h.event("pull_request_target", "pull_request_target.opened.json")
	base := "/repos/" + h.owner + "/" + h.repo + "/contents/"
	for _, p := range []string{base + ".github/preview-access.yml", base + ".github", base} {
		h.gh.FailNext("GET", p, 10, http.StatusNotFound)
	}
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "input access-file") || !strings.Contains(msg, "contents: read") {
		t.Errorf("errors %q; want access-file named, with the permission", msg)
	}
	h.wantNothingWritten(t)
	if _, err := os.Stat(policy); err == nil {
		t.Error("a gateway policy was written")
	}
}

// TestTemplateThatCannotBeReadIsNotReplaced: a permissions template whose
// read answers 404 all the way up (a token that cannot see the contents)
// or 5xx is an error naming the input; the built-in template never stands
// in for it.
func TestTemplateThatCannotBeReadIsNotReplaced(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusBadGateway} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.set("permissions-template", ".github/preview-role.json")
			h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-role.json", `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/{number}/*"}]}`)
			h.event("pull_request_target", "pull_request_target.opened.json")
			base := "/repos/" + h.owner + "/" + h.repo + "/contents/"
			for _, p := range []string{base + ".github/preview-role.json", base + ".github", base} {
				h.gh.FailNext("GET", p, 20, status)
			}
			h.resetCounts()
			if code := h.run(); code != ExitError {
				t.Fatalf("exit %d; want 1", code)
			}
			if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "input permissions-template") {
				t.Errorf("errors %q; want permissions-template named", msg)
			}
			h.wantNothingWritten(t)
			if h.role(42).Exists {
				t.Error("a role was created with another template")
			}
		})
	}
}

func TestAccessFileAbsence(t *testing.T) {
	t.Parallel()
	t.Run("named and missing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.set("gateway", "file", "gateway-file", filepath.Join(h.dir, "policy.json"), "access-file", ".github/preview-acess.yml")
		h.event("pull_request_target", "pull_request_target.opened.json")
		h.resetCounts()
		if code := h.run(); code != ExitError {
			t.Fatalf("exit %d; want 1", code)
		}
		if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "input access-file: .github/preview-acess.yml does not exist on the default branch") {
			t.Errorf("errors %q", msg)
		}
		h.wantNothingWritten(t)
	})
	t.Run("default path missing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.set("gateway", "file", "gateway-file", filepath.Join(h.dir, "policy.json"))
		h.event("pull_request_target", "pull_request_target.opened.json")
		if code := h.run(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if n := strings.Join(h.annotations("notice"), "\n"); !strings.Contains(n, "no access file .github/preview-access.yml on the default branch: the defaults apply") {
			t.Errorf("notices %q; want the defaults announced", n)
		}
	})
}

// TestRejectedTokenIsNamed: a 401 is github-token's fault, not the access
// file's.
func TestRejectedTokenIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, fakegithub.WithToken("ghs_theRealToken0000000000000000000000"))
	h.set("gateway", "file", "gateway-file", filepath.Join(h.dir, "policy.json"), "github-token", "ghs_aWrongToken000000000000000000000000")
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	msg := strings.Join(h.annotations("error"), "\n")
	if !strings.Contains(msg, "input github-token") || !strings.Contains(msg, "401") || strings.Contains(msg, "access-file") {
		t.Errorf("errors %q; want github-token blamed for the 401, not access-file", msg)
	}
}

// TestRemoteOPANeedsAToken: an OPA off this machine without a token is
// refused before anything is written.
func TestRemoteOPANeedsAToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("gateway", "opa", "gateway-url", "https://opa.example.com")
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "input gateway-token: is required") {
		t.Errorf("errors %q", msg)
	}
	h.wantNothingWritten(t)
}

// fakeOPA is just enough of OPA's REST API for a run: policies and data.
type fakeOPA struct {
	mu     sync.Mutex
	module string
	docs   map[string]string
	puts   []string
}

func (f *fakeOPA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	switch {
	case r.URL.Path == gateway.OPAPolicyPath && r.Method == http.MethodGet:
		if f.module == "" {
			http.Error(w, `{"code":"resource_not_found","message":"storage_not_found_error: policy id preview_access"}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"result":{"id":"preview_access","raw":%q}}`, f.module)
	case r.URL.Path == gateway.OPAPolicyPath && r.Method == http.MethodPut:
		f.module = string(b)
		f.puts = append(f.puts, "module")
		w.Write([]byte(`{}`))
	case r.Method == http.MethodGet:
		if d, ok := f.docs[r.URL.Path]; ok {
			fmt.Fprintf(w, `{"result":%s}`, d)
			return
		}
		w.Write([]byte(`{}`))
	case r.Method == http.MethodPut:
		f.docs[r.URL.Path] = string(b)
		f.puts = append(f.puts, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete:
		delete(f.docs, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	}
}

// TestGatewayModuleIsPlanned: installing the Rego module is a write like
// any other: planned, shown in the job summary, and skipped once current.
func TestGatewayModuleIsPlanned(t *testing.T) {
	t.Parallel()
	opa := &fakeOPA{docs: map[string]string{}}
	srv := httptest.NewServer(opa)
	t.Cleanup(srv.Close)
	h := newHarness(t)
	h.set("gateway", "opa", "gateway-url", srv.URL)
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(h.stdout.String(), "+ gateway-module") || !strings.Contains(h.summary(), "| gateway-module | preview\\_access | create |") {
		t.Errorf("the module install is not in the plan and summary:\n%s\n%s", h.stdout.String(), h.summary())
	}
	if len(opa.puts) != 2 || opa.puts[0] != "module" && opa.puts[1] != "module" {
		t.Errorf("OPA writes %v; want the module and the document", opa.puts)
	}
	opa.puts = nil
	if code := h.run(); code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if len(opa.puts) != 0 || !strings.Contains(h.stdout.String(), "gateway-module") {
		t.Errorf("re-run wrote %v to OPA; want nothing, the module planned as current", opa.puts)
	}
}

// TestSharedOPAHostsStayTheirs: two repositories on one OPA, each with its
// own token; the second publishes a preview, authored by mallory, on the
// first one's host. The first one's author keeps access, mallory gets
// none, and the host's preview is the first one's.
func TestSharedOPAHostsStayTheirs(t *testing.T) {
	t.Parallel()
	a, b := newHarness(t), newHarness(t)
	a.useOPA()
	b.useOPA()
	b.set("preview-url", "https://pr-{number}."+a.repo+".preview.test")
	a.event("pull_request_target", "pull_request_target.opened.json")
	b.event("pull_request_target", "pull_request_target.opened.json", replace(`"login": "octocat"`, `"login": "mallory"`))
	for _, h := range []*harness{a, b} {
		if code := h.run(); code != 0 {
			t.Fatalf("opened in %s: exit %d", h.repo, code)
		}
	}
	host := "pr-42." + a.repo + ".preview.test"
	if ok, reason := allowed(t, a, host, "octocat", "POST"); !ok {
		t.Errorf("A's author on A's host: denied (%s); want allowed", reason)
	}
	if ok, reason := allowed(t, a, host, "mallory", "GET"); ok || !strings.Contains(reason, "no role") {
		t.Errorf("B's author on A's host: allowed %t (%s); want denied, no role", ok, reason)
	}
	var out struct {
		Result struct {
			PreviewID string `json:"preview_id"`
		} `json:"result"`
	}
	opaDo(t, http.MethodPost, "/v1/data/preview_access_testclock/decision", map[string]any{"input": map[string]any{"now_ns": a.now.UnixNano(), "request": opaRequest(host, "mallory", "GET", nil)}}, &out)
	if want := fmt.Sprintf("gh-%d-pr-42", a.repoID); out.Result.PreviewID != want {
		t.Errorf("the host's preview is %q; want A's %s, not B's", out.Result.PreviewID, want)
	}
}
