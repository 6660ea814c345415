package config

import (
	"strings"
	"testing"
)

// invalidValues has invalid values for every input: empty where a value is
// required, whitespace, wildcards, wrong partitions, wrong types and out of
// range. TestInvalidInputs has more; TestEveryInputHasInvalidValues makes
// sure no input is left without one.
var invalidValues = []struct {
	input string
	value string
	with  map[string]string // other inputs the value needs to matter
	want  string
}{
	{"mode", "*", nil, "not a mode"},
	{"mode", "up down", nil, "not a mode"},
	{"pr", "*", nil, "not a pull request number"},
	{"pr", "4 2", nil, "not a pull request number"},
	{"aws-region", "us-east-*", nil, "not an AWS region"},
	{"aws-region", "US-EAST-1", nil, "not an AWS region"},
	{"account-id", "1234 5678 9012", nil, "12-digit"},
	{"account-id", "************", nil, "12-digit"},
	{"oidc-provider-arn", "arn:aws:iam::123456789012:oidc-provider/ token.actions.githubusercontent.com", nil, "not an IAM OIDC provider ARN"},
	{"oidc-provider-arn", "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", map[string]string{"aws-region": "us-east-1"}, "partition"},
	{"trust-scope", "*", nil, "not a trust scope"},
	{"trust-scope", "REF", nil, "not a trust scope"},
	{"environment-template", "preview-{environment}", nil, "unknown placeholder"},
	{"environment-template", "preview-{number", nil, "unbalanced"},
	{"subject-template", "repo:{owner}/{repo}:?", nil, "wildcards"},
	{"subject-template", "repo:{owner}/{repo}:environment:{environment}", map[string]string{"trust-scope": "ref"}, "trust-scope is ref"},
	{"subject-template", "repo:{owner}/{repo}:pull_request\t", nil, ""}, // trimmed: valid
	{"role-name-template", "preview-{title}-{number}", nil, "unknown placeholder {title}"},
	{"role-name-template", "preview-{owner}-{repo}", nil, "must contain {number}"},
	{"role-path", "/a b/", nil, "characters other than"},
	{"role-path", "//", nil, "not an IAM path"},
	{"permissions-template", "a\\b.json", nil, "not a relative path"},
	{"permissions-template", ".github/../../x.json", nil, "not a relative path"},
	{"managed-policy-arns", "arn:aws:iam::123456789012:policy/a b", nil, "not an IAM policy ARN"},
	{"managed-policy-arns", "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess", nil, "partition"},
	{"permissions-boundary", "arn:aws:iam::123456789012:policy/?", nil, "not an IAM policy ARN"},
	{"permissions-boundary", "arn:aws-cn:iam::aws:policy/b", nil, "partition"},
	{"allow-missing-boundary", "1", nil, "not a boolean"},
	{"allow-iam-wildcards", "*", nil, "not a boolean"},
	{"max-session-duration", "3600.5", nil, "not a whole number"},
	{"max-session-duration", " 3599 ", nil, "out of range"},
	{"ttl", "-1d", nil, "out of range"},
	{"ttl", "7 d", nil, "not a duration"},
	{"tags", "k*=v\x00", nil, "not allowed"},
	{"tags", "=v", nil, "not allowed"},
	{"trust-policy-size-limit", "8193", nil, "out of range"},
	{"dry-run", "yes", nil, "not a boolean"},
	{"timeout", "61m", nil, "10s to 1h"},
	{"timeout", "-5m", nil, "10s to 1h"},
	{"wait-for-role", "0", nil, "not a boolean"},
	{"allow-forks", "*", nil, "not a boolean"},
	{"comment", "no", nil, "not a boolean"},
	{"deployment", "disabled", nil, "not a boolean"},
	{"preview-url", "javascript:alert(1)", nil, "not an http(s) URL"},
	{"preview-url", "https://", nil, "not an http(s) URL"},
	{"gateway", "OPA", nil, "not a gateway"},
	{"gateway", "*", nil, "not a gateway"},
	{"gateway-url", "http://opa.example.com", map[string]string{"gateway": "opa", "gateway-token": "t", "preview-url": "https://pr-{number}.example.com"}, "https"},
	{"gateway-url", "https://admin:pw@opa.example.com", map[string]string{"gateway": "opa", "gateway-token": "t", "preview-url": "https://pr-{number}.example.com"}, "gateway-url"},
	{"gateway-token", "", map[string]string{"gateway": "opa", "gateway-url": "https://opa.example.com", "preview-url": "https://pr-{number}.example.com"}, "required for an OPA that is not on this machine"},
	{"gateway-token", " ", map[string]string{"gateway": "opa", "gateway-url": "https://opa.internal:8181", "preview-url": "https://pr-{number}.example.com"}, "allow-unauthenticated-gateway"},
	{"allow-unauthenticated-gateway", "yes", nil, "not a boolean"},
	{"gateway-secret", "short", map[string]string{"gateway": "webhook", "gateway-url": "https://gw.example.com", "preview-url": "https://pr-{number}.example.com"}, "gateway-secret"},
	{"gateway-secret", " \t ", map[string]string{"gateway": "webhook", "gateway-url": "https://gw.example.com", "preview-url": "https://pr-{number}.example.com"}, "gateway-secret"},
	{"access-file", "/etc/passwd", nil, "not a relative path"},
	{"concurrency", "33", nil, "out of range"},
	{"concurrency", "*", nil, "not a whole number"},
	{"mode", "deploy", nil, "not a mode"},
	{"mode", "UP", nil, "not a mode"},
	{"pr", "0", nil, "not a pull request number"},
	{"pr", "-3", nil, "not a pull request number"},
	{"pr", "4x", nil, "not a pull request number"},
	{"aws-region", "moon-1", nil, "not an AWS region"},
	{"aws-region", "us-east-1 ", nil, ""},
	{"account-id", "12345", nil, "12-digit"},
	{"account-id", "12345678901a", nil, "12-digit"},
	{"oidc-provider-arn", "arn:aws:iam::123456789012:role/x", nil, "not an IAM OIDC provider ARN"},
	{"oidc-provider-arn", "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com", nil, "differs from account-id"},
	{"oidc-provider-arn", "arn:aws:iam::123456789012:oidc-provider/*", nil, "not an IAM OIDC provider ARN"},
	{"trust-scope", "branch", nil, "not a trust scope"},
	{"environment-template", "preview-{head_ref}", nil, "unknown placeholder {head_ref}"},
	{"subject-template", "repo:{owner}/*:pull_request", nil, "wildcards"},
	{"subject-template", "repo:{owner}/{repo}:{title}", nil, "unknown placeholder {title}"},
	{"subject-template", "repo:{owner}/{repo}: pull_request", nil, "spaces"},
	{"role-name-template", "preview-{owner}", nil, "must contain {number}"},
	{"role-name-template", "preview-{head_ref}-{number}", nil, "unknown placeholder {head_ref}"},
	{"role-path", "/", nil, "not an IAM path of its own"},
	{"role-path", "preview-access", nil, "not an IAM path of its own"},
	{"role-path", "/p/{number}/", nil, "must not contain {number}"},
	{"permissions-template", "../../etc/passwd", nil, "not a relative path"},
	{"permissions-template", "/etc/passwd", nil, "not a relative path"},
	{"managed-policy-arns", "arn:aws:iam::123456789012:role/x", nil, "not an IAM policy ARN"},
	{"managed-policy-arns", "arn:aws-cn:iam::aws:policy/ReadOnlyAccess", nil, "partition aws-cn"},
	{"managed-policy-arns", "arn:aws:iam::aws:policy/*", nil, "not an IAM policy ARN"},
	{"permissions-boundary", "arn:aws-us-gov:iam::123456789012:policy/b", nil, "partition aws-us-gov"},
	{"permissions-boundary", "arn:aws:iam::999999999999:policy/b", nil, "differs from account-id"},
	{"permissions-boundary", "not-an-arn", nil, "not an IAM policy ARN"},
	{"permissions-boundary", "arn:aws:iam::123456789012:policy/b*", nil, "not an IAM policy ARN"},
	{"allow-missing-boundary", "yes", nil, "not a boolean"},
	{"allow-iam-wildcards", "1", nil, "not a boolean"},
	{"max-session-duration", "3599", nil, "out of range"},
	{"max-session-duration", "43201", nil, "out of range"},
	{"max-session-duration", "1h", nil, "not a whole number"},
	{"ttl", "30m", nil, "out of range"},
	{"ttl", "91d", nil, "out of range"},
	{"ttl", "soon", nil, "not a duration"},
	{"tags", "team", nil, "not key=value"},
	{"tags", "aws:x=y", nil, "not allowed"},
	{"tags", "preview-access:managed-by=me", nil, "not allowed"},
	{"tags", "team=a;b", nil, "not allowed"},
	{"tags", "team=a\nteam=b", nil, "repeated"},
	{"tags", "team=a\nTeam=b", nil, "repeated"},
	{"tags", "Preview-Access:Managed-By=me", nil, "not allowed"},
	{"tags", "PREVIEW-ACCESS:pull-request=43", nil, "not allowed"},
	{"audience", "sts.*", nil, "not a plain audience"},
	{"audience", "sts amazonaws", nil, "not a plain audience"},
	{"audience", "${aws:username}", nil, "not a plain audience"},
	{"trust-policy-size-limit", "1000", nil, "out of range"},
	{"trust-policy-size-limit", "big", nil, "not a whole number"},
	{"dry-run", "maybe", nil, "not a boolean"},
	{"timeout", "1s", nil, "10s to 1h"},
	{"timeout", "forever", nil, "10s to 1h"},
	{"wait-for-role", "nope", nil, "not a boolean"},
	{"allow-forks", "y", nil, "not a boolean"},
	{"comment", "on", nil, "not a boolean"},
	{"deployment", "off", nil, "not a boolean"},
	{"preview-url", "ftp://pr-{number}.example.com", nil, "not an http(s) URL"},
	{"preview-url", "https://user:pw@pr-{number}.example.com", nil, "not an http(s) URL"},
	{"preview-url", "https://{head_ref}.example.com", nil, "unknown placeholder"},
	{"gateway", "nginx", nil, "not a gateway"},
	{"access-file", "../x.yml", nil, "not a relative path"},
	{"concurrency", "0", nil, "out of range"},
	{"concurrency", "100", nil, "out of range"},
	{"role-path", "/preview-access/*/", nil, "characters other than"},
	{"role-path", "/p|x/{owner}/", nil, "characters other than"},
	{"environment-template", "staging", nil, "must contain {number}"},
}

