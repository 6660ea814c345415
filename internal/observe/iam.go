package observe

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/planner"
)

// IAM is the part of IAM observing reads; *iam.Client satisfies it.
type IAM interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	ListInstanceProfilesForRole(context.Context, *iam.ListInstanceProfilesForRoleInput, ...func(*iam.Options)) (*iam.ListInstanceProfilesForRoleOutput, error)
	GetAccountSummary(context.Context, *iam.GetAccountSummaryInput, ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
	ListRoles(context.Context, *iam.ListRolesInput, ...func(*iam.Options)) (*iam.ListRolesOutput, error)
}

var _ IAM = (*iam.Client)(nil)

// Role reads the role and its attachments, concurrently: the reads do not
// depend on each other, and an absent role answers NoSuchEntity on each.
// withProfiles adds ListInstanceProfilesForRole, which only teardown
// needs. Every read has a timeout of its own (CallTimeout).
func Role(ctx context.Context, api IAM, name string, withProfiles bool) (planner.RoleState, error) {
	var (
		roleOut   *iam.GetRoleOutput
		policyOut *iam.GetRolePolicyOutput
		inline    []string
		managed   []string
		profiles  []string
	)
	reads := []func(ctx context.Context) error{
		func(ctx context.Context) (err error) {
			roleOut, err = api.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
			return wrap("GetRole", err)
		},
		func(ctx context.Context) (err error) {
			policyOut, err = api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: aws.String(planner.PolicyName)})
			return wrap("GetRolePolicy", err)
		},
		func(ctx context.Context) error {
			p := iam.NewListRolePoliciesPaginator(api, &iam.ListRolePoliciesInput{RoleName: &name, MaxItems: aws.Int32(1000)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return wrap("ListRolePolicies", err)
				}
				inline = append(inline, out.PolicyNames...)
			}
			return nil
		},
		func(ctx context.Context) error {
			p := iam.NewListAttachedRolePoliciesPaginator(api, &iam.ListAttachedRolePoliciesInput{RoleName: &name, MaxItems: aws.Int32(1000)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return wrap("ListAttachedRolePolicies", err)
				}
				for _, a := range out.AttachedPolicies {
					managed = append(managed, aws.ToString(a.PolicyArn))
				}
			}
			return nil
		},
	}
	if withProfiles {
		reads = append(reads, func(ctx context.Context) error {
			p := iam.NewListInstanceProfilesForRolePaginator(api, &iam.ListInstanceProfilesForRoleInput{RoleName: &name, MaxItems: aws.Int32(1000)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return wrap("ListInstanceProfilesForRole", err)
				}
				for _, ip := range out.InstanceProfiles {
					profiles = append(profiles, aws.ToString(ip.InstanceProfileName))
				}
			}
			return nil
		})
	}
	var (
		g    = group.New(0)
		errs = make([]error, len(reads))
	)
	for i, read := range reads {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(ctx, CallTimeout)
			defer cancel()
			if err := read(ctx); err != nil && !IsNotFound(err) {
				errs[i] = err
			}
			return nil
		})
	}
	g.Wait()
	if err := errors.Join(errs...); err != nil {
		return planner.RoleState{}, err
	}
	if roleOut == nil || roleOut.Role == nil {
		return planner.RoleState{}, nil // absent
	}
	return roleState(roleOut.Role, policyOut, inline, managed, profiles), nil
}

func roleState(r *types.Role, policyOut *iam.GetRolePolicyOutput, inline, managed, profiles []string) planner.RoleState {
	o := planner.RoleState{
		Exists:      true,
		Path:        aws.ToString(r.Path),
		Description: aws.ToString(r.Description),
		MaxSession:  aws.ToInt32(r.MaxSessionDuration),
		Trust:       decode(aws.ToString(r.AssumeRolePolicyDocument)),
		Tags:        Tags(r.Tags),
	}
	if r.PermissionsBoundary != nil {
		o.Boundary = aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn)
	}
	if policyOut != nil {
		o.Policy = decode(aws.ToString(policyOut.PolicyDocument))
	}
	for _, n := range inline {
		if n != planner.PolicyName {
			o.OtherPolicies = append(o.OtherPolicies, n)
		}
	}
	slices.Sort(o.OtherPolicies)
	o.Managed = slices.Sorted(slices.Values(managed))
	o.InstanceProfiles = slices.Sorted(slices.Values(profiles))
	return o
}

// Tags turns IAM's tag list into a map.
func Tags(list []types.Tag) map[string]string {
	tags := make(map[string]string, len(list))
	for _, t := range list {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags
}

// Quota reads the account's role count and quota ("Roles per account"). A
// failed read is reported in the result, not as an error: the check only
// warns then, and CreateRole itself still enforces the quota.
func Quota(ctx context.Context, api IAM) planner.RoleQuota {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	out, err := api.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return planner.RoleQuota{Read: true, Err: err.Error()}
	}
	q := planner.RoleQuota{Read: true, Roles: out.SummaryMap["Roles"], Quota: out.SummaryMap["RolesQuota"]}
	if q.Quota <= 0 {
		q.Err = "GetAccountSummary returned no RolesQuota"
	}
	return q
}

// decode undoes IAM's URL-encoding of policy documents.
func decode(s string) []byte {
	if d, err := url.QueryUnescape(s); err == nil {
		return []byte(d)
	}
	return []byte(s)
}

// IsNotFound reports whether err is IAM's NoSuchEntity.
func IsNotFound(err error) bool {
	var nse *types.NoSuchEntityException
	return errors.As(err, &nse)
}

// wrap names the failed call. AWS errors keep their type for errors.As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("iam %s: %w", op, err)
}
