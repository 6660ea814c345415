package config

import (
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
		Audience: "sts.amazonaws.com", TrustScope: "ref", EnvironmentTemplate: "preview-pr-{number}", SubjectTemplate: "repo:{owner}/{repo}:pull_request",
		RoleNameTemplate: "preview-{owner}.{repo}-pr-{number}", RolePathTemplate: "/preview-access/{owner}/{repo}/",
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
	if _, err := c.WithAccount("999999999999"); err == nil || !strings.Contains(err.Error(), "permissions-boundary") {
		t.Errorf("boundary in another account: err = %v; want an error naming permissions-boundary", err)
	}
	if c.AccountID != "" {
		t.Errorf("WithAccount changed the Config it was called on: account %q", c.AccountID)
	}
	if _, err := c.WithAccount("123456789012"); strings.Contains(errString(err), "123456789012") {
		t.Error("errors must not repeat the account id")
	}
	if got, err := c.WithAccount("123456789012"); err != nil || got.AccountID != "123456789012" {
		t.Errorf("WithAccount = %q, %v; want the account", got.AccountID, err)
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
		{"plain http refused", map[string]string{"gateway": "opa", "gateway-token": "t", "gateway-url": "http://opa.example.com", "preview-url": "https://pr-{number}.example.com"}, []string{"https"}},
		{"userinfo refused, not echoed", map[string]string{"gateway": "opa", "gateway-token": "t", "gateway-url": "https://admin:hunter2@opa.example.com", "preview-url": "https://pr-{number}.example.com"}, []string{"user"}},
		{"a remote OPA needs a token", map[string]string{"gateway": "opa", "gateway-url": "https://opa.example.com", "preview-url": "https://pr-{number}.example.com"}, []string{"input gateway-token: is required"}},
		{"unless explicitly unsafe", map[string]string{"gateway": "opa", "gateway-url": "https://opa.example.com", "allow-unauthenticated-gateway": "true", "preview-url": "https://pr-{number}.example.com"}, nil},
		{"a local OPA may go without", map[string]string{"gateway": "opa", "gateway-url": "http://localhost:8181", "preview-url": "https://pr-{number}.example.com"}, nil},
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
