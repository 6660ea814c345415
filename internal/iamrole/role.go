// Package iamrole observes, plans and converges one preview's IAM role.
//
// The idempotency contract: Up on an absent role creates it with one
// CreateRole that carries trust, tags, boundary, path and session duration;
// Up on a present role touches only the fields that differ; Up twice writes
// nothing the second time. Down on an absent role succeeds. A role whose
// tags do not say this tool manages it for this repository and PR is never
// changed.
package iamrole

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/preview-access/preview-access/internal/naming"
)

// API is the part of the IAM client this package calls. *iam.Client
// satisfies it with no adapter.
type API interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	ListInstanceProfilesForRole(context.Context, *iam.ListInstanceProfilesForRoleInput, ...func(*iam.Options)) (*iam.ListInstanceProfilesForRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateRole(context.Context, *iam.UpdateRoleInput, ...func(*iam.Options)) (*iam.UpdateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iam.UpdateAssumeRolePolicyInput, ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	PutRolePermissionsBoundary(context.Context, *iam.PutRolePermissionsBoundaryInput, ...func(*iam.Options)) (*iam.PutRolePermissionsBoundaryOutput, error)
	TagRole(context.Context, *iam.TagRoleInput, ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	UntagRole(context.Context, *iam.UntagRoleInput, ...func(*iam.Options)) (*iam.UntagRoleOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	DetachRolePolicy(context.Context, *iam.DetachRolePolicyInput, ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
	DeleteRole(context.Context, *iam.DeleteRoleInput, ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
	ListRoles(context.Context, *iam.ListRolesInput, ...func(*iam.Options)) (*iam.ListRolesOutput, error)
}

var _ API = (*iam.Client)(nil)

// PolicyName is the name of the inline policy the tool writes.
const PolicyName = "preview-access"

// Desired is the role as it should be.
type Desired struct {
	Name            string
	Path            string
	Description     string
	Trust           []byte
	Policy          []byte // the inline policy PolicyName
	ManagedPolicies []string
	Boundary        string // "" = none
	MaxSession      int32
	Tags            map[string]string // ours and the extra tags

	// Owner identifies whose role it is: the values of TagRepositoryID and
	// TagPullRequest a role must carry for the tool to touch it.
	RepositoryID string
	PullRequest  string
}

// Observed is the role as IAM reports it.
type Observed struct {
	Exists           bool
	ARN              string
	Path             string
	Description      string
	Trust            []byte // URL-decoded
	MaxSession       int32
	Boundary         string
	Tags             map[string]string
	Policy           []byte   // our inline policy, nil when absent
	OtherPolicies    []string // inline policies the tool did not write
	Managed          []string
	InstanceProfiles []string
}

// Observe reads the role and its attachments. The reads run concurrently:
// they do not depend on each other, and an absent role answers
// NoSuchEntity on each. withProfiles adds ListInstanceProfilesForRole,
// which only teardown needs.
func Observe(ctx context.Context, api API, name string, withProfiles bool) (Observed, error) {
	var (
		o    Observed
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	// Every read has a timeout of its own, as every write has in Apply.
	run := func(f func(ctx context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, CallTimeout)
			defer cancel()
			if err := f(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	var roleOut *iam.GetRoleOutput
	var policyOut *iam.GetRolePolicyOutput
	var inline, managed, profiles []string
	run(func(ctx context.Context) (err error) {
		roleOut, err = api.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
		return wrap("GetRole", err)
	})
	run(func(ctx context.Context) (err error) {
		policyOut, err = api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: aws.String(PolicyName)})
		return wrap("GetRolePolicy", err)
	})
	run(func(ctx context.Context) error {
		p := iam.NewListRolePoliciesPaginator(api, &iam.ListRolePoliciesInput{RoleName: &name, MaxItems: aws.Int32(1000)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return wrap("ListRolePolicies", err)
			}
			inline = append(inline, out.PolicyNames...)
		}
		return nil
	})
	run(func(ctx context.Context) error {
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
	})
	if withProfiles {
		run(func(ctx context.Context) error {
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
	wg.Wait()

	var real []error
	for _, err := range errs {
		if !IsNotFound(err) {
			real = append(real, err)
		}
	}
	if len(real) > 0 {
		return o, errors.Join(real...)
	}
	if roleOut == nil || roleOut.Role == nil {
		return Observed{}, nil // absent
	}
	r := roleOut.Role
	o.Exists = true
	o.ARN = aws.ToString(r.Arn)
	o.Path = aws.ToString(r.Path)
	o.Description = aws.ToString(r.Description)
	o.MaxSession = aws.ToInt32(r.MaxSessionDuration)
	o.Trust = decode(aws.ToString(r.AssumeRolePolicyDocument))
	if r.PermissionsBoundary != nil {
		o.Boundary = aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn)
	}
	o.Tags = map[string]string{}
	for _, t := range r.Tags {
		o.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if policyOut != nil {
		o.Policy = decode(aws.ToString(policyOut.PolicyDocument))
	}
	for _, n := range inline {
		if n != PolicyName {
			o.OtherPolicies = append(o.OtherPolicies, n)
		}
	}
	slices.Sort(o.OtherPolicies)
	slices.Sort(managed)
	o.Managed = managed
	slices.Sort(profiles)
	o.InstanceProfiles = profiles
	return o, nil
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

// IsAlreadyExists reports whether err is IAM's EntityAlreadyExists.
func IsAlreadyExists(err error) bool {
	var e *types.EntityAlreadyExistsException
	return errors.As(err, &e)
}

// wrap names the failed call. AWS errors keep their type for errors.As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("iam %s: %w", op, err)
}

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
func CheckOwnership(name string, o Observed, repositoryID, pullRequest string) error {
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

// Expiry parses the expiry tag; ok is false when it is absent or malformed.
func Expiry(tags map[string]string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, tags[naming.TagExpiresAt])
	return t, err == nil
}

// FormatExpiry is the expiry tag's value for t.
func FormatExpiry(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
