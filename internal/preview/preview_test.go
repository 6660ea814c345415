package preview

import (
	"strings"
	"testing"
)

func TestValidLogin(t *testing.T) {
	t.Parallel()
	for login, want := range map[string]bool{
		"octocat": true, "dependabot[bot]": true, "mona_corp": true, "a-b": true,
		"": false, "-x": false, "a b": false, "a;b": false, "$(id)": false, "x_": false,
		strings.Repeat("a", 40): false,
	} {
		if got := ValidLogin(login); got != want {
			t.Errorf("ValidLogin(%q) = %t; want %t", login, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := Preview{Owner: "octo-org", Repo: "shop", RepositoryID: 1, Number: 2, Author: "octocat", State: "open"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Preview{Owner: "octo org", Repo: "..", RepositoryID: 0, Number: -1, HeadSHA: "xyz", Author: "a;b", Reviewers: []string{"$(id)"}, Teams: []string{"qa"}, State: "merged"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad preview")
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 9 {
		t.Errorf("Validate reported %d problems; want 9, one each:\n%v", n, err)
	}
	if got := good.ID(); got != "gh-1-pr-2" {
		t.Errorf("ID = %q", got)
	}
	if got := good.MergeRef(); got != "refs/pull/2/merge" {
		t.Errorf("MergeRef = %q", got)
	}
}
