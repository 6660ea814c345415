package run

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/preview-access/preview-access/internal/iamrole"
)

// AccountAPI reads the account's IAM quotas; *iam.Client satisfies it.
type AccountAPI interface {
	GetAccountSummary(context.Context, *iam.GetAccountSummaryInput, ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
}

var _ AccountAPI = (*iam.Client)(nil)

// roleQuota is the account's role count and quota ("Roles per account"),
// as GetAccountSummary reports them.
type roleQuota struct {
	read         bool // the summary was asked for (not when planning offline)
	roles, quota int32
	err          error // the read failed; the check only warns then
}

func readRoleQuota(ctx context.Context, api AccountAPI) roleQuota {
	ctx, cancel := context.WithTimeout(ctx, iamrole.CallTimeout)
	defer cancel()
	out, err := api.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return roleQuota{read: true, err: err}
	}
	q := roleQuota{read: true, roles: out.SummaryMap["Roles"], quota: out.SummaryMap["RolesQuota"]}
	if q.quota <= 0 {
		q.err = errors.New("GetAccountSummary returned no RolesQuota")
	}
	return q
}

// rolesWarnAt is the share of the quota at which creating a role warns.
const rolesWarnAt = 0.9

// check judges creating one more role: an error when the account is full
// (CreateRole would fail with LimitExceeded after the environment and
// gateway were written), a warning from 90 %. A quota that cannot be read
// is a warning, not a failure: CreateRole itself still enforces it.
func (q roleQuota) check() (warning string, err error) {
	switch {
	case !q.read:
		return "", nil
	case q.err != nil:
		return fmt.Sprintf("cannot read the account's role quota (iam GetAccountSummary: %v); the role is created without the check (re-run preview-access bootstrap to grant iam:GetAccountSummary)", q.err), nil
	case q.roles >= q.quota:
		return "", fmt.Errorf("the account holds %d roles, its whole quota of %d (IAM quota \"Roles per account\"): no preview role can be created; remove unused roles or raise the quota in Service Quotas", q.roles, q.quota)
	case float64(q.roles+1) >= rolesWarnAt*float64(q.quota):
		return fmt.Sprintf("the account holds %d of its %d roles (IAM quota \"Roles per account\"): raise the quota in Service Quotas or remove unused roles before previews stop being created", q.roles, q.quota), nil
	}
	return "", nil
}

// whatToChange says, for an AWS error that a re-run cannot fix by itself,
// what a person must change first; permanent is false for the errors a
// re-run converges (throttling, outages, races).
func whatToChange(err error) (fix string, permanent bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return "the provisioner may make this call: compare its policy with `preview-access bootstrap` (which also needs the role to carry the permissions boundary)", true
	case "MalformedPolicyDocument":
		return "the policy IAM refused is fixed: check permissions-template, or the trust inputs (subject-template, audience)", true
	case "LimitExceeded":
		return "the IAM quota named above is raised in Service Quotas, or unused roles and policies are removed", true
	case "InvalidInput", "ValidationError":
		return "the input behind the value IAM refused is corrected", true
	case "PolicyNotAttachable", "UnmodifiableEntity":
		return "managed-policy-arns names only customer or AWS managed policies that may be attached to a role", true
	}
	// NoSuchEntity is left out on purpose: mid-run it is usually a role a
	// racing teardown removed, which the next run converges.
	return "", false
}
