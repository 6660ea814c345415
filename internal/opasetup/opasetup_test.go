package opasetup

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/templates"
)

func TestCheckPreviewHosts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hosts []string
		ok    bool
	}{
		{[]string{"pr-*.shop.preview.example.com"}, true},
		{[]string{"*.shop.example.com", "shop-pr-*.example.com:8443"}, true},
		{nil, false},
		{[]string{"*.example.com"}, true},
		{[]string{"*.com"}, false},
		{[]string{"pr-*.*"}, false},
		{[]string{"PR-*.example.com"}, false},
		{[]string{"pr-**.example.com"}, false},
		{[]string{"pr-1.example.com/x"}, false},
		{[]string{"pr-1.example.*"}, false},
	} {
		if err := CheckPreviewHosts(tc.hosts); (err == nil) != tc.ok {
			t.Errorf("CheckPreviewHosts(%q) = %v; want ok %t", tc.hosts, err, tc.ok)
		}
	}
}

// TestOPAScript runs the script bootstrap prints against the test OPA as
// its admin, then uses the token it issued: it writes the repository's
// own documents, nothing else, and a preview on a bound host is decided.
func TestOPAScript(t *testing.T) {
	t.Parallel()
	url, admin := testenv.OPAURL(t), testenv.OPAToken(t)
	o := bootstrap.Options{AccountID: "123456789012", Owner: "octo-org", Repo: "shop"}
	o.RepositoryID = time.Now().UnixNano()%1_000_000_000_000 + 7
	host := fmt.Sprintf("pr-*.r%d.preview.test", o.RepositoryID)
	script, err := Script(o, []string{host})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", string(script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPA_URL="+url, "OPA_ADMIN_TOKEN="+admin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the script failed: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`gateway-token for octo-org/shop: ([0-9a-f]{64})`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the script printed no token:\n%s", out)
	}
	token := string(m[1])
	authz, _ := templates.FS.ReadFile(templates.GatewayAuthz)
	if got, _ := os.ReadFile(filepath.Join(dir, "preview-access-authz.rego")); !bytes.Equal(got, authz) {
		t.Error("the authorization policy the script writes is not templates/gateway/authz.rego")
	}
	do := func(method, path, body string) int {
		req, _ := http.NewRequestWithContext(context.Background(), method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	own := fmt.Sprintf("/v1/data/preview_access/repositories/%d/previews/gh-%d-pr-1", o.RepositoryID, o.RepositoryID)
	doc := fmt.Sprintf(`{"host":"pr-1.r%d.preview.test","expiresAt":"2200-01-01T00:00:00Z","roles":{"admin":{"methods":["*"],"paths":["/**"]}},"bindings":{"user:octocat":["admin"]}}`, o.RepositoryID)
	if got := do(http.MethodPut, own, doc); got != http.StatusNoContent {
		t.Errorf("the repository's token writing its own document: %d; want 204", got)
	}
	t.Cleanup(func() { do(http.MethodDelete, own, "") })
	if got := do(http.MethodPut, "/v1/data/preview_access/repositories/1/previews/gh-1-pr-1", doc); got != http.StatusUnauthorized {
		t.Errorf("the repository's token writing another repository's document: %d; want 401", got)
	}
	if got := do(http.MethodPut, fmt.Sprintf("/v1/data/preview_access_admin/hosts/%d", o.RepositoryID), `["*.example.com"]`); got != http.StatusUnauthorized {
		t.Errorf("the repository's token re-binding its hosts: %d; want 401", got)
	}
	body := fmt.Sprintf(`{"input":{"host":"pr-1.r%d.preview.test","method":"GET","path":"/","user":"octocat","teams":[]}}`, o.RepositoryID)
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/data/preview_access/decision", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(b.String(), `"allow":true`) {
		t.Errorf("a preview on the bound host: %s; want allowed", b.String())
	}
}
