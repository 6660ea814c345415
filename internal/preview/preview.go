// Package preview holds the one validated description of a pull request's
// preview that every other package works from. Values in a Preview came from a
// GitHub event or API response and were checked by Validate; code that renders
// them into names or documents still goes through the naming sanitiser or a
// JSON encoder, never string concatenation.
package preview

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Preview is one pull request's preview, as far as access is concerned.
type Preview struct {
	Owner        string // repository owner login, e.g. "octo-org"
	Repo         string // repository name, e.g. "shop"
	RepositoryID int64  // numeric id: survives renames and transfers
	OwnerID      int64  // numeric id of the owner (for ID-based OIDC subjects)
	Number       int    // pull request number

	HeadRef       string // branch name: hostile, never used in names
	HeadSHA       string // 40 hex characters, or empty when unknown
	BaseRef       string // base branch name
	DefaultBranch string // repository default branch

	Author    string   // PR author login
	Reviewers []string // requested reviewer logins, sorted, unique
	Teams     []string // requested teams as "org/slug", sorted, unique
	Assignees []string // assignee logins, sorted, unique

	Fork   bool // head repository differs from the base repository
	Draft  bool
	State  string // "open" or "closed"
	Merged bool

	UpdatedAt time.Time // when the PR last changed; anchors the expiry
}

// FullName is "owner/repo".
func (p Preview) FullName() string { return p.Owner + "/" + p.Repo }

// ID identifies the preview wherever a key is needed outside IAM (gateway
// documents, deployments). It uses the repository's numeric id so a rename
// or transfer does not orphan anything.
func (p Preview) ID() string {
	return "gh-" + strconv.FormatInt(p.RepositoryID, 10) + "-pr-" + strconv.Itoa(p.Number)
}

// MergeRef is the ref a pull_request workflow run (and its OIDC token) carries.
func (p Preview) MergeRef() string { return "refs/pull/" + strconv.Itoa(p.Number) + "/merge" }

var (
	// GitHub's own rules: owners are 1-39 alphanumerics or single hyphens,
	// repositories 1-100 of [A-Za-z0-9._-]. Anything else did not come from
	// GitHub and is refused.
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	repoRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	// Logins of users and apps ("dependabot[bot]"), and of Enterprise
	// Managed Users, which end in "_shortcode".
	loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:_[A-Za-z0-9]{1,20})?(?:\[bot\])?$`)
	teamRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	shaRE   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ValidOwner reports whether s is a syntactically valid GitHub owner login.
func ValidOwner(s string) bool { return ownerRE.MatchString(s) }

// ValidRepo reports whether s is a syntactically valid GitHub repository name.
func ValidRepo(s string) bool { return repoRE.MatchString(s) && s != "." && s != ".." }

// ValidLogin reports whether s is a syntactically valid user or bot login.
func ValidLogin(s string) bool { return loginRE.MatchString(s) }

// ValidTeam reports whether s is "org/team-slug".
func ValidTeam(s string) bool { return teamRE.MatchString(s) }

// Validate reports every problem with p at once. Branch names and titles are
// not validated: they are never used where their content matters.
func (p Preview) Validate() error {
	var errs []error
	if !ValidOwner(p.Owner) {
		errs = append(errs, fmt.Errorf("repository owner %q is not a valid GitHub login", p.Owner))
	}
	if !ValidRepo(p.Repo) {
		errs = append(errs, fmt.Errorf("repository name %q is not a valid GitHub repository name", p.Repo))
	}
	if p.RepositoryID <= 0 {
		errs = append(errs, fmt.Errorf("repository id %d must be a positive number (GitHub's numeric repository id)", p.RepositoryID))
	}
	if p.Number <= 0 {
		errs = append(errs, fmt.Errorf("pull request number %d must be a positive integer", p.Number))
	}
	if p.HeadSHA != "" && !shaRE.MatchString(p.HeadSHA) {
		errs = append(errs, fmt.Errorf("head SHA %q is not a 40-character lowercase hex commit id", p.HeadSHA))
	}
	if p.Author != "" && !ValidLogin(p.Author) {
		errs = append(errs, fmt.Errorf("pull request author %q is not a valid GitHub login", p.Author))
	}
	for _, l := range append(slices.Clone(p.Reviewers), p.Assignees...) {
		if !ValidLogin(l) {
			errs = append(errs, fmt.Errorf("reviewer or assignee %q is not a valid GitHub login", l))
		}
	}
	for _, t := range p.Teams {
		if !ValidTeam(t) {
			errs = append(errs, fmt.Errorf("requested team %q is not of the form org/team", t))
		}
	}
	switch p.State {
	case "", "open", "closed":
	default:
		errs = append(errs, fmt.Errorf("pull request state %q is neither open nor closed", p.State))
	}
	return errors.Join(errs...)
}

// SortedUnique returns the sorted set of the non-empty strings in s.
func SortedUnique(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
