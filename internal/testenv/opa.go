package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The OPA of scripts/test runs the shipped system.authz
// (templates/gateway/authz.rego): OPAToken is its admin token. These
// helpers do what an OPA's admin does for a repository, as
// `preview-access bootstrap --format opa` prints it.

// OPAAdmin sends one admin request to the test OPA and fails the test
// unless it succeeds.
func OPAAdmin(t testing.TB, method, path string, body any) {
	t.Helper()
	var r *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, OPAURL(t)+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+OPAToken(t))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("OPA admin %s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("OPA admin %s %s: %s", method, path, resp.Status)
	}
}

// BindOPAHosts binds host patterns to a repository
// (data.preview_access_admin.hosts), until the test ends.
func BindOPAHosts(t testing.TB, repositoryID int64, patterns ...string) {
	t.Helper()
	path := "/v1/data/preview_access_admin/hosts/" + strconv.FormatInt(repositoryID, 10)
	OPAAdmin(t, http.MethodPut, path, patterns)
	t.Cleanup(func() { OPAAdmin(t, http.MethodDelete, path, nil) })
}

// VouchForProxyHeaders has the test OPA's admin vouch for the identity
// headers oauth2-proxy sets (data.preview_access_admin.identity = {}), as
// an admin with oauth2-proxy in front does: without it the module denies
// every Envoy-shaped request. It is left in place, since tests sharing the
// OPA may rely on it at once; the module's own tests (opa test) cover the
// OPA without it.
func VouchForProxyHeaders(t testing.TB) {
	t.Helper()
	OPAAdmin(t, http.MethodPut, "/v1/data/preview_access_admin/identity", map[string]any{})
}

// OPARepositoryToken issues a token of a repository's own, which the
// authorization policy confines to the repository's subtree, until the
// test ends.
func OPARepositoryToken(t testing.TB, repositoryID int64) string {
	t.Helper()
	return opaToken(t, map[string]string{"kind": "repository", "repository_id": strconv.FormatInt(repositoryID, 10)})
}

// OPAGatewayToken issues a token that may ask for decisions only.
func OPAGatewayToken(t testing.TB) string {
	t.Helper()
	return opaToken(t, map[string]string{"kind": "gateway"})
}

func opaToken(t testing.TB, identity map[string]string) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token := hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	path := "/v1/data/preview_access_admin/tokens/" + hex.EncodeToString(sum[:])
	OPAAdmin(t, http.MethodPut, path, identity)
	t.Cleanup(func() { OPAAdmin(t, http.MethodDelete, path, nil) })
	return token
}
