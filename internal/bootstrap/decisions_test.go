package bootstrap

import (
	"slices"
	"strings"
	"testing"
)

const (
	testRepo     = "octo-org/shop"
	testRoleARN  = "arn:aws:iam::123456789012:role/preview-access/octo-org/shop/preview-octo-org.shop-pr-42"
	otherBound   = "arn:aws:iam::123456789012:policy/preview-access-boundary-octo.org-shop"
	readOnlyARN  = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	adminARN     = "arn:aws:iam::aws:policy/AdministratorAccess"
	outsideRole  = "arn:aws:iam::123456789012:role/admin"
	otherPathARN = "arn:aws:iam::123456789012:role/preview-access/octo/org-shop/preview-octo.org-shop-pr-42"
)

func ownerTags(pr string) map[string]string {
	return map[string]string{
		TagManagedBy: ManagedByValue, TagRepository: testRepo,
		TagRepositoryID: "987654321", TagPullRequest: pr,
	}
}

// TestProvisionerDecisions is the provisioner policy judged request by
// request, for the role states an attacker or a mistake can produce.
func TestProvisionerDecisions(t *testing.T) {
	t.Parallel()
	o := base()
	d := ProvisionerPermissions(o)
	ours := o.BoundaryARN()
	var (
		absent    = roleState{}
		owned     = roleState{exists: true, tags: ownerTags("42"), boundary: ours}
		adopted   = roleState{exists: true, tags: ownerTags("42")} // hand-made, then tagged
		otherB    = roleState{exists: true, tags: ownerTags("42"), boundary: otherBound}
		untagged  = roleState{exists: true}
		otherRepo = roleState{exists: true, tags: map[string]string{TagManagedBy: ManagedByValue, TagRepository: "octo/org-shop"}, boundary: ours}
		foreign   = roleState{exists: true, tags: map[string]string{TagManagedBy: "terraform"}, boundary: ours}
	)
	create := roleParams{boundary: ours, tags: ownerTags("42")}
	for _, tc := range []struct {
		name   string
		action string
		arn    string
		role   roleState
		p      roleParams
		want   verdict
	}{
		// Creating: only with the boundary and the ownership tags.
		{"create with boundary and tags", "iam:CreateRole", testRoleARN, absent, create, allowed},
		{"CreateRole's tags, authorised as TagRole", "iam:TagRole", testRoleARN, absent, create, allowed},
		{"create without boundary", "iam:CreateRole", testRoleARN, absent, roleParams{tags: ownerTags("42")}, explicitDeny},
		{"create with another repository's boundary", "iam:CreateRole", testRoleARN, absent, roleParams{boundary: otherBound, tags: ownerTags("42")}, explicitDeny},
		{"create without the repository tag", "iam:CreateRole", testRoleARN, absent, roleParams{boundary: ours, tags: map[string]string{TagManagedBy: ManagedByValue}}, implicitDeny},
		{"create tagged for another repository", "iam:CreateRole", testRoleARN, absent, roleParams{boundary: ours, tags: map[string]string{TagManagedBy: ManagedByValue, TagRepository: "octo/org-shop"}}, explicitDeny},
		{"create outside the path", "iam:CreateRole", outsideRole, absent, create, implicitDeny},

		// Adoption: tagging a hand-made role cannot be told from CreateRole
		// (allowed), but nothing else about it is.
		{"tag a hand-made role with the ownership tags", "iam:TagRole", testRoleARN, untagged, create, allowed},
		{"re-point an adopted role", "iam:UpdateAssumeRolePolicy", testRoleARN, adopted, roleParams{}, explicitDeny},
		{"update an adopted role", "iam:UpdateRole", testRoleARN, adopted, roleParams{}, explicitDeny},
		{"delete an adopted role", "iam:DeleteRole", testRoleARN, adopted, roleParams{}, explicitDeny},
		{"detach from an adopted role", "iam:DetachRolePolicy", testRoleARN, adopted, roleParams{policyARN: adminARN}, explicitDeny},
		{"delete an adopted role's inline policy", "iam:DeleteRolePolicy", testRoleARN, adopted, roleParams{}, explicitDeny},
		{"grant an adopted role an inline policy", "iam:PutRolePolicy", testRoleARN, adopted, roleParams{}, explicitDeny},
		{"attach to an adopted role", "iam:AttachRolePolicy", testRoleARN, adopted, roleParams{policyARN: readOnlyARN}, explicitDeny},
		// Putting this repository's boundary on it caps it like any preview.
		{"cap an adopted role with the boundary", "iam:PutRolePermissionsBoundary", testRoleARN, adopted, roleParams{boundary: ours}, allowed},
		{"give an adopted role another boundary", "iam:PutRolePermissionsBoundary", testRoleARN, adopted, roleParams{boundary: otherBound}, explicitDeny},

		// Roles with another repository's boundary are not this one's.
		{"re-point a role with another boundary", "iam:UpdateAssumeRolePolicy", testRoleARN, otherB, roleParams{}, explicitDeny},
		{"delete a role with another boundary", "iam:DeleteRole", testRoleARN, otherB, roleParams{}, explicitDeny},

		// The tool's own roles: everything the code calls.
		{"re-point an owned role", "iam:UpdateAssumeRolePolicy", testRoleARN, owned, roleParams{}, allowed},
		{"update an owned role", "iam:UpdateRole", testRoleARN, owned, roleParams{}, allowed},
		{"put an owned role's inline policy", "iam:PutRolePolicy", testRoleARN, owned, roleParams{}, allowed},
		{"delete an owned role's inline policy", "iam:DeleteRolePolicy", testRoleARN, owned, roleParams{}, allowed},
		{"attach an allowed policy", "iam:AttachRolePolicy", testRoleARN, owned, roleParams{policyARN: readOnlyARN}, allowed},
		{"attach a policy outside the list", "iam:AttachRolePolicy", testRoleARN, owned, roleParams{policyARN: adminARN}, explicitDeny},
		{"detach an out-of-band policy", "iam:DetachRolePolicy", testRoleARN, owned, roleParams{policyARN: adminARN}, allowed},
		{"delete an owned role", "iam:DeleteRole", testRoleARN, owned, roleParams{}, allowed},
		{"re-tag an owned role", "iam:TagRole", testRoleARN, owned, roleParams{tags: map[string]string{TagManagedBy: ManagedByValue, TagRepository: testRepo, "preview-access:expires-at": "2030-01-01T00:00:00Z"}}, allowed},
		{"untag an owned role's head-sha", "iam:UntagRole", testRoleARN, owned, roleParams{untagKeys: []string{"preview-access:head-sha"}}, allowed},
		{"read an owned role", "iam:GetRole", testRoleARN, owned, roleParams{}, allowed},
		{"read a hand-made role under the path", "iam:GetRole", testRoleARN, untagged, roleParams{}, allowed},
		{"list its inline policies", "iam:ListRolePolicies", testRoleARN, owned, roleParams{}, allowed},
		{"read a role outside the path", "iam:GetRole", outsideRole, untagged, roleParams{}, implicitDeny},
		{"re-point a role outside the path", "iam:UpdateAssumeRolePolicy", outsideRole, owned, roleParams{}, implicitDeny},
		{"re-point a look-alike repository's role", "iam:UpdateAssumeRolePolicy", otherPathARN, owned, roleParams{}, implicitDeny},

		// Ownership and binding tags: never removed (in any case), changed
		// or re-bound.
		{"untag managed-by", "iam:UntagRole", testRoleARN, owned, roleParams{untagKeys: []string{TagManagedBy}}, explicitDeny},
		{"untag managed-by in another case", "iam:UntagRole", testRoleARN, owned, roleParams{untagKeys: []string{"Preview-Access:Managed-By"}}, explicitDeny},
		{"untag repository in capitals", "iam:UntagRole", testRoleARN, owned, roleParams{untagKeys: []string{"PREVIEW-ACCESS:REPOSITORY"}}, explicitDeny},
		{"untag the pull request", "iam:UntagRole", testRoleARN, owned, roleParams{untagKeys: []string{"preview-access:Pull-Request"}}, explicitDeny},
		{"untag an ownership tag among others", "iam:UntagRole", testRoleARN, owned, roleParams{untagKeys: []string{"team", TagRepositoryID}}, explicitDeny},
		{"re-bind a role to another pull request", "iam:TagRole", testRoleARN, owned, roleParams{tags: map[string]string{TagManagedBy: ManagedByValue, TagRepository: testRepo, TagPullRequest: "43"}}, explicitDeny},
		{"re-bind in another case", "iam:TagRole", testRoleARN, owned, roleParams{tags: map[string]string{TagManagedBy: ManagedByValue, TagRepository: testRepo, "Preview-Access:Pull-Request": "43"}}, explicitDeny},
		{"change managed-by", "iam:TagRole", testRoleARN, owned, roleParams{tags: map[string]string{TagManagedBy: "someone", TagRepository: testRepo}}, explicitDeny},
		{"take over another repository's role", "iam:TagRole", testRoleARN, otherRepo, create, explicitDeny},
		{"take over another tool's role", "iam:TagRole", testRoleARN, foreign, create, explicitDeny},
		{"change another repository's role", "iam:DeleteRole", testRoleARN, otherRepo, roleParams{}, implicitDeny},

		// The boundary stays.
		{"remove the boundary", "iam:DeleteRolePermissionsBoundary", testRoleARN, owned, roleParams{}, explicitDeny},
		{"swap the boundary", "iam:PutRolePermissionsBoundary", testRoleARN, owned, roleParams{boundary: otherBound}, explicitDeny},
		{"keep the boundary", "iam:PutRolePermissionsBoundary", testRoleARN, owned, roleParams{boundary: ours}, allowed},

		// Never a preview role itself.
		{"pass a preview role", "iam:PassRole", testRoleARN, owned, roleParams{}, explicitDeny},
	} {
		r := roleReq(t, tc.action, tc.arn, tc.role, tc.p)
		if got := evaluate(d, r); got != tc.want {
			t.Errorf("%s: %s → %s; want %s (context %v)", tc.name, tc.action, got, tc.want, r.ctx)
		}
	}
	for action, want := range map[string]verdict{
		"iam:ListRoles": allowed, "iam:GetAccountSummary": allowed, "sts:GetCallerIdentity": allowed, "iam:CreateUser": explicitDeny,
	} {
		if got := evaluate(d, req{action: action, resource: "*"}); got != want {
			t.Errorf("%s on * → %s; want %s", action, got, want)
		}
	}
}

