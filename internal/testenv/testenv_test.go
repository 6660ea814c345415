package testenv_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/preview-access/preview-access/internal/testenv"
)

func TestUniqueRepo(t *testing.T) {
	t.Parallel()
	// GitHub's owner and repository alphabets, narrowed to what also fits an
	// IAM path and an OPA document path unchanged.
	valid := regexp.MustCompile(`^[a-z][a-z0-9]{1,38}$`)
	seen := map[string]bool{}
	for range 100 {
		owner, repo := testenv.UniqueRepo(t)
		for _, s := range []string{owner, repo} {
			if !valid.MatchString(s) {
				t.Fatalf("UniqueRepo gave %q; want it to match %s", s, valid)
			}
		}
		if seen[owner+"/"+repo] {
			t.Fatalf("UniqueRepo repeated %s/%s", owner, repo)
		}
		seen[owner+"/"+repo] = true
	}
}

func TestResetMoto(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.Path
	}))
	defer srv.Close()
	testenv.ResetMoto(t, srv.URL+"/")
	if want := "POST /moto-api/reset"; got != want {
		t.Errorf("ResetMoto sent %q; want %q", got, want)
	}
}

func TestClientsAgainstMoto(t *testing.T) {
	t.Parallel()
	url := testenv.MotoURL(t)
	owner, repo := testenv.UniqueRepo(t)
	path := "/preview-access/" + owner + "/" + repo + "/"
	c := testenv.IAMClient(t, url)
	out, err := c.ListRoles(t.Context(), &iam.ListRolesInput{PathPrefix: aws.String(path)})
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	if len(out.Roles) != 0 {
		t.Errorf("ListRoles(%s) found %d roles; want none", path, len(out.Roles))
	}
	id, err := testenv.STSClient(t, url).GetCallerIdentity(t.Context(), nil)
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(id.Account) == "" {
		t.Error("GetCallerIdentity: empty account")
	}
}

func TestToolsFromEnvironment(t *testing.T) {
	t.Parallel()
	for name, get := range map[string]func(testing.TB) string{
		"OPAURL":          testenv.OPAURL,
		"OPAToken":        testenv.OPAToken,
		"OPABin":          testenv.OPABin,
		"CfnLint":         testenv.CfnLint,
		"ActionLint":      testenv.ActionLint,
		"GitHubOpenAPI":   testenv.GitHubOpenAPI,
		"WebhookExamples": testenv.WebhookExamples,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if get(t) == "" {
				t.Errorf("%s() is empty", name)
			}
		})
	}
}

// The OPA server of scripts/test (templates/gateway/authz.rego, with the
// test token as its admin token) admits only
// requests that carry its token.
func TestOPARequiresToken(t *testing.T) {
	t.Parallel()
	url, token := testenv.OPAURL(t), testenv.OPAToken(t)
	for _, tt := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer x" + token, http.StatusUnauthorized},
		{"token", "Bearer " + token, http.StatusOK},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/v1/data", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: GET /v1/data = %d; want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}
