package engine

import (
	"errors"

	"github.com/aws/smithy-go"
)

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

// NeedsChange reports whether any error joined in err is one that a
// re-run cannot fix by itself (whatToChange).
func NeedsChange(err error) bool {
	for _, e := range Flatten(err) {
		if _, permanent := whatToChange(e); permanent {
			return true
		}
	}
	return false
}