// TestProvisionerRunsAreAllowed walks the calls of a real up on a new PR,
// an up that changes a role, and a teardown, in the states the code makes
// them in: the policy must admit each one.
func TestProvisionerRunsAreAllowed(t *testing.T) {
	t.Parallel()
	o := base()
	d := ProvisionerPermissions(o)
	ours := o.BoundaryARN()
	owned := roleState{exists: true, tags: ownerTags("42"), boundary: ours}
	calls := []struct {
		action string
		role   roleState
		p      roleParams
	}{
		{"iam:GetRole", roleState{}, roleParams{}},
		{"iam:CreateRole", roleState{}, roleParams{boundary: ours, tags: ownerTags("42")}},
		{"iam:TagRole", roleState{}, roleParams{tags: ownerTags("42")}},
		{"iam:PutRolePolicy", owned, roleParams{}},
		{"iam:AttachRolePolicy", owned, roleParams{policyARN: readOnlyARN}},
		{"iam:GetRolePolicy", owned, roleParams{}},
		{"iam:ListRolePolicies", owned, roleParams{}},
		{"iam:ListAttachedRolePolicies", owned, roleParams{}},
		{"iam:ListInstanceProfilesForRole", owned, roleParams{}},
		{"iam:UpdateAssumeRolePolicy", owned, roleParams{}},
		{"iam:UpdateRole", owned, roleParams{}},
		{"iam:TagRole", owned, roleParams{tags: map[string]string{TagManagedBy: ManagedByValue, TagRepository: testRepo, "preview-access:head-sha": strings.Repeat("a", 40)}}},
		{"iam:UntagRole", owned, roleParams{untagKeys: []string{"preview-access:head-sha"}}},
		{"iam:PutRolePermissionsBoundary", owned, roleParams{boundary: ours}},
		{"iam:DetachRolePolicy", owned, roleParams{policyARN: readOnlyARN}},
		{"iam:DeleteRolePolicy", owned, roleParams{}},
		{"iam:DeleteRole", owned, roleParams{}},
	}
	seen := map[string]bool{}
	for _, c := range calls {
		seen[c.action] = true
		if got := evaluate(d, roleReq(t, c.action, testRoleARN, c.role, c.p)); got != allowed {
			t.Errorf("%s as the code calls it → %s; want allowed", c.action, got)
		}
	}
	for _, a := range []string{"iam:ListRoles", "iam:GetAccountSummary", "sts:GetCallerIdentity"} {
		seen[a] = true
		if got := evaluate(d, req{action: a, resource: "*"}); got != allowed {
			t.Errorf("%s → %s; want allowed", a, got)
		}
	}
	for _, a := range ProvisionerCalls {
		if !seen[a] {
			t.Errorf("ProvisionerCalls names %s, which no case here exercises", a)
		}
	}
}

