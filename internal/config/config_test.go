package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// valid is a complete, valid set of inputs; each case changes one.
var valid = map[string]string{
	"permissions-boundary": "arn:aws:iam::123456789012:policy/preview-boundary",
	"account-id":           "123456789012",
}

func load(over map[string]string) (Config, error) {
	return Load(func(name string) string {
		if v, ok := over[name]; ok {
			return v
		}
		return valid[name]
	})
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Mode: "auto", Region: "us-east-1", Partition: "aws", AccountID: "123456789012",
		TrustScope: "ref", EnvironmentTemplate: "preview-pr-{number}", SubjectTemplate: "repo:{owner}/{repo}:pull_request",
		RoleNameTemplate: "preview-{owner}-{repo}-pr-{number}", RolePathTemplate: "/preview-access/{owner}/{repo}/",
		PermissionsBoundary: valid["permissions-boundary"], MaxSessionDuration: 3600, TTL: 7 * 24 * time.Hour,
		Tags: map[string]string{}, TrustSizeLimit: 2048, Timeout: 5 * time.Minute, WaitForRole: true,
		Comment: true, Deployment: true, Gateway: "none", GatewayFile: "preview-access-policy.json",
		AccessFile: ".github/preview-access.yml", Concurrency: 4,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got := c.ProviderARN(); got != "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" {
		t.Errorf("ProviderARN = %q", got)
	}
}

// TestInvalidInputs: every input with bad values gets exactly one
// readable error naming that input.
func TestInvalidInputs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		input string
		value string
		want  string
	}{
		{"mode", "deploy", "not a mode"},
		{"mode", "UP", "not a mode"},
		{"pr", "0", "not a pull request number"},
		{"pr", "-3", "not a pull request number"},
		{"pr", "4x", "not a pull request number"},
		{"aws-region", "moon-1", "not an AWS region"},
		{"aws-region", "us-east-1 ", ""}, // trimmed: valid
		{"account-id", "12345", "12-digit"},
		{"account-id", "12345678901a", "12-digit"},
		{"oidc-provider-arn", "arn:aws:iam::123456789012:role/x", "not an IAM OIDC provider ARN"},
		{"oidc-provider-arn", "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", "partition"},
		{"oidc-provider-arn", "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com", "differs from account-id"},
		{"oidc-provider-arn", "arn:aws:iam::123456789012:oidc-provider/*", "not an IAM OIDC provider ARN"},
		{"trust-scope", "branch", "not a trust scope"},
		{"environment-template", "preview-{head_ref}", "unknown placeholder {head_ref}"},
		{"subject-template", "repo:{owner}/*:pull_request", "wildcards"},
		{"subject-template", "repo:{owner}/{repo}:{title}", "unknown placeholder {title}"},
		{"subject-template", "repo:{owner}/{repo}: pull_request", "spaces"},
		{"role-name-template", "preview-{owner}", "must contain {number}"},
		{"role-name-template", "preview-{head_ref}-{number}", "unknown placeholder {head_ref}"},
		{"role-path", "/", "not an IAM path of its own"},
		{"role-path", "preview-access", "not an IAM path of its own"},
		{"role-path", "/p/{number}/", "must not contain {number}"},
		{"permissions-template", "../../etc/passwd", "not a relative path"},
		{"permissions-template", "/etc/passwd", "not a relative path"},
		{"managed-policy-arns", "arn:aws:iam::123456789012:role/x", "not an IAM policy ARN"},
		{"managed-policy-arns", "arn:aws-cn:iam::aws:policy/ReadOnlyAccess", "partition aws-cn"},
		{"managed-policy-arns", "arn:aws:iam::aws:policy/*", "not an IAM policy ARN"},
		{"permissions-boundary", "arn:aws-us-gov:iam::123456789012:policy/b", "partition aws-us-gov"},
		{"permissions-boundary", "arn:aws:iam::999999999999:policy/b", "differs from account-id"},
		{"permissions-boundary", "not-an-arn", "not an IAM policy ARN"},
		{"permissions-boundary", "arn:aws:iam::123456789012:policy/b*", "not an IAM policy ARN"},
		{"allow-missing-boundary", "yes", "not a boolean"},
		{"allow-iam-wildcards", "1", "not a boolean"},
		{"max-session-duration", "3599", "out of range"},
		{"max-session-duration", "43201", "out of range"},
		{"max-session-duration", "1h", "not a whole number"},
		{"ttl", "30m", "out of range"},
		{"ttl", "91d", "out of range"},
		{"ttl", "soon", "not a duration"},
		{"tags", "team", "not key=value"},
		{"tags", "aws:x=y", "not allowed"},
		{"tags", "preview-access:managed-by=me", "not allowed"},
		{"tags", "team=a;b", "not allowed"},
		{"tags", "team=a\nteam=b", "repeated"},
		{"trust-policy-size-limit", "1000", "out of range"},
		{"trust-policy-size-limit", "big", "not a whole number"},
		{"dry-run", "maybe", "not a boolean"},
		{"timeout", "1s", "10s to 1h"},
		{"timeout", "forever", "10s to 1h"},
		{"wait-for-role", "nope", "not a boolean"},
		{"allow-forks", "y", "not a boolean"},
		{"comment", "on", "not a boolean"},
		{"deployment", "off", "not a boolean"},
		{"preview-url", "ftp://pr-{number}.example.com", "not an http(s) URL"},
		{"preview-url", "https://user:pw@pr-{number}.example.com", "not an http(s) URL"},
		{"preview-url", "https://{head_ref}.example.com", "unknown placeholder"},
		{"gateway", "nginx", "not a gateway"},
		{"access-file", "../x.yml", "not a relative path"},
		{"concurrency", "0", "out of range"},
		{"concurrency", "100", "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.input+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			_, err := load(map[string]string{tc.input: tc.value})
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
			var ie *InputError
			if !errors.As(errs[0], &ie) || ie.Input != tc.input {
				t.Fatalf("error %v does not name input %s", errs[0], tc.input)
			}
			if !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("error %q; want it to contain %q", errs[0], tc.want)
			}
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	t.Parallel()
	_, err := load(map[string]string{"mode": "x", "ttl": "x", "max-session-duration": "1", "account-id": "1"})
	if got := len(flatten(err)); got != 4 {
		t.Errorf("got %d errors (%v); want 4", got, err)
	}
}

