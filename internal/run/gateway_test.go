package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/testenv"
)

// allowed asks the real OPA for a decision, as the gateway in front of a
// preview would, with OPA's clock set to the harness's (the test-only seam
// testdata/opa/clock.rego): the run and OPA judge expiry by one clock,
// whatever today's date.
func allowed(t *testing.T, h *harness, host, user, method string, teams ...string) (bool, string) {
	t.Helper()
	d := opaDecision(t, "/v1/data/preview_access_testclock/decision", map[string]any{
		"now_ns":  h.now.UnixNano(),
		"request": opaRequest(host, user, method, teams),
	})
	return d.Allow, d.Reason
}

// allowedNow asks the production rule itself, with OPA's own clock.
func allowedNow(t *testing.T, host, user, method string, teams ...string) (bool, string) {
	t.Helper()
	d := opaDecision(t, "/v1/data/preview_access/decision", opaRequest(host, user, method, teams))
	return d.Allow, d.Reason
}

func opaRequest(host, user, method string, teams []string) map[string]any {
	if teams == nil {
		teams = []string{}
	}
	return map[string]any{"host": host, "method": method, "path": "/api/orders", "user": user, "teams": teams}
}

type opaResult struct {
	Allow  bool   `json:"allow"`
	Reason string `json:"deny_reason"`
}

func opaDecision(t *testing.T, path string, input map[string]any) opaResult {
	t.Helper()
	var out struct {
		Result *opaResult `json:"result"`
	}
	if opaDo(t, http.MethodPost, path, map[string]any{"input": input}, &out); out.Result == nil {
		t.Fatalf("OPA %s: no result", path)
	}
	return *out.Result
}

// opaDo sends one request to the test OPA, with its token, and decodes a
// 200 answer into out.
func opaDo(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, testenv.OPAURL(t)+path, r)
	req.Header.Set("Authorization", "Bearer "+testenv.OPAToken(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("OPA %s %s: status %d, %v", method, path, resp.StatusCode, err)
	}
}

// TestOPAGatewayLifecycle runs the gateway's lifecycle with the harness
// clock today, 30 days back and 30 days ahead: decisions follow the run's
// clock in each, so no fixed date can make the suite red again.
func TestOPAGatewayLifecycle(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{0, -30 * 24 * time.Hour, 30 * 24 * time.Hour} {
		t.Run(fmt.Sprintf("clock %+dd", int(offset.Hours()/24)), func(t *testing.T) {
			t.Parallel()
			testOPAGatewayLifecycle(t, offset)
		})
	}
}

func testOPAGatewayLifecycle(t *testing.T, offset time.Duration) {
	h := newHarness(t)
	h.now = h.now.Add(offset)
	h.useOPA()
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "roles:\n  admin:\n    methods: [\"*\"]\n    paths: [\"/**\"]\n  reader:\n    methods: [GET, HEAD]\n    paths: [\"/**\"]\ngrants:\n  reader:\n    teams: ["+h.owner+"/qa]\n")
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	host := "pr-42." + h.repo + ".preview.test"
	cases := []struct {
		name, user, method string
		teams              []string
		want               bool
	}{
		{"author may POST", "octocat", "POST", nil, true},
		{"reviewer may GET", "alice", "GET", nil, true},
		{"reviewer may not POST", "alice", "POST", nil, false},
		{"assignee may GET", "bob", "GET", nil, true},
		{"team from the access file may GET", "carol", "GET", []string{h.owner + "/qa"}, true},
		{"stranger is denied", "mallory", "GET", nil, false},
	}
	for _, tc := range cases {
		if got, reason := allowed(t, h, host, tc.user, tc.method, tc.teams...); got != tc.want {
			t.Errorf("%s: allow = %t (%s); want %t", tc.name, got, reason, tc.want)
		}
		if offset != 0 {
			continue
		}
		// Today, the production rule with OPA's own clock agrees.
		if got, reason := allowedNow(t, host, tc.user, tc.method, tc.teams...); got != tc.want {
			t.Errorf("%s, OPA's own clock: allow = %t (%s); want %t", tc.name, got, reason, tc.want)
		}
	}
	if out := h.outputs(); !strings.Contains(out["gateway-policy"], `"apiVersion":"preview-access/v1"`) {
		t.Errorf("gateway-policy output = %q", out["gateway-policy"])
	}
	comment := h.gh.Comments(h.owner, h.repo, 42)[0].Body
	if !strings.Contains(comment, "user:octocat") || !strings.Contains(comment, "admin") {
		t.Errorf("comment does not say who has access:\n%s", comment)
	}

	// Unchanged: the document is read, not re-sent.
	h.resetCounts()
	if code := h.run(); code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if !strings.Contains(h.stdout.String(), "gateway-policy") || !strings.Contains(h.stdout.String(), "no-op   up to date") {
		t.Errorf("re-run plan does not show the gateway policy up to date:\n%s", h.stdout.String())
	}
	if out := h.outputs(); out["changed"] != "false" {
		t.Errorf("re-run changed = %q; want false", out["changed"])
	}

	// Past the ttl (7 days) on the same clock, the author is refused.
	expired := opaDecision(t, "/v1/data/preview_access_testclock/decision", map[string]any{
		"now_ns":  h.now.Add(7*24*time.Hour + time.Minute).UnixNano(),
		"request": opaRequest(host, "octocat", "GET", nil),
	})
	if got, reason := expired.Allow, expired.Reason; got || !strings.Contains(reason, "expired") {
		t.Errorf("after the ttl the author: allow %t (%q); want denied, expired", got, reason)
	}

	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	if got, reason := allowed(t, h, host, "octocat", "GET"); got || !strings.Contains(reason, "no preview") {
		t.Errorf("after teardown the author: allow %t (%q); want denied, no preview", got, reason)
	}
}

func TestBadAccessFileWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.useOPA()
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "grants:\n  reader:\n    teams: [qa]\nrolez: {}\n")
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	msg := strings.Join(h.annotations("error"), "\n")
	for _, w := range []string{"line 4", `unknown key "rolez"`, "org/team"} {
		if !strings.Contains(msg, w) {
			t.Errorf("errors %q lack %q", msg, w)
		}
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("writes: IAM %d, GitHub %v; want none", iamW, ghW)
	}
}

// TestGatewayFailureIsNotReportedReady: a gateway that refuses the policy
// fails the run after the role was made; no comment or deployment claims
// the preview is ready; the next run, with the gateway fixed, converges.
func TestGatewayFailureIsNotReportedReady(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	refuse := true
	docs := map[string][]byte{}
	const secret = "0123456789abcdef-webhook"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if err := gateway.Verify(secret, r.Header.Get(gateway.SignatureHeader), r.Method, r.URL.RequestURI(), body, time.Now(), time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/previews/")
		switch r.Method {
		case http.MethodGet:
			if d, ok := docs[id]; ok {
				w.Write(d)
				return
			}
			http.NotFound(w, r)
		case http.MethodPut:
			if refuse {
				http.Error(w, "roles.admin.methods: unknown method FETCH", http.StatusBadRequest)
				return
			}
			docs[id] = body
		case http.MethodDelete:
			delete(docs, id)
		}
	}))
	defer srv.Close()

	h := newHarness(t)
	h.set("gateway", "webhook", "gateway-url", srv.URL, "gateway-secret", secret)
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	msg := strings.Join(h.annotations("error"), "\n")
	for _, w := range []string{"400", "unknown method FETCH", "not ready"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	if strings.Contains(strings.ReplaceAll(h.stdout.String(), "::add-mask::"+secret, "")+h.stderr.String()+h.summary(), secret) {
		t.Error("the gateway secret leaked into the output")
	}
	// The summary has the plan, then what failed and that a re-run converges.
	if sum := h.summary(); !strings.Contains(sum, "**The run failed**") || !strings.Contains(sum, "## Preview access: the run failed") ||
		!strings.Contains(sum, "Some of the plan may have been applied") || !strings.Contains(sum, "unknown method FETCH") {
		t.Errorf("job summary of a failed apply does not say what failed:\n%s", sum)
	}
	if n := len(h.gh.Comments(h.owner, h.repo, 42)); n != 0 {
		t.Errorf("%d comments; want none: the preview is not ready", n)
	}
	for _, d := range h.gh.Deployments(h.owner, h.repo) {
		if lastState(d) == "success" {
			t.Errorf("deployment %d reports success; the preview is not ready", d.ID)
		}
	}

	mu.Lock()
	refuse = false
	mu.Unlock()
	if code := h.run(); code != 0 {
		t.Fatalf("after the gateway is fixed: exit %d", code)
	}
	mu.Lock()
	_, published := docs["gh-"+h.env["GITHUB_REPOSITORY_ID"]+"-pr-42"]
	mu.Unlock()
	if !published || !h.role(42).Exists || len(h.gh.Comments(h.owner, h.repo, 42)) != 1 {
		t.Errorf("not converged: published %t, role %t, comments %d", published, h.role(42).Exists, len(h.gh.Comments(h.owner, h.repo, 42)))
	}
}

func TestDispatchOfMissingPR(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("workflow_dispatch", "workflow_dispatch.json", replace(`"pr": "42"`, `"pr": "999"`))
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "999 does not exist") {
		t.Errorf("error %q; want it to say PR 999 does not exist", msg)
	}
	if iamW, _ := h.writes(); iamW != 0 {
		t.Errorf("%d IAM writes; want none", iamW)
	}
}

// TestFilesComeFromTheDefaultBranch: a PR opened against a branch its
// author pushed, carrying their own access file, gets nothing from it; the
// default branch's file rules.
func TestFilesComeFromTheDefaultBranch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	policyFile := filepath.Join(h.dir, "policy.json")
	h.set("gateway", "file", "gateway-file", policyFile)
	h.gh.SetBranch(h.owner, h.repo, "evil", "0123456789012345678901234567890123456789")
	h.gh.SetFile(h.owner, h.repo, "evil", ".github/preview-access.yml", "grants:\n  admin:\n    users: [mallory]\n")
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "grants:\n  reader:\n    users: [carol]\n")
	h.event("pull_request_target", "pull_request_target.opened.json", replace(`"ref": "main"`, `"ref": "evil"`))
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	doc, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "mallory") || !strings.Contains(string(doc), "user:carol") {
		t.Errorf("gateway policy took the PR base's access file, not the default branch's:\n%s", doc)
	}
}
