package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/policy"
)

// Change IDs of the role's changes.
const (
	idRole     = "role"
	idSettings = "role-settings"
	idTrust    = "trust"
	idBoundary = "boundary"
	idTags     = "tags"
	idUntag    = "untag"
	idPolicy   = "inline-policy"
	idWait     = "wait-for-role"
	idDelete   = "role-delete"
)

func idAttach(arn string) string { return "attach:" + arn }
func idDetach(arn string) string { return "detach:" + arn }

// OwnershipError says a role exists that the tool may not touch.
type OwnershipError struct {
	Role   string
	Reason string
}

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("role %s exists but is not managed by preview-access for this pull request (%s); it was left untouched: rename role-name-template or remove the role by hand", e.Role, e.Reason)
}

// CheckOwnership returns an *OwnershipError unless o carries the tags that
// say the tool manages it for this repository and PR.
func CheckOwnership(name string, o RoleState, repositoryID, pullRequest string) error {
	if !o.Exists {
		return nil
	}
	switch {
	case o.Tags[naming.TagManagedBy] != naming.ManagedByValue:
		return &OwnershipError{name, "tag " + naming.TagManagedBy + " is not " + naming.ManagedByValue}
	case o.Tags[naming.TagRepositoryID] != repositoryID:
		return &OwnershipError{name, "tag " + naming.TagRepositoryID + " names another repository"}
	case o.Tags[naming.TagPullRequest] != pullRequest:
		return &OwnershipError{name, "tag " + naming.TagPullRequest + " names another pull request"}
	}
	return nil
}

