package desired

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/templates"
)

var iamRoleName = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

// iamText reports the first character of the decoded strings of doc that
// IAM refuses in a policy (it accepts tab, LF, CR and U+0020–U+00FF).
func iamText(t *testing.T, doc []byte) (rune, bool) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	var bad rune
	var found bool
	var walk func(any)
	check := func(s string) {
		for _, r := range s {
			if !found && !(r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xff) {
				bad, found = r, true
			}
		}
	}
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			check(x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				check(k)
				walk(e)
			}
		}
	}
	walk(v)
	return bad, found
}

// FuzzBuild renders the whole desired state, as the run does (config.Load,
// Preview.Validate, Build), from fuzzed owner, repository, ids, number and
// subject and environment templates. Whatever they hold, either an error
// is reported or every name and document is one IAM accepts, with a
// literal sub bound to this PR.
func FuzzBuild(f *testing.F) {
	f.Add("octo-org", "shop", int64(123456789), 42, "", "", false)
	f.Add("octo-org", "shop", int64(123456789), 42, "", "preview-pr-{number}", true)
	f.Add("a", "b", int64(1), 1, "repository_owner_id:{owner_id}:repository_id:{repository_id}:pull_request", "", false)
	f.Add("octo-org", "shop", int64(1), 7, "repo:{owner}/*:pull_request", "", false)
	f.Add("octo-org", "shop", int64(1), 7, "repo:{owner}/{repo}:environment:{environment}", "env-{number}*", true)
	f.Add(`a";echo${IFS}x;#`, "$(id)", int64(1), 1, "${aws:username}", "", false)
	f.Add("octo-org", strings.Repeat("r", 100), int64(1<<62), 999999999, "", "", false)
	f.Add("o", "😀", int64(-1), -1, "repo:{owner}/{repo}\n:pull_request", "", false)
	f.Add("o", "r", int64(2), 3, "repo:{owner}/{repo}:ref:refs/heads/é", "", false)
	f.Add("o", "r", int64(2), 3, "repo:{owner}/{repo}:\u00a0", "\u0100", true)
	tmpl, err := templates.FS.ReadFile(templates.DefaultPermissions)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, owner, repo string, repoID int64, number int, subject, envTemplate string, envScope bool) {
		scope := policy.ScopeRef
		if envScope {
			scope = policy.ScopeEnvironment
		}
		in := map[string]string{
			"account-id": "123456789012", "permissions-boundary": "arn:aws:iam::123456789012:policy/b",
			"trust-scope": scope, "subject-template": subject, "environment-template": envTemplate,
		}
		c, err := config.Load(func(k string) string { return in[k] })
		if err != nil {
			return // refused before anything is rendered
		}
		p := preview.Preview{Owner: owner, Repo: repo, RepositoryID: repoID, OwnerID: 5, Number: number, State: "open"}
		st, berr := Build(c, p, tmpl, now)
		if errors.Join(p.Validate(), berr) != nil {
			return
		}
		if !iamRoleName.MatchString(st.RoleName) || !naming.ValidPath(st.RolePath) {
			t.Fatalf("role name %q, path %q: not what IAM accepts", st.RoleName, st.RolePath)
		}
		for name, doc := range map[string][]byte{"trust": st.Role.Trust, "permission": st.Role.Policy} {
			if err := policy.CheckDuplicateKeys(doc); err != nil {
				t.Fatalf("%s policy: %v\n%s", name, err, doc)
			}
			if r, bad := iamText(t, doc); bad {
				t.Fatalf("%s policy holds %U, which IAM refuses:\n%s", name, r, doc)
			}
		}
		var trust policy.Document
		if err := json.Unmarshal(st.Role.Trust, &trust); err != nil || len(trust.Statement) != 1 {
			t.Fatalf("trust %s: %v", st.Role.Trust, err)
		}
		host := policy.ProviderHost(c.ProviderARN())
		cond := trust.Statement[0].Condition
		if len(cond) != 1 {
			t.Fatalf("operators %v; want only StringEquals", cond)
		}
		eq := map[string]string{}
		for k, v := range cond["StringEquals"] {
			if len(v) != 1 {
				t.Fatalf("condition %s has %d values; want one", k, len(v))
			}
			eq[k] = v[0]
		}
		if sub := eq[host+":sub"]; sub == "" || strings.ContainsAny(sub, "*?") {
			t.Fatalf("sub %q: empty or a wildcard", sub)
		}
		if ref := eq[host+":ref"]; ref != p.MergeRef() {
			t.Fatalf("ref %q; want %q", ref, p.MergeRef())
		}
		for k, v := range st.Role.Tags {
			if !naming.ValidTagKey(k) || !naming.ValidTagValue(v) {
				t.Fatalf("tag %q=%q: not what IAM accepts", k, v)
			}
		}
	})
}
