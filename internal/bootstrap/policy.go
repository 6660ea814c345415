package bootstrap

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
)

// The documents are policy's: one home for IAM's document shape.
type (
	Document  = policy.Document
	Statement = policy.Statement
	Principal = policy.Principal
	Values    = policy.Values
)

const version = "2012-10-17"

// Boundary is the permissions boundary of every preview role.
//
// A boundary only caps what a role's own policies grant, so it is written as
// "allow the most a preview may ever do, then deny what must never happen":
//
//   - Allow SERVICE:* on the preview resources only, for each service those
//     resources belong to, plus sts:GetCallerIdentity (the default
//     permissions template's WhoAmI statement) — nothing the role's inline
//     policy grants outside this takes effect. The preview resources name
//     PullRequestVariable, the role's own pull-request tag, so PR 42's role
//     reaches PR 42's objects only, whatever its permissions template says
//     (shared preview resources excepted, by choice).
//   - On a shared S3 bucket itself, a preview may only locate it and list
//     its own prefix (s3:prefix, with the same variable); listing anything
//     else, the whole bucket included, is denied.
//   - Deny iam:*, organizations:*, and the STS calls that would chain to
//     another identity, whatever the role's policy says. These are written
//     out although the Allow above never grants them, so that the intent
//     survives someone widening the Allow later.
//   - Deny everything except sts:GetCallerIdentity on anything that is not a
//     preview resource of the repository (NotAction + NotResource; the
//     variable is written as * there, so this fence holds without policy
//     variables). Actions without resource-level permissions are authorised
//     against "*", which is not a preview resource, so they are denied too:
//     that is intended (a preview has no business listing the account's
//     buckets). sts:GetCallerIdentity is exempted because it is authorised
//     against "*"; AWS documents that it works even under an explicit deny,
//     but policy simulators and Access Analyzer do not know that, and the
//     exemption keeps them agreeing with reality.
func Boundary(o Options) Document {
	d := o.withDefaults()
	all := preview.SortedUnique(append(slices.Clone(d.PreviewResources), d.SharedPreviewResources...))
	var services []string
	var buckets, others Values
	for _, r := range all {
		if isBucket(r) {
			buckets = append(buckets, r)
			continue
		}
		parts := strings.SplitN(r, ":", 6)
		if len(parts) < 6 {
			continue
		}
		others = append(others, r)
		services = append(services, parts[2]+":*")
	}
	slices.Sort(services)
	services = slices.Compact(services)
	var st []Statement
	if len(others) > 0 {
		st = append(st, Statement{
			Sid:      "AllowWithinPreviewResources",
			Effect:   "Allow",
			Action:   services,
			Resource: others,
		})
	}
	for i, b := range buckets {
		sid := func(s string) string {
			if len(buckets) > 1 {
				return s + itoa(int64(i+1))
			}
			return s
		}
		prefixes := listPrefixes(b, others)
		st = append(st, Statement{
			Sid:      sid("AllowLocatingPreviewBucket"),
			Effect:   "Allow",
			Action:   Values{"s3:GetBucketLocation"},
			Resource: Values{b},
		})
		deny := Statement{
			Sid:      sid("DenyListingBeyondOwnPrefix"),
			Effect:   "Deny",
			Action:   Values{"s3:ListBucket", "s3:ListBucketVersions"},
			Resource: Values{b},
		}
		if len(prefixes) > 0 {
			st = append(st, Statement{
				Sid:       sid("AllowListingOwnPrefix"),
				Effect:    "Allow",
				Action:    Values{"s3:ListBucket", "s3:ListBucketVersions"},
				Resource:  Values{b},
				Condition: map[string]map[string]Values{"StringLike": {"s3:prefix": prefixes}},
			})
			// A request without a prefix lists the whole bucket: the
			// negated operator is true when s3:prefix is absent.
			deny.Condition = map[string]map[string]Values{"StringNotLike": {"s3:prefix": prefixes}}
		}
		st = append(st, deny)
	}
	fence := make(Values, 0, len(all))
	for _, r := range all {
		fence = append(fence, strings.ReplaceAll(r, PullRequestVariable, "*"))
	}
	return Document{Version: version, Statement: append(st, []Statement{
		{
			Sid:      "AllowWhoAmI",
			Effect:   "Allow",
			Action:   Values{"sts:GetCallerIdentity"},
			Resource: Values{"*"},
		},
		{
			Sid:      "DenyIdentityAndOrganizationChanges",
			Effect:   "Deny",
			Action:   Values{"iam:*", "organizations:*"},
			Resource: Values{"*"},
		},
		{
			Sid:    "DenyRoleChaining",
			Effect: "Deny",
			Action: Values{
				"sts:AssumeRole",
				"sts:AssumeRoleWithSAML",
				"sts:AssumeRoleWithWebIdentity",
				"sts:GetFederationToken",
			},
			Resource: Values{"*"},
		},
		{
			Sid:         "DenyOutsidePreviewResources",
			Effect:      "Deny",
			NotAction:   Values{"sts:GetCallerIdentity"},
			NotResource: preview.SortedUnique(fence),
		},
	}...)}
}