// TestDeniesUseKeysTheActionsCarry guards against the trap of a negated
// operator on a key an action does not carry, which denies it always.
func TestDeniesUseKeysTheActionsCarry(t *testing.T) {
	t.Parallel()
	for name, o := range configs() {
		for _, s := range ProvisionerPermissions(o).Statement {
			if s.Effect != "Deny" {
				continue
			}
			for op, keys := range s.Condition {
				if !strings.Contains(op, "Not") || strings.HasPrefix(op, "Arn") {
					continue
				}
				for key := range keys {
					if strings.HasPrefix(key, "aws:RequestTag/") || strings.HasPrefix(key, "iam:ResourceTag/") {
						continue // guarded by Null=false (TestProvisionerPermissions)
					}
					for _, a := range s.Action {
						if !slices.Contains(sarKeys[a], key) {
							t.Errorf("%s/%s: %s on %s, which %s does not carry: the deny would always apply", name, s.Sid, op, key, a)
						}
					}
				}
			}
		}
	}
}

// TestBoundaryKeepsPullRequestsApart: with a permissions template as wide
// as the bucket, PR 42's role reaches only PR 42's objects and prefix.
func TestBoundaryKeepsPullRequestsApart(t *testing.T) {
	t.Parallel()
	o := base()
	boundary := Boundary(o)
	bucket := "arn:aws:s3:::123456789012-previews"
	wide := Document{Version: version, Statement: []Statement{
		{Effect: "Allow", Action: Values{"s3:*"}, Resource: Values{bucket, bucket + "/*"}},
		{Effect: "Allow", Action: Values{"sts:GetCallerIdentity", "iam:CreateRole", "sts:AssumeRole", "dynamodb:Scan"}, Resource: Values{"*"}},
	}}
	principal := func(pr string) map[string][]string {
		if pr == "" {
			return map[string][]string{}
		}
		return map[string][]string{"aws:PrincipalTag/" + TagPullRequest: {pr}}
	}
	with := func(ctx map[string][]string, kv ...string) map[string][]string {
		out := map[string][]string{}
		for k, v := range ctx {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = []string{kv[i+1]}
		}
		return out
	}
	for _, tc := range []struct {
		name, action, resource string
		ctx                    map[string][]string
		want                   verdict
	}{
		{"own object", "s3:GetObject", bucket + "/octo-org/shop/pr-42/index.html", principal("42"), allowed},
		{"own object, deep", "s3:PutObject", bucket + "/octo-org/shop/pr-42/a/b/c", principal("42"), allowed},
		{"another PR's object", "s3:GetObject", bucket + "/octo-org/shop/pr-43/index.html", principal("42"), implicitDeny},
		{"a PR whose number starts the same", "s3:DeleteObject", bucket + "/octo-org/shop/pr-421/x", principal("42"), implicitDeny},
		{"the repository's prefix itself", "s3:PutObject", bucket + "/octo-org/shop/x", principal("42"), explicitDeny},
		{"a look-alike repository's object", "s3:GetObject", bucket + "/octo/org-shop/pr-42/x", principal("42"), explicitDeny},
		{"another bucket", "s3:GetObject", "arn:aws:s3:::elsewhere/x", principal("42"), explicitDeny},
		{"no pull-request tag", "s3:GetObject", bucket + "/octo-org/shop/pr-42/x", principal(""), implicitDeny},
		{"list own prefix", "s3:ListBucket", bucket, with(principal("42"), "s3:prefix", "octo-org/shop/pr-42/"), allowed},
		{"list inside own prefix", "s3:ListBucket", bucket, with(principal("42"), "s3:prefix", "octo-org/shop/pr-42/assets/"), allowed},
		{"list another PR's prefix", "s3:ListBucket", bucket, with(principal("42"), "s3:prefix", "octo-org/shop/pr-43/"), explicitDeny},
		{"list a prefix that starts the same", "s3:ListBucket", bucket, with(principal("42"), "s3:prefix", "octo-org/shop/pr-42"), explicitDeny},
		{"list the repository", "s3:ListBucket", bucket, with(principal("42"), "s3:prefix", "octo-org/shop/"), explicitDeny},
		{"list the whole bucket", "s3:ListBucket", bucket, principal("42"), explicitDeny},
		{"list versions of the whole bucket", "s3:ListBucketVersions", bucket, principal("42"), explicitDeny},
		{"change the bucket's policy", "s3:PutBucketPolicy", bucket, principal("42"), implicitDeny},
		{"delete the bucket", "s3:DeleteBucket", bucket, principal("42"), implicitDeny},
		{"who am I", "sts:GetCallerIdentity", "*", principal("42"), allowed},
		{"create a role", "iam:CreateRole", "*", principal("42"), explicitDeny},
		{"chain to another role", "sts:AssumeRole", "*", principal("42"), explicitDeny},
		{"an unrelated service", "dynamodb:Scan", "*", principal("42"), explicitDeny},
	} {
		r := req{action: tc.action, resource: tc.resource, ctx: tc.ctx}
		if got := evaluateWithBoundary(wide, boundary, r); got != tc.want {
			t.Errorf("%s: %s on %s → %s; want %s", tc.name, tc.action, tc.resource, got, tc.want)
		}
	}
}