// planRoleUp appends the changes that converge the role to d; env is the ID
// of the environment change the role's trust must wait for, "" for none.
// It reports whether the role is created.
func (b *builder) planRoleUp(d Desired, o Observed, env string) (creates bool, err error) {
	r := d.Role
	name := r.Name
	after := func(ids ...string) []string { return nonEmpty(append(ids, env)...) }
	if !o.Role.Exists {
		b.planRoleCreate(d, after())
		return true, nil
	}
	if err := CheckOwnership(name, o.Role, r.RepositoryID, r.PullRequest); err != nil {
		return false, err
	}
	if o.Role.Path != r.Path {
		return false, fmt.Errorf("role %s exists under path %s, not %s: IAM cannot move a role; run down with the old role-path first", name, o.Role.Path, r.Path)
	}
	// keyed: the changes IAM authorises on the role's boundary
	// (iam:PermissionsBoundary) wait for a boundary change, which the
	// provisioner policy requires first.
	var keyed []string
	switch {
	case r.Boundary != "" && o.Role.Boundary != r.Boundary:
		action := plan.Update
		if o.Role.Boundary == "" {
			action = plan.Create
		}
		b.add(plan.Change{ID: idBoundary, Resource: "permissions-boundary", Name: name, Action: action, Detail: lastSegment(r.Boundary),
			Op: PutBoundary{Name: name, ARN: r.Boundary}})
		keyed = []string{idBoundary}
	case r.Boundary == "" && o.Role.Boundary != "":
		b.warn("role %s keeps its permissions boundary %s: the action never removes a boundary", name, lastSegment(o.Role.Boundary))
	}
	if !policy.Equal(o.Role.Trust, r.Trust) {
		b.add(plan.Change{ID: idTrust, Resource: "trust-policy", Name: name, Action: plan.Update, Detail: "trust conditions differ", After: after(keyed...),
			Op: UpdateTrust{Name: name, Document: string(r.Trust)}})
	}
	if o.Role.MaxSession != r.MaxSession || o.Role.Description != r.Description {
		var what []string
		if o.Role.MaxSession != r.MaxSession {
			what = append(what, fmt.Sprintf("max session %ds → %ds", o.Role.MaxSession, r.MaxSession))
		}
		if o.Role.Description != r.Description {
			what = append(what, "description")
		}
		b.add(plan.Change{ID: idSettings, Resource: "iam-role", Name: name, Action: plan.Update, Detail: strings.Join(what, ", "), After: keyed,
			Op: UpdateRole{Name: name, MaxSession: r.MaxSession, Description: r.Description}})
	}
	set, remove := DiffTags(r.Tags, o.Role.Tags)
	if len(set) > 0 {
		keys := slices.Sorted(maps.Keys(set))
		// The provisioner policy admits TagRole only when the request
		// restates the ownership tags, so they ride along.
		for _, k := range []string{naming.TagManagedBy, naming.TagRepository} {
			if v, ok := r.Tags[k]; ok {
				set[k] = v
			}
		}
		b.add(plan.Change{ID: idTags, Resource: "tags", Name: name, Action: plan.Update, Detail: "set " + strings.Join(keys, ", "),
			Op: TagRole{Name: name, Tags: set}})
	}
	if len(remove) > 0 {
		b.add(plan.Change{ID: idUntag, Resource: "tags", Name: name, Action: plan.Delete, Detail: "remove " + strings.Join(remove, ", "),
			Op: UntagRole{Name: name, Keys: remove}})
	}
	switch {
	case o.Role.Policy == nil:
		b.add(plan.Change{ID: idPolicy, Resource: "inline-policy", Name: name, Action: plan.Create, Detail: "inline policy " + PolicyName, After: keyed,
			Op: PutPolicy{Name: name, Document: string(r.Policy)}})
	case !policy.Equal(o.Role.Policy, r.Policy):
		b.add(plan.Change{ID: idPolicy, Resource: "inline-policy", Name: name, Action: plan.Update, Detail: "inline policy " + PolicyName + " differs", After: keyed,
			Op: PutPolicy{Name: name, Document: string(r.Policy)}})
	}
	for _, arn := range r.Managed {
		if !slices.Contains(o.Role.Managed, arn) {
			b.add(plan.Change{ID: idAttach(arn), Resource: "managed-policy", Name: name, Action: plan.Create, Detail: "attach " + arn, After: keyed,
				Op: AttachPolicy{Name: name, ARN: arn}})
		}
	}
	for _, arn := range o.Role.Managed {
		if !slices.Contains(r.Managed, arn) {
			b.add(plan.Change{ID: idDetach(arn), Resource: "managed-policy", Name: name, Action: plan.Delete, Detail: "detach " + arn, After: keyed,
				Op: DetachPolicy{Name: name, ARN: arn}})
		}
	}
	for _, p := range o.Role.OtherPolicies {
		b.warn("role %s has an inline policy %q the action did not write; it was left alone, and teardown will stop on it", name, p)
	}
	if b.count("iam") == 0 {
		b.add(plan.Change{ID: idRole, Resource: "iam-role", Name: name, Action: plan.NoOp, Detail: "up to date"})
	}
	return false, nil
}

// planRoleCreate plans a new role: one CreateRole with its trust, tags,
// boundary, path and session, then its policies, and the wait until IAM
// returns it.
func (b *builder) planRoleCreate(d Desired, after []string) {
	r := d.Role
	name := r.Name
	detail := fmt.Sprintf("path %s, %d tags, max session %ds", r.Path, len(r.Tags), r.MaxSession)
	if r.Boundary != "" {
		detail += ", boundary " + lastSegment(r.Boundary)
	} else {
		detail += ", no boundary"
	}
	b.add(plan.Change{ID: idRole, Resource: "iam-role", Name: name, Action: plan.Create, Detail: detail, After: after,
		Op: CreateRole{Name: name, Path: r.Path, Description: r.Description, Trust: string(r.Trust), MaxSession: r.MaxSession, Boundary: r.Boundary, Tags: maps.Clone(r.Tags)}})
	b.add(plan.Change{ID: idPolicy, Resource: "inline-policy", Name: name, Action: plan.Create, Detail: "inline policy " + PolicyName, After: []string{idRole},
		Op: PutPolicy{Name: name, Document: string(r.Policy)}})
	for _, arn := range r.Managed {
		b.add(plan.Change{ID: idAttach(arn), Resource: "managed-policy", Name: name, Action: plan.Create, Detail: "attach " + arn, After: []string{idRole},
			Op: AttachPolicy{Name: name, ARN: arn}})
	}
	if d.WaitForRole {
		b.add(plan.Change{ID: idWait, Resource: "iam-role", Name: name, Action: plan.Create, Detail: "wait until IAM returns it", After: []string{idRole}, Hidden: true,
			Op: WaitForRole{Name: name}})
	}
}