// listPrefixes are the s3:prefix patterns a preview may list in bucket:
// the object keys of the preview resources in it ("OWNER/REPO/pr-${…}/*").
func listPrefixes(bucket string, resources []string) Values {
	var out Values
	for _, r := range resources {
		if key, ok := strings.CutPrefix(r, bucket+"/"); ok && key != "" {
			out = append(out, key)
		}
	}
	return out
}

// ProvisionerTrust is the trust policy of the provisioner role.
//
// What GitHub puts in the token of each run that must be admitted (default
// subject format; see Options.Subjects for others):
//
//	event                           sub                                  ref                 job_workflow_ref
//	pull_request_target             repo:O/R:pull_request                refs/heads/<base>   O/R/<wf>@refs/heads/<base>
//	schedule, workflow_dispatch     repo:O/R:ref:refs/heads/<default>    refs/heads/<default> O/R/<wf>@refs/heads/<default>
//	pull_request (untrusted code)   repo:O/R:pull_request                refs/pull/N/merge   O/R/<wf>@refs/pull/N/merge
//
// GitHub documents that sub carries "pull_request" for pull request events,
// and a pull_request_target run's token carries the base branch as ref
// (the run executes the base branch's workflow). So sub cannot tell the
// trusted pull_request_target run from the untrusted pull_request run of the
// same repository: both say ":pull_request". What tells them apart is ref
// and job_workflow_ref, which a pull request cannot make point at the base
// branch. The trust therefore pins, all with StringEquals:
//
//   - aud = sts.amazonaws.com;
//   - sub ∈ {the two subjects above} — a list under StringEquals matches any
//     one of them; required because AWS wants every GitHub trust to check sub;
//   - ref = refs/heads/<default branch>;
//   - job_workflow_ref = O/R/<workflow file>@refs/heads/<default branch>, so
//     only the preview-access workflow, not any other workflow on the
//     default branch, gets the provisioner's power;
//   - repository_id = the numeric id, when given.
//
// ref, job_workflow_ref and repository_id are among the GitHub claims AWS
// STS exposes as condition keys for token.actions.githubusercontent.com
// (with actor, actor_id, repository, workflow, environment and
// enterprise_id); event_name is not, so it cannot be pinned.
func ProvisionerTrust(o Options) Document {
	d := o.withDefaults()
	h := d.OIDCHost
	eq := map[string]Values{
		h + ":aud":              {d.Audience},
		h + ":sub":              d.Subjects,
		h + ":ref":              {"refs/heads/" + d.DefaultBranch},
		h + ":job_workflow_ref": {d.Owner + "/" + d.Repo + "/" + d.WorkflowFile + "@refs/heads/" + d.DefaultBranch},
	}
	if d.RepositoryID > 0 {
		eq[h+":repository_id"] = Values{itoa(d.RepositoryID)}
	}
	return Document{Version: version, Statement: []Statement{{
		Sid:       "GitHubBaseBranchWorkflow",
		Effect:    "Allow",
		Principal: &Principal{Federated: d.OIDCProviderARN()},
		Action:    Values{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]Values{"StringEquals": eq},
	}}}
}

// The IAM actions the tool calls on preview roles, grouped by the guard each
// group needs. ProvisionerCalls lists them all; a test keeps it equal to
// the calls the code makes and to the README.
var (
	roleReadActions = Values{
		"iam:GetRole",
		"iam:GetRolePolicy",
		"iam:ListAttachedRolePolicies",
		"iam:ListInstanceProfilesForRole",
		"iam:ListRolePolicies",
	}
	roleWriteActions = Values{
		"iam:DeleteRole",
		"iam:DeleteRolePolicy",
		"iam:DetachRolePolicy",
		"iam:PutRolePolicy",
		"iam:UntagRole",
		"iam:UpdateAssumeRolePolicy",
		"iam:UpdateRole",
	}
	// boundaryKeyedActions are the role-changing actions that carry the
	// iam:PermissionsBoundary condition key (Service Authorization
	// Reference, since December 2025: the role's current boundary; for
	// CreateRole and PutRolePermissionsBoundary, the one requested). Only
	// these may be denied on it: a negated operator on a key an action does
	// not carry (TagRole, UntagRole) is always true and would deny it
	// always.
	boundaryKeyedActions = Values{
		"iam:AttachRolePolicy",
		"iam:CreateRole",
		"iam:DeleteRole",
		"iam:DeleteRolePolicy",
		"iam:DetachRolePolicy",
		"iam:PutRolePermissionsBoundary",
		"iam:PutRolePolicy",
		"iam:UpdateAssumeRolePolicy",
		"iam:UpdateRole",
		"iam:UpdateRoleDescription",
	}
)

