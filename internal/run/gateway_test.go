package run

import (
	"bytes"
	"encoding/json"
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

// allowed asks the real OPA's decision API, as the gateway in front of a
// preview would.
func allowed(t *testing.T, host, user, method string, teams ...string) (bool, string) {
	t.Helper()
	if teams == nil {
		teams = []string{}
	}
	input := map[string]any{"host": host, "method": method, "path": "/api/orders", "user": user, "teams": teams}
	var allow bool
	var reason string
	for _, rule := range []string{"allow", "deny_reason"} {
		body, _ := json.Marshal(map[string]any{"input": input})
		req, _ := http.NewRequest(http.MethodPost, testenv.OPAURL(t)+"/v1/data/preview_access/"+rule, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testenv.OPAToken(t))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Result any }
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		switch v := out.Result.(type) {
		case bool:
			allow = v
		case string:
			reason = v
		}
	}
	return allow, reason
}

func TestOPAGatewayLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("gateway", "opa", "gateway-url", testenv.OPAURL(t), "gateway-token", testenv.OPAToken(t))
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "roles:\n  admin:\n    methods: [\"*\"]\n    paths: [\"/**\"]\n  reader:\n    methods: [GET, HEAD]\n    paths: [\"/**\"]\ngrants:\n  reader:\n    teams: ["+h.owner+"/qa]\n")
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	host := "pr-42." + h.repo + ".preview.test"
	for _, tc := range []struct {
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
	} {
		if got, reason := allowed(t, host, tc.user, tc.method, tc.teams...); got != tc.want {
			t.Errorf("%s: allow = %t (%s); want %t", tc.name, got, reason, tc.want)
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

	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	if got, reason := allowed(t, host, "octocat", "GET"); got || !strings.Contains(reason, "no preview") {
		t.Errorf("after teardown the author: allow %t (%q); want denied, no preview", got, reason)
	}
}

func TestBadAccessFileWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.set("gateway", "opa", "gateway-url", testenv.OPAURL(t), "gateway-token", testenv.OPAToken(t))
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