// planRevoke appends, for a teardown, the removal of the role's
// permissions (its inline policy and attachments) and returns their IDs;
// DeleteRole is planned by the caller, last. It refuses, before any write,
// a role that is not the tool's (tags, or a path other than the one it
// must live under) or that carries attachments the tool never makes.
func (b *builder) planRevoke(d Desired, o Observed) (revoke []string, err error) {
	r, name := d.Role, d.Role.Name
	if !o.Role.Exists {
		return nil, nil
	}
	if err := CheckOwnership(name, o.Role, r.RepositoryID, r.PullRequest); err != nil {
		return nil, err
	}
	if o.Role.Path != r.Path {
		return nil, &OwnershipError{name, fmt.Sprintf("it lives under path %s, not %s, where preview-access keeps this repository's roles", o.Role.Path, r.Path)}
	}
	var foreign []string
	for _, p := range o.Role.OtherPolicies {
		foreign = append(foreign, "inline policy "+p)
	}
	for _, ip := range o.Role.InstanceProfiles {
		foreign = append(foreign, "instance profile "+ip)
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("role %s has attachments preview-access did not make (%s); nothing was removed: remove them by hand, then run down again", name, strings.Join(foreign, ", "))
	}
	if o.Role.Policy != nil {
		b.add(plan.Change{ID: idPolicy, Resource: "inline-policy", Name: name, Action: plan.Delete, Detail: "inline policy " + PolicyName,
			Op: DeletePolicy{Name: name}})
		revoke = append(revoke, idPolicy)
	}
	for _, arn := range o.Role.Managed {
		if !slices.Contains(r.Managed, arn) {
			b.warn("role %s had the managed policy %s attached out of band (not in managed-policy-arns): it is detached so the role can be removed", name, arn)
		}
		b.add(plan.Change{ID: idDetach(arn), Resource: "managed-policy", Name: name, Action: plan.Delete, Detail: "detach " + arn,
			Op: DetachPolicy{Name: name, ARN: arn}})
		revoke = append(revoke, idDetach(arn))
	}
	return revoke, nil
}

// checkQuota judges creating one more role: an error when the account is
// full (CreateRole would fail with LimitExceeded after other writes), a
// warning from 90 %. A quota that cannot be read only warns.
func (b *builder) checkQuota(q RoleQuota) error {
	switch {
	case !q.Read:
	case q.Err != "":
		b.warn("cannot read the account's role quota (iam GetAccountSummary: %s); the role is created without the check (re-run preview-access bootstrap to grant iam:GetAccountSummary)", q.Err)
	case q.Roles >= q.Quota:
		return fmt.Errorf("the account holds %d roles, its whole quota of %d (IAM quota \"Roles per account\"): no preview role can be created; remove unused roles or raise the quota in Service Quotas", q.Roles, q.Quota)
	case float64(q.Roles+1) >= 0.9*float64(q.Quota):
		b.warn("the account holds %d of its %d roles (IAM quota \"Roles per account\"): raise the quota in Service Quotas or remove unused roles before previews stop being created", q.Roles, q.Quota)
	}
	return nil
}

// DiffTags returns the tags to set and the keys to remove so that actual
// matches desired. It is pure and sorted. Keys outside the tool's prefix
// that are not desired are someone else's and stay. The expiry only moves
// forward: an older run never shortens a preview's life.
func DiffTags(desired, actual map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range desired {
		if actual[k] == v {
			continue
		}
		if k == naming.TagExpiresAt {
			want, err1 := time.Parse(time.RFC3339, v)
			have, err2 := time.Parse(time.RFC3339, actual[k])
			if err1 == nil && err2 == nil && !want.After(have) {
				continue
			}
		}
		set[k] = v
	}
	for k := range actual {
		if _, ok := desired[k]; !ok && strings.HasPrefix(k, naming.TagPrefix) {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	return set, remove
}

func lastSegment(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func nonEmpty(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}
