package sweep

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/observe"
)

const repoID = "123456789"

var now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// tags are a role's tags as the tool writes them; kv overrides or, with an
// empty value, removes one.
func tags(pr string, kv ...string) map[string]string {
	m := map[string]string{
		naming.TagManagedBy:    naming.ManagedByValue,
		naming.TagRepository:   "octo-org/shop",
		naming.TagRepositoryID: repoID,
		naming.TagPullRequest:  pr,
		naming.TagExpiresAt:    "2026-12-01T10:00:00Z",
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func TestClassify(t *testing.T) {
	t.Parallel()
	const path = "/preview-access/octo-org/shop/"
	open := map[int]bool{1: true, 3: true}
	cases := []struct {
		name string
		role observe.ListedRole
		open map[int]bool
		want Decision
	}{
		{"open PR is kept", listed("r1", path, tags("1")), open,
			Decision{Role: "r1", Path: path, PR: 1, Verdict: Keep, Reason: "pull request 1 is open"}},
		{"closed PR is removed", listed("r2", path, tags("2")), open,
			Decision{Role: "r2", Path: path, PR: 2, Verdict: Remove, Reason: "pull request 2 is closed"}},
		{"expired with PR open is removed", listed("r3", path, tags("3", naming.TagExpiresAt, "2026-11-24T09:59:59Z")), open,
			Decision{Role: "r3", Path: path, PR: 3, Verdict: Remove, Reason: "expired at 2026-11-24T09:59:59Z", Expired: true}},
		{"expiring this very second is removed", listed("r3", path, tags("3", naming.TagExpiresAt, "2026-11-24T10:00:00Z")), open,
			Decision{Role: "r3", Path: path, PR: 3, Verdict: Remove, Reason: "expired at 2026-11-24T10:00:00Z", Expired: true}},
		{"malformed expiry falls back to the PR state", listed("r1", path, tags("1", naming.TagExpiresAt, "soon")), open,
			Decision{Role: "r1", Path: path, PR: 1, Verdict: Keep, Reason: "pull request 1 is open"}},
		{"open PRs unknown keeps what has not expired", listed("r2", path, tags("2")), nil,
			Decision{Role: "r2", Path: path, PR: 2, Verdict: Keep, Reason: "not expired (open pull requests unknown)"}},
		{"open PRs unknown still removes the expired", listed("r2", path, tags("2", naming.TagExpiresAt, "2026-01-01T00:00:00Z")), nil,
			Decision{Role: "r2", Path: path, PR: 2, Verdict: Remove, Reason: "expired at 2026-01-01T00:00:00Z", Expired: true}},
		{"renamed repository: old path, our id", listed("old", "/preview-access/octo-org/old-shop/", tags("2", naming.TagRepository, "octo-org/old-shop")), open,
			Decision{Role: "old", Path: "/preview-access/octo-org/old-shop/", PR: 2, Verdict: Remove, Reason: "pull request 2 is closed"}},
		{"no managed-by tag", listed("mine", path, tags("2", naming.TagManagedBy, "")), open,
			Decision{Role: "mine", Path: path, Verdict: Skip, Reason: "no preview-access:managed-by tag: not made by preview-access"}},
		{"managed-by someone else", listed("mine", path, tags("2", naming.TagManagedBy, "terraform")), open,
			Decision{Role: "mine", Path: path, Verdict: Skip, Reason: "no preview-access:managed-by tag: not made by preview-access"}},
		{"another repository's id", listed("theirs", "/preview-access/octo-org/other/", tags("2", naming.TagRepositoryID, "987")), open,
			Decision{Role: "theirs", Path: "/preview-access/octo-org/other/", Verdict: Skip, Reason: "made for another repository"}},
		{"no repository id", listed("theirs", path, tags("2", naming.TagRepositoryID, "")), open,
			Decision{Role: "theirs", Path: path, Verdict: Skip, Reason: "made for another repository"}},
		{"no PR tag", listed("x", path, tags("")), open,
			Decision{Role: "x", Path: path, Verdict: Skip, Reason: "no valid preview-access:pull-request tag"}},
		{"PR tag not a number", listed("x", path, tags("4x")), open,
			Decision{Role: "x", Path: path, Verdict: Skip, Reason: "no valid preview-access:pull-request tag"}},
		{"PR tag zero", listed("x", path, tags("0")), open,
			Decision{Role: "x", Path: path, Verdict: Skip, Reason: "no valid preview-access:pull-request tag"}},
		{"no tags at all", listed("x", path, nil), open,
			Decision{Role: "x", Path: path, Verdict: Skip, Reason: "no preview-access:managed-by tag: not made by preview-access"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Classify([]observe.ListedRole{tc.role}, repoID, tc.open, now)
			if diff := cmp.Diff([]Decision{tc.want}, got); diff != "" {
				t.Errorf("Classify (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassifyOrder(t *testing.T) {
	t.Parallel()
	const path = "/p/"
	roles := []observe.ListedRole{listed("c", path, tags("10")), listed("b", path, nil), listed("a", path, tags("2")), listed("d", path, tags("2"))}
	var got []string
	for _, d := range Classify(roles, repoID, map[int]bool{}, now) {
		got = append(got, d.Role)
	}
	// Skipped roles (PR 0) first, then by PR number, then by name.
	if diff := cmp.Diff([]string{"b", "a", "d", "c"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestRecheck(t *testing.T) {
	t.Parallel()
	closed := Decision{Role: "r", PR: 7, Verdict: Remove, Reason: "pull request 7 is closed"}
	expired := Decision{Role: "r", PR: 7, Verdict: Remove, Reason: "expired at 2026-01-01T00:00:00Z", Expired: true}
	kept := Decision{Role: "r", PR: 7, Verdict: Keep, Reason: "pull request 7 is open"}
	reopened := Decision{Role: "r", PR: 7, Verdict: Keep, Reason: "pull request 7 was reopened"}
	cases := []struct {
		name string
		in   Decision
		open map[int]bool
		want Decision
	}{
		{"still closed", closed, map[int]bool{8: true}, closed},
		{"reopened", closed, map[int]bool{7: true}, reopened},
		{"expired stays removed although open", expired, map[int]bool{7: true}, expired},
		{"unknown open PRs change nothing", closed, nil, closed},
		{"keep stays keep", kept, map[int]bool{}, kept},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Recheck(tc.in, tc.open)); diff != "" {
				t.Errorf("Recheck (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGatewayIDs(t *testing.T) {
	t.Parallel()
	ids := []string{
		"gh-123456789-pr-1", "gh-123456789-pr-2", "gh-123456789-pr-3",
		"gh-1234567890-pr-2",                      // another repository whose id starts alike
		"gh-987-pr-2",                             // another repository
		"gh-123456789-pr-02", "gh-123456789-pr-0", // not canonical
		"gh-123456789-pr-x", "gh-123456789-pr-", "x", // not ours at all
	}
	cases := []struct {
		name          string
		open, removed map[int]bool
		want          map[string]int
	}{
		{"closed PRs' documents", map[int]bool{1: true}, nil, map[string]int{"gh-123456789-pr-2": 2, "gh-123456789-pr-3": 3}},
		{"removed role's document although its PR is open", map[int]bool{1: true, 2: true, 3: true}, map[int]bool{3: true}, map[string]int{"gh-123456789-pr-3": 3}},
		{"open PRs unknown: only removed roles'", nil, map[int]bool{1: true}, map[string]int{"gh-123456789-pr-1": 1}},
		{"nothing to do", map[int]bool{1: true, 2: true, 3: true}, nil, map[string]int{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, GatewayIDs(ids, repoID, tc.open, tc.removed)); diff != "" {
				t.Errorf("GatewayIDs (-want +got):\n%s", diff)
			}
		})
	}
}

func listed(name, path string, tags map[string]string) observe.ListedRole {
	return observe.ListedRole{Name: name, Path: path, Tags: tags}
}
