package access

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	goldenfile "github.com/preview-access/preview-access/internal/testenv/golden"
)

// TestGolden parses every testdata/access/*.yml and compares the outcome (the
// File as JSON, or the error text) with the file's .golden twin.
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../testdata/access/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			f, err := Parse(data)
			if err != nil {
				got = "error:\n" + err.Error() + "\n"
			} else {
				b, err := json.MarshalIndent(f, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = string(b) + "\n"
				if err := f.Validate(); err != nil {
					t.Errorf("Parse returned a File that Validate refuses: %v", err)
				}
			}
			golden := strings.TrimSuffix(path, ".yml") + ".golden"
			if goldenfile.Update() {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want func(*File)
	}{
		{name: "empty", in: "", want: func(*File) {}},
		{name: "null", in: "~\n", want: func(*File) {}},
		{name: "ttl", in: "tokenTTL: 30m\n", want: func(f *File) { f.TokenTTL = 30 * time.Minute }},
		{name: "no author access", in: "defaults: {author: none}\n", want: func(f *File) { f.Defaults.Author = "" }},
		{
			name: "identity headers, lower-cased",
			in:   "identity: {userHeader: X-Auth-Request-Preferred-Username, groupsHeader: x-auth-request-groups}\n",
			want: func(f *File) {
				f.Identity = Identity{UserHeader: "x-auth-request-preferred-username", GroupsHeader: "x-auth-request-groups"}
			},
		},
		{
			name: "new role defaults to every path",
			in:   "roles: {ops: {methods: ['*']}}\ngrants: {ops: {teams: [o/sre]}}\n",
			want: func(f *File) {
				f.Roles["ops"] = Role{Methods: []string{"*"}, Paths: []string{"/**"}}
				f.Grants["ops"] = Grant{Teams: []string{"o/sre"}}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := Default()
			tc.want(&want)
			got, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []string // each must appear in the error
	}{
		{
			name: "unknown key names its line",
			in:   "version: 1\nroles:\n  admin:\n    methods: ['*']\n\n\nrolez: {}\n",
			want: []string{`line 7: unknown key "rolez"`},
		},
		{
			name: "undefined role in grants and defaults",
			in:   "grants:\n  owner: {users: [a]}\ndefaults:\n  reviewers: qa\n",
			want: []string{`line 2: grants names role "owner", which is not defined`, `line 4: defaults.reviewers names role "qa"`},
		},
		{
			name: "team without org",
			in:   "grants:\n  reader:\n    teams: [qa]\n",
			want: []string{`line 3: team "qa" is not of the form org/team-slug`},
		},
		{
			name: "bad login and method reported together",
			in:   "roles:\n  x:\n    methods: [FETCH]\ngrants:\n  x:\n    users: ['a b']\n",
			want: []string{`line 3: role "x": method "FETCH"`, `line 6: user "a b" is not a valid GitHub login`},
		},
		{
			name: "ttl too long",
			in:   "tokenTTL: 48h\n",
			want: []string{"line 1: tokenTTL 48h0m0s is outside 1m0s to 24h0m0s"},
		},
		{
			name: "identity headers that cannot name the caller",
			in:   "identity:\n  userHeader: Cookie\n  groupsHeader: 'x groups'\n  emailHeader: x-email\n",
			want: []string{
				`line 2: identity.userHeader: "Cookie" is not a header an identity-aware proxy sets`,
				`line 3: identity.groupsHeader: "x groups" is not an HTTP header name`,
				`line 4: unknown key "emailHeader" in identity`,
			},
		},
		{
			name: "one header for both",
			in:   "identity:\n  userHeader: x-who\n  groupsHeader: X-Who\n",
			want: []string{`identity.userHeader and identity.groupsHeader are both "x-who"`},
		},
		{
			name: "top level not a mapping",
			in:   "- a\n",
			want: []string{"line 1: the access file must be a mapping"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error; want %q", tc.in, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	f := Default()
	f.Version = 0
	f.TokenTTL = 0
	f.Roles["Bad Name"] = Role{Methods: []string{"get"}, Paths: []string{"x"}}
	f.Grants["ghost"] = Grant{Users: []string{"-x"}, Teams: []string{"t"}}
	f.Defaults.Author = "owner"
	err := f.Validate()
	for _, w := range []string{
		"version 0", "tokenTTL 0s", `role name "Bad Name"`, `method "get"`, `path pattern "x"`,
		`grants name role "ghost"`, `user "-x"`, `team "t"`, `defaults.author names role "owner"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v; want it to contain %q", err, w)
		}
	}
}