// ProvisionerCalls are the exact API calls preview-access makes with the
// provisioner's credentials, as IAM actions: what ProvisionerPermissions
// allows, and nothing more.
var ProvisionerCalls = []string{
	"iam:AttachRolePolicy",
	"iam:CreateRole",
	"iam:DeleteRole",
	"iam:DeleteRolePolicy",
	"iam:DetachRolePolicy",
	"iam:GetAccountSummary",
	"iam:GetRole",
	"iam:GetRolePolicy",
	"iam:ListAttachedRolePolicies",
	"iam:ListInstanceProfilesForRole",
	"iam:ListRolePolicies",
	"iam:ListRoles",
	"iam:PutRolePermissionsBoundary",
	"iam:PutRolePolicy",
	"iam:TagRole",
	"iam:UntagRole",
	"iam:UpdateAssumeRolePolicy",
	"iam:UpdateRole",
	"sts:GetCallerIdentity",
}

// ProvisionerPermissions is the provisioner role's own policy.
//
// The allows are scoped to this repository's preview-role path, and every
// allow that changes a role also requires it to be the tool's own, read from
// its tags (iam:ResourceTag). A role is the tool's own when it carries
// preview-access:managed-by = preview-access and preview-access:repository =
// OWNER/REPO; the denies make sure those two tags can only ever be set to
// these values, never changed or removed, so ownership cannot be forged or
// dropped through this role.
//
// Tags alone cannot tell a hand-made role from a new one: IAM authorises
// CreateRole's tags as a TagRole on a role with no tags yet, so TagRole of
// an untagged role under the path with the ownership tags must stay
// allowed. What such an adopted role can never get is anything else: every
// action that changes or removes a role and carries iam:PermissionsBoundary
// is denied unless the role carries this repository's boundary, and a role
// that carries it is capped by it, however it came to be.
//
// Contract for the code that calls IAM with this role: every TagRole call
// (and CreateRole's Tags) must include both ownership tags with their values,
// UntagRole must never name an ownership tag, a role's pull-request and
// repository-id tags never change once set, and PutRolePermissionsBoundary
// comes before any other change of a role without the boundary.
func ProvisionerPermissions(o Options) Document {
	d := o.withDefaults()
	st := provisionerAllows(d)
	st = append(st, boundaryDenies(d)...)
	st = append(st, ownershipDenies(d)...)
	st = append(st, identityDenies(d)...)
	return Document{Version: version, Statement: st}
}

