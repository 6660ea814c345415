package naming

import (
	"strconv"
	"strings"
	"testing"

	"github.com/preview-access/preview-access/internal/preview"
)

func TestRoleName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 39)
	longRepo := strings.Repeat("r", 100)
	cases := []struct {
		name string
		tmpl string
		vars Vars
		want string
	}{
		{"default", DefaultRoleNameTemplate, Vars{"owner": "octo-org", "repo": "shop", "number": "42"}, "preview-octo-org.shop-pr-42"},
		{"look-alike repository", DefaultRoleNameTemplate, Vars{"owner": "octo", "repo": "org-shop", "number": "42"}, "preview-octo.org-shop-pr-42"},
		{"dots and underscores kept", DefaultRoleNameTemplate, Vars{"owner": "o", "repo": "my.repo_x", "number": "1"}, "preview-o.my.repo_x-pr-1"},
		{"slash replaced", "{owner}/{repo}-{number}", Vars{"owner": "o", "repo": "r", "number": "7"}, "o-r-7"},
		{"unicode replaced byte-safe", "pré-{number}", Vars{"number": "3"}, "pr--3"},
		{"long cut with hash", DefaultRoleNameTemplate, Vars{"owner": long, "repo": longRepo, "number": "42"}, "preview-" + long + ".r-c1357bf0-pr-42"},
		{"long without a number", "{repo}", Vars{"repo": longRepo}, strings.Repeat("r", 55) + "-f1f29543"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := RoleName(tc.tmpl, tc.vars)
			if !ValidRoleName(got) {
				t.Fatalf("RoleName = %q: not a valid IAM role name", got)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("RoleName = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestRoleNameLongNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	owner, repo := strings.Repeat("o", 39), strings.Repeat("r", 100)
	seen := map[string]int{}
	for n := 1; n <= 2000; n++ {
		name := RoleName(DefaultRoleNameTemplate, Vars{"owner": owner, "repo": repo, "number": strconv.Itoa(n)})
		if len(name) != MaxRoleName {
			t.Fatalf("PR %d: len(%q) = %d; want %d", n, name, len(name), MaxRoleName)
		}
		if prev, ok := seen[name]; ok {
			t.Fatalf("PR %d and PR %d both get %q", prev, n, name)
		}
		seen[name] = n
	}
	// Stable: the same input always gives the same name.
	a := RoleName(DefaultRoleNameTemplate, Vars{"owner": owner, "repo": repo, "number": "5"})
	b := RoleName(DefaultRoleNameTemplate, Vars{"owner": owner, "repo": repo, "number": "5"})
	if a != b {
		t.Errorf("RoleName is not stable: %q then %q", a, b)
	}
}

func TestCheckTemplate(t *testing.T) {
	t.Parallel()
	allowed := []string{"owner", "repo", "number"}
	cases := []struct {
		name, tmpl, wantErr string
	}{
		{"ok", "preview-{owner}-{repo}-pr-{number}", ""},
		{"branch names refused", "preview-{head_ref}-{number}", "unknown placeholder {head_ref}"},
		{"title refused", "{title}", "unknown placeholder {title}"},
		{"unbalanced", "preview-{owner-{number}", "unbalanced"},
		{"empty", "  ", "must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckTemplate("role-name-template", tc.tmpl, allowed...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckTemplate(%q) = %v; want nil", tc.tmpl, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckTemplate(%q) = %v; want error containing %q", tc.tmpl, err, tc.wantErr)
			}
		})
	}
}

func TestPathAndTags(t *testing.T) {
	t.Parallel()
	p := Path(DefaultPathTemplate, Vars{"owner": "octo-org", "repo": "shop"})
	if p != "/preview-access/octo-org/shop/" || !ValidPath(p) {
		t.Errorf("Path = %q (valid %t); want /preview-access/octo-org/shop/", p, ValidPath(p))
	}
	for _, bad := range []string{"", "x", "/a//b/", "/a b/", "/no-trailing"} {
		if ValidPath(bad) {
			t.Errorf("ValidPath(%q) = true; want false", bad)
		}
	}
	if got := SanitizeTagValue("a\"b;c$(d)"); got != "a-b-c--d-" || !ValidTagValue(got) {
		t.Errorf("SanitizeTagValue = %q; want a-b-c--d-", got)
	}
	if ValidTagKey("aws:foo") || ValidTagKey("") || !ValidTagKey("team") {
		t.Error("ValidTagKey: aws: prefix and empty must be refused, plain keys accepted")
	}
}

// FuzzRoleNameUnique: two different (repository, PR) pairs never share
// the default role name, in IAM's case-insensitive sense. Names are
// injective by construction; long names of one repository keep the PR
// number verbatim, so only two long-named repositories with a common
// prefix could meet, in 32 bits of SHA-256.
func FuzzRoleNameUnique(f *testing.F) {
	f.Add("octo-org", "shop", 42, "octo", "org-shop", 42)
	f.Add("a", "b-pr-1", 2, "a", "b", 1)
	f.Add("a", "b.c", 1, "a.b", "c", 1)
	f.Add(strings.Repeat("o", 39), strings.Repeat("r", 100), 1, strings.Repeat("o", 39), strings.Repeat("r", 100), 11)
	f.Add(strings.Repeat("o", 39), strings.Repeat("r", 100), 7, strings.Repeat("o", 39), strings.Repeat("r", 99), 7)
	f.Add("x", "y", 12, "x", "y1", 2)
	f.Fuzz(func(t *testing.T, o1, r1 string, n1 int, o2, r2 string, n2 int) {
		if !preview.ValidOwner(o1) || !preview.ValidOwner(o2) || !preview.ValidRepo(r1) || !preview.ValidRepo(r2) || n1 <= 0 || n2 <= 0 {
			t.Skip()
		}
		same := strings.EqualFold(o1, o2) && strings.EqualFold(r1, r2) && n1 == n2
		a := RoleName(DefaultRoleNameTemplate, Vars{"owner": o1, "repo": r1, "number": strconv.Itoa(n1)})
		b := RoleName(DefaultRoleNameTemplate, Vars{"owner": o2, "repo": r2, "number": strconv.Itoa(n2)})
		if !ValidRoleName(a) || !ValidRoleName(b) {
			t.Fatalf("invalid names %q, %q", a, b)
		}
		if !same && strings.EqualFold(a, b) {
			t.Fatalf("%s/%s#%d and %s/%s#%d share the role name %q", o1, r1, n1, o2, r2, n2, a)
		}
		if !strings.HasSuffix(a, "-pr-"+strconv.Itoa(n1)) {
			t.Errorf("%q does not end with its PR number %d", a, n1)
		}
	})
}

// FuzzRoleName: whatever the owner, repository and number, the name is one
// IAM accepts.
func FuzzRoleName(f *testing.F) {
	for _, s := range []string{"octo-org", "a\";echo${IFS}x;#", "$(id)", "line\nbreak", "${aws:username}", strings.Repeat("x", 300), "😀", ""} {
		f.Add(s, s, "42")
	}
	f.Fuzz(func(t *testing.T, owner, repo, number string) {
		for _, tmpl := range []string{DefaultRoleNameTemplate, "{owner}{repo}{number}", "x"} {
			name := RoleName(tmpl, Vars{"owner": owner, "repo": repo, "number": number})
			if !ValidRoleName(name) {
				t.Fatalf("RoleName(%q, %q, %q) = %q: not a valid IAM role name", owner, repo, number, name)
			}
		}
		v := SanitizeTagValue(owner + "/" + repo)
		if !ValidTagValue(v) {
			t.Fatalf("SanitizeTagValue(%q) = %q: not a valid tag value", owner+"/"+repo, v)
		}
	})
}

func TestNumberPattern(t *testing.T) {
	t.Parallel()
	re := NumberPattern("preview-{repo}-pr-{number}", Vars{"repo": "shop.v2"})
	for name, want := range map[string]string{
		"preview-shop.v2-pr-42": "42", "Preview-Shop.v2-PR-7": "7",
		"preview-shopxv2-pr-42": "", "preview-shop.v2-pr-": "", "preview-shop.v2-pr-042": "", "staging": "",
	} {
		got := ""
		if m := re.FindStringSubmatch(name); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("NumberPattern matches %q as %q; want %q", name, got, want)
		}
	}
}
