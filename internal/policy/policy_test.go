package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preview-access/preview-access/internal/testenv/golden"
)

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

const provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"

func refOptions(pr string) TrustOptions {
	return TrustOptions{ProviderARN: provider, Scope: ScopeRef, Subject: "repo:octo-org/shop:pull_request", RepositoryID: 123456789, Ref: "refs/pull/" + pr + "/merge"}
}

func TestTrustGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	json.Indent(&buf, Trust(refOptions("42")), "", "  ")
	checkGolden(t, "trust-ref.json", append(buf.Bytes(), '\n'))

	buf.Reset()
	env := TrustOptions{ProviderARN: provider, Scope: ScopeEnvironment, Subject: "repo:octo-org/shop:environment:preview-pr-42", RepositoryID: 123456789, Environment: "preview-pr-42"}
	json.Indent(&buf, Trust(env), "", "  ")
	checkGolden(t, "trust-environment.json", append(buf.Bytes(), '\n'))
}

// admits evaluates a trust policy the way STS does for the shape we
// write: every StringEquals key must equal the claim.
func admits(t *testing.T, doc []byte, claims map[string]string) bool {
	t.Helper()
	var d Document
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	host := ProviderHost(provider)
	for _, s := range d.Statement {
		ok := true
		for k, v := range s.Condition["StringEquals"] {
			if len(v) != 1 || claims[strings.TrimPrefix(k, host+":")] != v[0] {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// token is the claims GitHub puts in the OIDC token of a deploy job.
func token(scope, repoID, ref, env string) map[string]string {
	c := map[string]string{"aud": "sts.amazonaws.com", "repository_id": repoID, "ref": ref}
	switch {
	case scope == ScopeEnvironment:
		c["sub"], c["environment"] = "repo:octo-org/shop:environment:"+env, env
	case strings.HasPrefix(ref, "refs/pull/"):
		c["sub"] = "repo:octo-org/shop:pull_request"
	default:
		c["sub"] = "repo:octo-org/shop:ref:" + ref
	}
	return c
}

func TestTrustInvariants(t *testing.T) {
	t.Parallel()
	for _, scope := range []string{ScopeRef, ScopeEnvironment} {
		o := refOptions("123")
		o.Scope = scope
		if scope == ScopeEnvironment {
			o.Subject, o.Environment = "repo:octo-org/shop:environment:preview-pr-123", "preview-pr-123"
		}
		doc := Trust(o)
		if errs := LintTrust("trust", doc, o, DefaultTrustSizeLimit); len(errs) > 0 {
			t.Errorf("%s: LintTrust = %v; want none", scope, errs)
		}
		var d Document
		json.Unmarshal(doc, &d)
		if len(d.Statement) != 1 {
			t.Fatalf("%s: %d statements; want 1", scope, len(d.Statement))
		}
		cond := d.Statement[0].Condition
		if len(cond) != 1 || cond["StringEquals"] == nil {
			t.Errorf("%s: condition operators %v; want only StringEquals", scope, cond)
		}
		for _, k := range []string{"aud", "sub", "repository_id", "ref"} {
			if _, ok := cond["StringEquals"]["token.actions.githubusercontent.com:"+k]; !ok {
				t.Errorf("%s: missing %s", scope, k)
			}
		}
		if !admits(t, doc, token(scope, "123456789", "refs/pull/123/merge", "preview-pr-123")) {
			t.Errorf("%s: PR 123's own token is not admitted", scope)
		}
		for name, c := range map[string]map[string]string{
			"PR 124":                         token(scope, "123456789", "refs/pull/124/merge", "preview-pr-124"),
			"PR 124 in PR 123's environment": token(scope, "123456789", "refs/pull/124/merge", "preview-pr-123"),
			"another repository id":          token(scope, "987", "refs/pull/123/merge", "preview-pr-123"),
			"the default branch":             token(scope, "123456789", "refs/heads/main", "preview-pr-123"),
			"the default branch, no env":     token(ScopeRef, "123456789", "refs/heads/main", ""),
			"another audience": func() map[string]string {
				c := token(scope, "123456789", "refs/pull/123/merge", "preview-pr-123")
				c["aud"] = "x"
				return c
			}(),
		} {
			if admits(t, doc, c) {
				t.Errorf("%s: a token of %s is admitted", scope, name)
			}
		}
	}
}

func TestTrustSizeLimit(t *testing.T) {
	t.Parallel()
	o := refOptions("42")
	o.Subject = "repo:" + strings.Repeat("x", 2100) + ":pull_request"
	errs := LintTrust("trust policy", Trust(o), o, DefaultTrustSizeLimit)
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "quota") || !strings.Contains(errs[0].Error(), "trust-policy-size-limit") {
		t.Fatalf("LintTrust of an oversized policy = %v; want an error naming the quota and trust-policy-size-limit", errs)
	}
	if errs := LintTrust("trust policy", Trust(o), o, 8192); len(errs) != 0 {
		t.Errorf("with a raised limit: %v; want none", errs)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"owner": `a";echo${IFS}x;#`, "repo": "shop", "number": "42"}
	cases := []struct {
		name    string
		tmpl    string
		want    string
		wantErr string
	}{
		{"values encoded", `{"R":"arn:aws:s3:::b/{owner}/{number}/*"}`, `{"R":"arn:aws:s3:::b/a\";echo${IFS}x;#/42/*"}`, ""},
		{"IAM variables pass through", `{"R":"${aws:username}-{repo}"}`, `{"R":"${aws:username}-shop"}`, ""},
		{"keys rendered too", `{"{repo}":1}`, `{"shop":1}`, ""},
		{"side by side", `{"R":"{repo}{number}-{repo}"}`, `{"R":"shop42-shop"}`, ""},
		{"unknown next to known", `{"R":"{repo}{bogus}"}`, "", "unknown placeholders {bogus}"},
		{"unknown placeholder", `{"R":"{head_ref}"}`, "", "unknown placeholders {head_ref}"},
		{"invalid JSON", `{"R": "x",}`, "", "not valid JSON"},
		{"duplicate keys", `{"R":"x","R":"y"}`, "", `duplicate key "R"`},
		{"trailing data", `{"R":"x"} {}`, "", "data after the document"},
		{"keys that render the same", `{"Condition":{"StringEquals":{"aws:PrincipalTag/{repo}":"a","aws:PrincipalTag/shop":"b"}}}`, "", `render to the same key "aws:PrincipalTag/shop"`},
		{"two placeholders, one value", `{"{owner}-x":1,"{repo}":{"{number}":1,"42":2}}`, "", `render to the same key "42"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Render([]byte(tc.tmpl), vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Render err = %v; want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Render = %s; want %s", got, tc.want)
			}
		})
	}
}

func TestLintPermissions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		doc  string
		want []string // substrings, one per expected problem
	}{
		{"clean", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, nil},
		{"admin", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, []string{`"Action": "*" on "Resource": "*"`, "wildcard over IAM or STS"}},
		{"iam wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*"],"Resource":"arn:aws:iam::1:role/x"}]}`, []string{`"iam:*"`}},
		{"sts wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:Assume*","Resource":"*"}]}`, []string{`"sts:Assume*"`}},
		{"service wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"i*:PassRole","Resource":"*"}]}`, []string{`"i*:PassRole"`}},
		{"deny wildcard is fine", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, nil},
		{"not action allow", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, []string{"NotAction"}},
		{"principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`, []string{"Principal"}},
		{"version", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, []string{"Version"}},
		{"bad char", `{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/😀"}]}`, []string{"U+1F600"}},
		{"too large", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/` + strings.Repeat("a", 10300) + `"}]}`, []string{"over IAM's 10240"}},
		{"every problem at once", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"iam:Pass*","Resource":"*"}]}`, []string{"NotAction", `"iam:Pass*"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := LintPermissions("permissions-template", []byte(tc.doc), LintOptions{})
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d problems %v; want %d", len(errs), errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) || !strings.HasPrefix(errs[i].Error(), "permissions-template: ") {
					t.Errorf("problem %d = %q; want it to name the input and contain %q", i, errs[i], w)
				}
			}
		})
	}
	if errs := LintPermissions("p", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}`), LintOptions{AllowIAMWildcards: true}); len(errs) != 0 {
		t.Errorf("with AllowIAMWildcards: %v; want none", errs)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	a := []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}`)
	b := []byte(`{
	  "Statement": {"Resource": ["*"], "Action": "s3:GetObject", "Effect": "Allow"},
	  "Version": "2012-10-17"}`)
	c := []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`)
	if !Equal(a, b) {
		t.Error("Equal(a, b) = false; want true: same meaning, different form")
	}
	if Equal(a, c) {
		t.Error("Equal(a, c) = true; want false")
	}
}

// FuzzRender: whatever the values, a rendered template is valid JSON with
// no duplicate keys, IAM's alphabet is enforced by the lint, and a trust
// policy's subject never carries a wildcard past the lint.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"octo-org", `a";echo${IFS}x;#`, "$(id)", "a\nb", "${aws:username}", "{owner}", strings.Repeat("é", 300), "😀", `\u0000`, "*"} {
		f.Add(s)
	}
	tmpl, err := os.ReadFile("../../templates/permissions/default.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		vars := map[string]string{}
		for _, k := range PermissionVars {
			vars[k] = v
		}
		out, err := Render(tmpl, vars)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if err := CheckDuplicateKeys(out); err != nil {
			t.Fatalf("rendered document: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("rendered document is not JSON: %s", out)
		}
		if r, bad := badRune(out); bad {
			if errs := LintPermissions("p", out, LintOptions{}); len(errs) == 0 {
				t.Fatalf("document with %U passed the lint", r)
			}
		}
		o := refOptions("1")
		o.Subject = "repo:" + v + ":pull_request"
		doc := Trust(o)
		if !json.Valid(doc) || CheckDuplicateKeys(doc) != nil {
			t.Fatalf("trust policy is not valid JSON: %s", doc)
		}
		if strings.ContainsAny(v, "*?") || v == "" {
			if errs := LintTrust("t", doc, o, 1<<20); len(errs) == 0 && strings.ContainsAny(o.Subject, "*?") {
				t.Fatalf("a subject with a wildcard passed the lint: %q", o.Subject)
			}
		}
	})
}
