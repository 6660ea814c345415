// Package sweep decides which previews a scheduled sweep removes: those
// whose pull request is closed and those whose expiry passed. Deciding is
// pure; the caller lists, re-checks and deletes.
package sweep

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/observe"

	"github.com/preview-access/preview-access/internal/naming"
)

// Verdict is what the sweep does with one preview.
type Verdict string

const (
	Remove Verdict = "remove"
	Keep   Verdict = "keep"
	// Skip: not this tool's role for this repository; never touched.
	Skip Verdict = "skip"
)

// Decision is the verdict on one role and why.
type Decision struct {
	Role    string
	Path    string
	ARN     string
	PR      int // 0 when the role has no readable PR tag
	Verdict Verdict
	Reason  string
	// Expired: removed for its expiry tag, whatever its PR's state.
	Expired bool
}

// Classify decides every role. open holds the open PRs' numbers; nil means
// they are unknown (no GitHub token), and then only expiry removes a
// preview. repositoryID is this repository's numeric id: a role carries it
// in its tags, under whatever path the repository's old name gave it.
func Classify(roles []observe.ListedRole, repositoryID string, open map[int]bool, now time.Time) []Decision {
	out := make([]Decision, 0, len(roles))
	for _, r := range roles {
		d := Decision{Role: r.Name, Path: r.Path, ARN: r.ARN}
		pr, err := strconv.Atoi(r.Tags[naming.TagPullRequest])
		switch {
		case r.Tags[naming.TagManagedBy] != naming.ManagedByValue:
			d.Verdict, d.Reason = Skip, "no "+naming.TagManagedBy+" tag: not made by preview-access"
		case r.Tags[naming.TagRepositoryID] != repositoryID:
			d.Verdict, d.Reason = Skip, "made for another repository"
		case err != nil || pr <= 0:
			d.Verdict, d.Reason = Skip, "no valid "+naming.TagPullRequest+" tag"
		default:
			d.PR = pr
			exp, hasExp := naming.Expiry(r.Tags)
			switch {
			case hasExp && !now.Before(exp):
				d.Verdict, d.Reason, d.Expired = Remove, "expired at "+exp.UTC().Format(time.RFC3339), true
			case open == nil:
				d.Verdict, d.Reason = Keep, "not expired (open pull requests unknown)"
			case !open[pr]:
				d.Verdict, d.Reason = Remove, fmt.Sprintf("pull request %d is closed", pr)
			default:
				d.Verdict, d.Reason = Keep, fmt.Sprintf("pull request %d is open", pr)
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Decision) int {
		if c := a.PR - b.PR; c != 0 {
			return c
		}
		return strings.Compare(a.Role, b.Role)
	})
	return out
}

// Recheck turns a Remove back into Keep when the PR is open in a fresher
// listing (it was reopened since the first one) and the preview has not
// expired.
func Recheck(d Decision, open map[int]bool) Decision {
	if d.Verdict == Remove && open != nil && open[d.PR] && !d.Expired {
		d.Verdict, d.Reason = Keep, fmt.Sprintf("pull request %d was reopened", d.PR)
	}
	return d
}

// GatewayIDs picks, from a gateway's preview ids, the ones of this
// repository to delete: those of PRs whose role the sweep removes, and,
// when the open PRs are known, those of PRs that are not open.
func GatewayIDs(ids []string, repositoryID string, open, removed map[int]bool) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		n, ok := DocumentPR(id, repositoryID)
		if ok && (removed[n] || (open != nil && !open[n])) {
			out[id] = n
		}
	}
	return out
}

// DocumentPR is the pull request of one of the repository's gateway
// document ids (gh-<repository id>-pr-<n>); false for any other id.
func DocumentPR(id, repositoryID string) (int, bool) {
	rest, ok := strings.CutPrefix(id, "gh-"+repositoryID+"-pr-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}
