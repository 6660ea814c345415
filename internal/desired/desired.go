// Package desired renders everything a preview should have from the
// validated config and Preview: names, tags, trust and permission policies,
// environment and preview URL. It is pure, and it lints what it renders, so
// a bad template fails here, before any call that writes.
package desired

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
)

// State is the desired state of one preview.
type State struct {
	RoleName    string
	RolePath    string
	RoleARN     string
	Environment string // the GitHub environment; "" with trust-scope ref
	PreviewURL  string
	ExpiresAt   time.Time
	Trust       policy.TrustOptions
	Role        planner.Role
}

// Names are the parts of State that need no account or template: what
// down and sweep need to find a preview.
func Names(c config.Config, p preview.Preview) (roleName, rolePath, environment string) {
	vars := naming.NameVars(p)
	roleName = naming.RoleName(c.RoleNameTemplate, vars)
	rolePath = naming.Path(c.RolePathTemplate, vars)
	if c.TrustScope == policy.ScopeEnvironment {
		environment = EnvironmentName(c, p)
	}
	return roleName, rolePath, environment
}

// EnvironmentName is the PR's GitHub environment name, whatever the trust
// scope: with scope ref no environment is protected or trusted, but the
// PR's deployments are still recorded under this name.
func EnvironmentName(c config.Config, p preview.Preview) string {
	return naming.Expand(c.EnvironmentTemplate, naming.NameVars(p))
}

// Build renders the desired state. permTemplate is the permission policy
// template's text. now anchors the expiry when the PR's update time is
// unknown. Every problem is returned at once.
func Build(c config.Config, p preview.Preview, permTemplate []byte, now time.Time) (State, error) {
	var errs []error
	var s State
	vars := naming.NameVars(p)
	s.RoleName, s.RolePath, s.Environment = Names(c, p)
	if !naming.ValidRoleName(s.RoleName) {
		errs = append(errs, &config.InputError{Input: "role-name-template", What: fmt.Sprintf("renders %q, not a valid IAM role name", s.RoleName), Fix: "use letters, digits and +=,.@_-"})
	}
	if !naming.ValidPath(s.RolePath) {
		errs = append(errs, &config.InputError{Input: "role-path", What: fmt.Sprintf("renders %q, not a valid IAM path", s.RolePath), Fix: "start and end with /, at most 512 characters"})
	}
	if s.Environment != "" && !validEnvironment(s.Environment) {
		errs = append(errs, &config.InputError{Input: "environment-template", What: fmt.Sprintf("renders %q, not a GitHub environment name", s.Environment), Fix: "use at most 255 letters, digits, - _ ."})
	}
	s.RoleARN = "arn:" + c.Partition + ":iam::" + c.AccountID + ":role" + s.RolePath + s.RoleName
	if c.PreviewURL != "" {
		s.PreviewURL = naming.Expand(c.PreviewURL, vars)
	}

	// The expiry counts from the PR's last activity, or from today when
	// that is older (a re-run of an old event): stable within a day, so a
	// re-run writes nothing, and never in the past.
	anchor := now.UTC().Truncate(24 * time.Hour)
	if p.UpdatedAt.After(anchor) {
		anchor = p.UpdatedAt
	}
	s.ExpiresAt = anchor.Add(c.TTL).UTC().Truncate(time.Second)

	subjVars := naming.Vars{"environment": s.Environment}
	for k, v := range vars {
		subjVars[k] = v
	}
	s.Trust = policy.TrustOptions{
		ProviderARN:  c.ProviderARN(),
		Audience:     c.Audience,
		Scope:        c.TrustScope,
		Subject:      naming.Expand(c.SubjectTemplate, subjVars),
		RepositoryID: p.RepositoryID,
		Ref:          p.MergeRef(),
		Environment:  s.Environment,
	}
	trust := policy.Trust(s.Trust)
	errs = append(errs, policy.LintTrust("trust policy", trust, s.Trust, c.TrustSizeLimit)...)

	permVars := map[string]string{
		"account_id": c.AccountID, "environment": s.Environment, "head_sha": p.HeadSHA,
		"number": vars["number"], "owner": p.Owner, "owner_id": vars["owner_id"],
		"partition": c.Partition, "region": c.Region, "repo": p.Repo,
		"repository_id": vars["repository_id"], "role_name": s.RoleName, "role_path": s.RolePath,
	}
	input := "permissions-template"
	perm, err := policy.Render(permTemplate, permVars)
	if err != nil {
		errs = append(errs, &config.InputError{Input: input, What: err.Error(), Fix: "the template must be one JSON policy using only the listed placeholders"})
	} else {
		for _, e := range policy.LintPermissions(input, perm, policy.LintOptions{AllowIAMWildcards: c.AllowIAMWildcards}) {
			var p policy.Problem
			if errors.As(e, &p) {
				e = &config.InputError{Input: input, What: p.What, Fix: p.Fix}
			}
			errs = append(errs, e)
		}
	}

	tags := map[string]string{}
	for k, v := range c.Tags {
		tags[k] = v
	}
	tags[naming.TagManagedBy] = naming.ManagedByValue
	tags[naming.TagRepository] = naming.SanitizeTagValue(p.FullName())
	tags[naming.TagRepositoryID] = vars["repository_id"]
	tags[naming.TagPullRequest] = vars["number"]
	if p.HeadSHA != "" {
		tags[naming.TagHeadSHA] = p.HeadSHA
	}
	tags[naming.TagExpiresAt] = naming.FormatExpiry(s.ExpiresAt)

	s.Role = planner.Role{
		Name:         s.RoleName,
		Path:         s.RolePath,
		Description:  fmt.Sprintf("Preview access for %s pull request %d (managed by preview-access)", p.FullName(), p.Number),
		Trust:        trust,
		Policy:       perm,
		Managed:      c.ManagedPolicyARNs,
		Boundary:     c.PermissionsBoundary,
		MaxSession:   c.MaxSessionDuration,
		Tags:         tags,
		RepositoryID: vars["repository_id"],
		PullRequest:  strconv.Itoa(p.Number),
	}
	return s, errors.Join(errs...)
}

func validEnvironment(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) < 0
}