// anyValueIsValid are the inputs with no invalid value, and why.
var anyValueIsValid = map[string]string{
	"github-token": "any token is passed to GitHub, which judges it (401); empty skips the GitHub steps",
	"gateway-file": "any path on the runner may be written; empty is the default",
}

func TestInvalidValuesOfEveryInput(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidValues {
		t.Run(tc.input+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			in := map[string]string{tc.input: tc.value}
			for k, v := range tc.with {
				in[k] = v
			}
			_, err := load(in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load = %v; want no error", err)
				}
				return
			}
			errs := flatten(err)
			if len(errs) != 1 {
				t.Fatalf("Load returned %d errors %v; want exactly 1", len(errs), errs)
			}
			msg := errs[0].Error()
			if !strings.HasPrefix(msg, "input ") || !strings.Contains(msg, tc.input) {
				t.Errorf("error %q does not name input %s", msg, tc.input)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q; want it to contain %q", msg, tc.want)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error %q spans lines", msg)
			}
		})
	}
}

// TestEveryInputHasInvalidValues fails when an input of action.yml has no
// invalid-value case, unless it accepts any value for a stated reason.
func TestEveryInputHasInvalidValues(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range invalidValues {
		if tc.want != "" {
			covered[tc.input] = true
		}
	}
	known := map[string]bool{}
	for _, in := range Inputs {
		known[in.Name] = true
		_, exempt := anyValueIsValid[in.Name]
		switch {
		case covered[in.Name] && exempt:
			t.Errorf("input %s has invalid values but is listed in anyValueIsValid", in.Name)
		case !covered[in.Name] && !exempt:
			t.Errorf("input %s has no invalid-value case: add one to invalidValues", in.Name)
		}
	}
	for name := range covered {
		if !known[name] {
			t.Errorf("invalidValues tests %q, which is not an input", name)
		}
	}
	for name := range anyValueIsValid {
		if !known[name] {
			t.Errorf("anyValueIsValid lists %q, which is not an input", name)
		}
	}
}
