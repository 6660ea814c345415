package policy_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/templates"
)

// claims are the OIDC claims of a deploy job's token, keyed without the
// issuer host.
type claims map[string]string

// admits evaluates a trust document as STS would for its shape: some
// statement whose every StringEquals condition equals the claim; any
// other operator or a principal other than the provider makes the test
// fail, since TestTrustMatrix asserts the shape first.
func admits(t *testing.T, doc []byte, provider string, c claims) bool {
	t.Helper()
	var d policy.Document
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	host := policy.ProviderHost(provider)
	for _, s := range d.Statement {
		ok := s.Principal != nil && s.Principal.Federated == provider
		for k, v := range s.Condition["StringEquals"] {
			name, found := strings.CutPrefix(k, host+":")
			if !found || len(v) != 1 || c[name] != v[0] {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestTrustMatrix renders the trust policy through config.Load and
// desired.Build for every combination of trust scope, subject template,
// OIDC provider and PR number, and checks the invariants: one statement,
// only StringEquals, aud, sub, repository_id and ref present; PR N's
// token admitted; tokens of PR N+1, of another repository id, of the
// default branch and of another audience refused.
func TestTrustMatrix(t *testing.T) {
	t.Parallel()
	const repoID, ownerID = 123456789, 987654
	providers := map[string]string{
		"default":  "",
		"custom":   "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		"GHES":     "arn:aws:iam::123456789012:oidc-provider/ghes.example.com/_services/token",
		"GHE slug": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/octo-enterprise",
	}
	subjects := map[string]string{
		"default":  "",
		"ids":      "repository_owner_id:{owner_id}:repository_id:{repository_id}:pull_request",
		"with env": "repo:{owner}/{repo}:environment:{environment}",
		"with PR":  "repo:{owner}/{repo}:pr:{number}",
	}
	tmpl, err := templates.FS.ReadFile(templates.DefaultPermissions)
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{policy.ScopeRef, policy.ScopeEnvironment} {
		for sname, subj := range subjects {
			if scope == policy.ScopeRef && strings.Contains(subj, "{environment}") {
				continue // refused by config: covered by the config tests
			}
			for pname, prov := range providers {
				for _, n := range []int{1, 123, 99999} {
					name := fmt.Sprintf("%s/subject %s/provider %s/PR %d", scope, sname, pname, n)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						in := map[string]string{
							"account-id": "123456789012", "permissions-boundary": "arn:aws:iam::123456789012:policy/b",
							"trust-scope": scope, "subject-template": subj, "oidc-provider-arn": prov,
						}
						c, err := config.Load(func(k string) string { return in[k] })
						if err != nil {
							t.Fatal(err)
						}
						p := preview.Preview{Owner: "octo-org", Repo: "shop", RepositoryID: repoID, OwnerID: ownerID, Number: n, State: "open"}
						st, err := desired.Build(c, p, tmpl, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
						if err != nil {
							t.Fatal(err)
						}
						doc := st.Role.Trust
						provider := c.ProviderARN()
						if errs := policy.LintTrust("trust", doc, st.Trust, policy.DefaultTrustSizeLimit); len(errs) > 0 {
							t.Errorf("LintTrust: %v", errs)
						}
						var d struct {
							Statement []struct {
								Effect    string
								Principal map[string]string
								Action    string
								Condition map[string]map[string]string
							}
						}
						if err := json.Unmarshal(doc, &d); err != nil {
							t.Fatal(err)
						}
						if len(d.Statement) != 1 {
							t.Fatalf("%d statements; want 1", len(d.Statement))
						}
						s := d.Statement[0]
						if s.Effect != "Allow" || s.Action != "sts:AssumeRoleWithWebIdentity" || len(s.Principal) != 1 || s.Principal["Federated"] != provider {
							t.Errorf("statement %+v; want Allow AssumeRoleWithWebIdentity for %s only", s, provider)
						}
						if len(s.Condition) != 1 || s.Condition["StringEquals"] == nil {
							t.Fatalf("operators %v; want only StringEquals", s.Condition)
						}
						host := policy.ProviderHost(provider)
						for _, k := range []string{"aud", "sub", "repository_id", "ref"} {
							v, ok := s.Condition["StringEquals"][host+":"+k]
							if !ok || v == "" || strings.ContainsAny(v, "*?") {
								t.Errorf("condition %s:%s = %q (present %t); want a literal value", host, k, v, ok)
							}
						}
						for k := range s.Condition["StringEquals"] {
							if !strings.HasPrefix(k, host+":") {
								t.Errorf("condition key %q is not of the provider %s", k, host)
							}
						}

						env := "preview-pr-" + strconv.Itoa(n)
						token := func(num int, id int64, ref, aud string) claims {
							e := "preview-pr-" + strconv.Itoa(num)
							sub := naming(subj, scope, num, id, e)
							c := claims{"aud": aud, "sub": sub, "repository_id": strconv.FormatInt(id, 10), "ref": ref}
							if scope == policy.ScopeEnvironment {
								c["environment"] = e
							}
							return c
						}
						own := token(n, repoID, fmt.Sprintf("refs/pull/%d/merge", n), "sts.amazonaws.com")
						if !admits(t, doc, provider, own) {
							t.Fatalf("PR %d's own token %v is refused by\n%s", n, own, doc)
						}
						for what, c := range map[string]claims{
							"the next PR": token(n+1, repoID, fmt.Sprintf("refs/pull/%d/merge", n+1), "sts.amazonaws.com"),
							"the next PR, this env": func() claims {
								c := token(n+1, repoID, fmt.Sprintf("refs/pull/%d/merge", n+1), "sts.amazonaws.com")
								c["environment"], c["sub"] = env, own["sub"]
								return c
							}(),
							"another repository": token(n, 42, fmt.Sprintf("refs/pull/%d/merge", n), "sts.amazonaws.com"),
							"the default branch": token(n, repoID, "refs/heads/main", "sts.amazonaws.com"),
							"another audience":   token(n, repoID, fmt.Sprintf("refs/pull/%d/merge", n), "https://github.com/octo-org"),
						} {
							if admits(t, doc, provider, c) {
								t.Errorf("a token of %s %v is admitted", what, c)
							}
						}
					})
				}
			}
		}
	}
}

// naming renders the sub claim GitHub would issue for a subject template.
func naming(tmpl, scope string, n int, repoID int64, env string) string {
	if tmpl == "" {
		if scope == policy.ScopeEnvironment {
			return "repo:octo-org/shop:environment:" + env
		}
		return "repo:octo-org/shop:pull_request"
	}
	r := strings.NewReplacer("{owner}", "octo-org", "{repo}", "shop", "{owner_id}", "987654",
		"{repository_id}", strconv.FormatInt(repoID, 10), "{environment}", env, "{number}", strconv.Itoa(n))
	return r.Replace(tmpl)
}