func TestBoundaryRequiredForUp(t *testing.T) {
	t.Parallel()
	c, err := load(map[string]string{"permissions-boundary": ""})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckBoundary(); err == nil || !strings.Contains(err.Error(), "input permissions-boundary: is required") {
		t.Errorf("CheckBoundary = %v; want the boundary required", err)
	}
	c.AllowMissingBound = true
	if err := c.CheckBoundary(); err != nil {
		t.Errorf("with allow-missing-boundary: %v", err)
	}
}

func TestParsing(t *testing.T) {
	t.Parallel()
	c, err := load(map[string]string{
		"managed-policy-arns":  "arn:aws:iam::aws:policy/ReadOnlyAccess,\n arn:aws:iam::123456789012:policy/extra\n",
		"tags":                 "team = web\ncost-center=42\n",
		"ttl":                  "36h",
		"aws-region":           "cn-north-1",
		"permissions-boundary": "arn:aws-cn:iam::123456789012:policy/b",
		"github-token":         "${{ github.token }}",
	})
	if err == nil || !strings.Contains(err.Error(), "partition aws") {
		t.Fatalf("managed ARNs of the aws partition in cn-north-1: err = %v; want a partition error", err)
	}
	c, err = load(map[string]string{
		"managed-policy-arns": "arn:aws:iam::aws:policy/ReadOnlyAccess,\n arn:aws:iam::123456789012:policy/extra\n",
		"tags":                "team = web\ncost-center=42\n",
		"ttl":                 "36h",
		"github-token":        "${{ github.token }}",
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/extra"}, c.ManagedPolicyARNs); diff != "" {
		t.Errorf("ManagedPolicyARNs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"team": "web", "cost-center": "42"}, c.Tags); diff != "" {
		t.Errorf("Tags (-want +got):\n%s", diff)
	}
	if c.TTL != 36*time.Hour || c.GitHubToken != "" {
		t.Errorf("TTL = %v, GitHubToken = %q; want 36h and empty (unexpanded expression)", c.TTL, c.GitHubToken)
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	c, err := load(map[string]string{"gateway-token": "s3cr3t-token", "gateway-secret": "hmac-key", "github-token": "ghs_abc"})
	if err != nil {
		t.Fatal(err)
	}
	got := c.LogValue().String()
	for _, s := range []string{"s3cr3t-token", "hmac-key", "ghs_abc"} {
		if strings.Contains(got, s) {
			t.Errorf("LogValue %q contains secret %q", got, s)
		}
	}
	if len(c.Secrets()) != 3 {
		t.Errorf("Secrets() = %d values; want 3", len(c.Secrets()))
	}
}

func TestResolveAccount(t *testing.T) {
	t.Parallel()
	c, err := load(map[string]string{"account-id": ""})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ResolveAccount("999999999999"); err == nil || !strings.Contains(err.Error(), "permissions-boundary") {
		t.Errorf("boundary in another account: err = %v; want an error naming permissions-boundary", err)
	}
	if strings.Contains(errString(c.ResolveAccount("123456789012")), "123456789012") {
		t.Error("errors must not repeat the account id")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestGatewayInputs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   map[string]string
		want []string
	}{
		{"opa needs url and preview url", map[string]string{"gateway": "opa"}, []string{"gateway-url", "preview-url"}},
		{"plain http refused", map[string]string{"gateway": "opa", "gateway-url": "http://opa.example.com", "preview-url": "https://pr-{number}.example.com"}, []string{"https"}},
		{"userinfo refused, not echoed", map[string]string{"gateway": "opa", "gateway-url": "https://admin:hunter2@opa.example.com", "preview-url": "https://pr-{number}.example.com"}, []string{"user"}},
		{"webhook needs secret", map[string]string{"gateway": "webhook", "gateway-url": "https://gw.example.com", "preview-url": "https://pr-{number}.example.com"}, []string{"gateway-secret"}},
		{"localhost http allowed", map[string]string{"gateway": "opa", "gateway-url": "http://127.0.0.1:8181", "preview-url": "https://pr-{number}.example.com"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(tc.in)
			errs := flatten(err)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v; want %d", len(errs), errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q; want it to contain %q", i, errs[i], w)
				}
				if strings.Contains(errs[i].Error(), "hunter2") {
					t.Errorf("error %q leaks the password", errs[i])
				}
			}
		})
	}
}