// provisionerAllows are what the provisioner may do: read, list and
// change the repository's preview roles, create them only with the
// boundary and the ownership tags, attach only allowed policies.
func provisionerAllows(d Options) []Statement {
	roles := Values{d.PreviewRoleARNPattern()}
	boundary := d.BoundaryARN()
	repo := d.Owner + "/" + d.Repo
	owned := map[string]map[string]Values{"StringEquals": {
		"iam:ResourceTag/" + TagManagedBy:  {ManagedByValue},
		"iam:ResourceTag/" + TagRepository: {repo},
	}}
	requestOwned := map[string]Values{
		"aws:RequestTag/" + TagManagedBy:  {ManagedByValue},
		"aws:RequestTag/" + TagRepository: {repo},
	}

	st := []Statement{
		{
			Sid:      "ReadPreviewRoles",
			Effect:   "Allow",
			Action:   roleReadActions,
			Resource: roles,
		},
		{
			// ListRoles has no resource-level permissions: IAM authorises it
			// against "*" only, and its PathPrefix is a request parameter, not
			// a condition key. Listing names is harmless; the tool filters by
			// path and then by tags.
			Sid:      "ListRoles",
			Effect:   "Allow",
			Action:   Values{"iam:ListRoles"},
			Resource: Values{"*"},
		},
		{
			// GetCallerIdentity needs no permission at all; listed so the
			// policy states everything the tool calls. GetAccountSummary
			// (the account's role count and quota, read before creating a
			// role) has no resource-level permissions.
			Sid:      "WhoAmIAndRoleQuota",
			Effect:   "Allow",
			Action:   Values{"iam:GetAccountSummary", "sts:GetCallerIdentity"},
			Resource: Values{"*"},
		},
		{
			Sid:      "CreatePreviewRoleWithBoundaryAndOwnerTags",
			Effect:   "Allow",
			Action:   Values{"iam:CreateRole"},
			Resource: roles,
			Condition: map[string]map[string]Values{"StringEquals": merge(requestOwned, map[string]Values{
				"iam:PermissionsBoundary": {boundary},
			})},
		},
		{
			// CreateRole with Tags is also authorised as iam:TagRole against a
			// role that does not exist yet (no resource tags), and later tag
			// updates come here too: the request must carry the ownership
			// tags with the right values, and the role must not be owned by
			// anything else (DenyTakeOver below).
			Sid:       "TagPreviewRoleWithOwnerTags",
			Effect:    "Allow",
			Action:    Values{"iam:TagRole"},
			Resource:  roles,
			Condition: map[string]map[string]Values{"StringEquals": requestOwned},
		},
		{
			Sid:       "ChangeOwnedPreviewRoles",
			Effect:    "Allow",
			Action:    roleWriteActions,
			Resource:  roles,
			Condition: owned,
		},
		{
			Sid:      "KeepBoundaryOnOwnedPreviewRoles",
			Effect:   "Allow",
			Action:   Values{"iam:PutRolePermissionsBoundary"},
			Resource: roles,
			Condition: map[string]map[string]Values{"StringEquals": merge(owned["StringEquals"], map[string]Values{
				"iam:PermissionsBoundary": {boundary},
			})},
		},
	}
	if len(d.AllowedManagedPolicyARNs) > 0 {
		st = append(st, Statement{
			Sid:      "AttachAllowedManagedPolicies",
			Effect:   "Allow",
			Action:   Values{"iam:AttachRolePolicy"},
			Resource: roles,
			Condition: map[string]map[string]Values{
				"StringEquals": owned["StringEquals"],
				"ArnEquals":    {"iam:PolicyARN": d.AllowedManagedPolicyARNs},
			},
		})
	}
	return st
}

// The denies below hold even if someone attaches a broader policy to the
// provisioner role later.

// boundaryDenies keep the boundary on every role the provisioner touches,
// and the boundary policy as it is.
func boundaryDenies(d Options) []Statement {
	boundary := d.BoundaryARN()
	return []Statement{
		{
			// StringNotEquals is also true when the role has no boundary at
			// all (the key is then absent), so a role without this
			// repository's boundary can be neither created nor changed nor
			// deleted: one made by hand under the path and given the
			// ownership tags can never be re-pointed, granted or removed
			// through this role. Only boundary-keyed actions are listed.
			Sid:      "DenyRolesWithoutTheBoundary",
			Effect:   "Deny",
			Action:   boundaryKeyedActions,
			Resource: Values{"*"},
			Condition: map[string]map[string]Values{
				"StringNotEquals": {"iam:PermissionsBoundary": {boundary}},
			},
		},
		{
			Sid:      "DenyBoundaryRemoval",
			Effect:   "Deny",
			Action:   Values{"iam:DeleteRolePermissionsBoundary"},
			Resource: Values{"*"},
		},
		{
			Sid:    "DenyBoundaryPolicyChanges",
			Effect: "Deny",
			Action: Values{
				"iam:CreatePolicyVersion",
				"iam:DeletePolicy",
				"iam:DeletePolicyVersion",
				"iam:SetDefaultPolicyVersion",
				"iam:TagPolicy",
				"iam:UntagPolicy",
			},
			Resource: Values{boundary},
		},
	}
}

// ownershipDenies keep the ownership and binding tags: no role of
// another owner or repository is taken over, none re-bound to another PR.
func ownershipDenies(d Options) []Statement {
	roles := Values{d.PreviewRoleARNPattern()}
	repo := d.Owner + "/" + d.Repo
	return []Statement{
		{
			// Present and different: Null=false first, because a negated
			// operator alone is also true when the tag is not in the request.
			Sid:      "DenyChangingManagedByTag",
			Effect:   "Deny",
			Action:   Values{"iam:CreateRole", "iam:TagRole"},
			Resource: Values{"*"},
			Condition: map[string]map[string]Values{
				"Null":            {"aws:RequestTag/" + TagManagedBy: {"false"}},
				"StringNotEquals": {"aws:RequestTag/" + TagManagedBy: {ManagedByValue}},
			},
		},
		{
			Sid:      "DenyChangingRepositoryTag",
			Effect:   "Deny",
			Action:   Values{"iam:CreateRole", "iam:TagRole"},
			Resource: Values{"*"},
			Condition: map[string]map[string]Values{
				"Null":            {"aws:RequestTag/" + TagRepository: {"false"}},
				"StringNotEquals": {"aws:RequestTag/" + TagRepository: {repo}},
			},
		},
		{
			// A role that says it is managed by something else (or by
			// preview-access for another repository) is not taken over.
			Sid:      "DenyTakeOverOfOtherRoles",
			Effect:   "Deny",
			Action:   Values{"iam:TagRole"},
			Resource: roles,
			Condition: map[string]map[string]Values{
				"Null":            {"iam:ResourceTag/" + TagManagedBy: {"false"}},
				"StringNotEquals": {"iam:ResourceTag/" + TagManagedBy: {ManagedByValue}},
			},
		},
		{
			Sid:      "DenyTakeOverOfOtherRepositoriesRoles",
			Effect:   "Deny",
			Action:   Values{"iam:TagRole"},
			Resource: roles,
			Condition: map[string]map[string]Values{
				"Null":            {"iam:ResourceTag/" + TagRepository: {"false"}},
				"StringNotEquals": {"iam:ResourceTag/" + TagRepository: {repo}},
			},
		},
		{
			// ForAnyValue in a Deny: true when any removed key is an
			// ownership or binding tag (and false, harmlessly, when no keys
			// are given). IAM tag keys are case-insensitive, so the match
			// is too: Preview-Access:Managed-By is the same tag.
			Sid:      "DenyRemovingOwnerTags",
			Effect:   "Deny",
			Action:   Values{"iam:UntagRole"},
			Resource: Values{"*"},
			Condition: map[string]map[string]Values{
				"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": {TagManagedBy, TagPullRequest, TagRepository, TagRepositoryID}},
			},
		},
		{
			// A role already bound to a pull request is never re-bound to
			// another: the boundary reads the pull-request tag, so changing
			// it would hand the role another PR's data. CreateRole's own
			// tags are on a role with no tags yet, which this leaves alone.
			Sid:      "DenyRebindingPreviewRoles",
			Effect:   "Deny",
			Action:   Values{"iam:TagRole"},
			Resource: Values{"*"},
			Condition: map[string]map[string]Values{
				"Null":                               {"iam:ResourceTag/" + TagPullRequest: {"false"}},
				"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": {TagPullRequest, TagRepositoryID}},
			},
		},
	}
}

// identityDenies: the provisioner never becomes a preview role, attaches
// no policy outside the allow list, and makes no identity or provider.
func identityDenies(d Options) []Statement {
	roles := Values{d.PreviewRoleARNPattern()}
	attachDeny := Statement{
		Sid:      "DenyAttachOutsideAllowList",
		Effect:   "Deny",
		Action:   Values{"iam:AttachRolePolicy"},
		Resource: Values{"*"},
	}
	if len(d.AllowedManagedPolicyARNs) > 0 {
		attachDeny.Condition = map[string]map[string]Values{
			"ArnNotEquals": {"iam:PolicyARN": d.AllowedManagedPolicyARNs},
		}
	}
	return []Statement{
		{
			// The provisioner creates preview roles; it must never become one.
			Sid:      "DenyPassOrAssumePreviewRoles",
			Effect:   "Deny",
			Action:   Values{"iam:PassRole", "sts:AssumeRole"},
			Resource: roles,
		},
		attachDeny,
		{
			Sid:    "DenyNewIdentitiesAndProviders",
			Effect: "Deny",
			Action: Values{
				"iam:AddClientIDToOpenIDConnectProvider",
				"iam:CreateAccessKey",
				"iam:CreateLoginProfile",
				"iam:CreateOpenIDConnectProvider",
				"iam:CreateSAMLProvider",
				"iam:CreateUser",
				"iam:DeleteOpenIDConnectProvider",
				"iam:DeleteSAMLProvider",
				"iam:RemoveClientIDFromOpenIDConnectProvider",
				"iam:UpdateLoginProfile",
				"iam:UpdateOpenIDConnectProviderThumbprint",
				"iam:UpdateSAMLProvider",
			},
			Resource: Values{"*"},
		},
	}
}

func merge(a, b map[string]Values) map[string]Values {
	m := make(map[string]Values, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
