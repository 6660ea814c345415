// Package testenv gives tests the services that scripts/test starts (moto for
// AWS IAM and STS, an OPA server) and real AWS SDK clients pointed at them.
//
// Every accessor reads one environment variable. When it is unset the test is
// skipped under -short and fails otherwise, so `go test -short ./...` runs the
// unit tests anywhere and a plain `go test` never passes by silently skipping
// the integration tests.
//
// One moto and one OPA serve every package's tests at once, and packages run
// in parallel: a test keeps to names of its own (UniqueName, UniqueRepo) rather
// than resetting or listing the whole server.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Environment variables set by scripts/test.
const (
	EnvMotoURL    = "PREVIEW_ACCESS_MOTO_URL"   // moto server, e.g. http://127.0.0.1:40123
	EnvOPAURL     = "PREVIEW_ACCESS_OPA_URL"    // OPA server, e.g. http://127.0.0.1:40124
	EnvOPAToken   = "PREVIEW_ACCESS_OPA_TOKEN"  // bearer token the OPA server requires
	EnvOPABin     = "PREVIEW_ACCESS_OPA_BIN"    // opa executable (opa test, opa check, opa eval)
	EnvCfnLint    = "PREVIEW_ACCESS_CFN_LINT"   // cfn-lint executable
	EnvActionLint = "PREVIEW_ACCESS_ACTIONLINT" // actionlint executable

	// EnvGitHubOpenAPI is GitHub's REST description (api.github.com.json
	// of @octokit/openapi), fetched by scripts/fixtures.
	EnvGitHubOpenAPI = "PREVIEW_ACCESS_GITHUB_OPENAPI"
	// EnvGitHubGraphQLSchema is GitHub's GraphQL schema (schema.graphql
	// of @octokit/graphql-schema), fetched by scripts/fixtures.
	EnvGitHubGraphQLSchema = "PREVIEW_ACCESS_GITHUB_GRAPHQL_SCHEMA"
	// EnvWebhookExamples is the extracted @octokit/webhooks-examples
	// package, real webhook payloads, fetched by scripts/fixtures.
	EnvWebhookExamples = "PREVIEW_ACCESS_WEBHOOK_EXAMPLES"
)

// Test credentials: moto accepts any; these are AWS's documented examples.
const (
	AccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	Region          = "us-east-1"
)

// Retry settings of AWSConfig: the SDK's adaptive mode, with backoff short
// enough that tests injecting 5xx errors stay fast. Throttling stays slow by
// design: after a throttle, adaptive mode paces that client down to 0.5
// calls a second until calls succeed again, so each injected throttle costs
// a test up to about two seconds.
const (
	MaxAttempts = 5
	MaxBackoff  = 20 * time.Millisecond
)

func lookup(t testing.TB, name, provider string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if testing.Short() {
		t.Skipf("%s is not set; skipping integration test in -short mode", name)
	}
	t.Fatalf("%s is not set: run `make test` (%s) or set %s; use -short to skip integration tests", name, provider, name)
	return ""
}

// MotoURL is the base URL of the moto server.
func MotoURL(t testing.TB) string {
	t.Helper()
	return strings.TrimRight(lookup(t, EnvMotoURL, "scripts/test starts moto"), "/")
}

// OPAURL is the base URL of the OPA server. Every request to it needs
// "Authorization: Bearer " + OPAToken(t).
func OPAURL(t testing.TB) string {
	t.Helper()
	return strings.TrimRight(lookup(t, EnvOPAURL, "scripts/test starts opa"), "/")
}

// OPAToken is the bearer token the OPA server at OPAURL requires.
func OPAToken(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvOPAToken, "scripts/test starts opa")
}

// OPABin is the path of the opa executable.
func OPABin(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvOPABin, "scripts/test installs opa")
}

// CfnLint is the path of a cfn-lint executable.
func CfnLint(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvCfnLint, "scripts/test finds cfn-lint")
}

// ActionLint is the path of the actionlint executable.
func ActionLint(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvActionLint, "scripts/test installs actionlint")
}

// GitHubOpenAPI is the path of GitHub's OpenAPI description of its REST API
// (api.github.com.json).
func GitHubOpenAPI(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvGitHubOpenAPI, "scripts/fixtures downloads it")
}

// GitHubGraphQLSchema is the path of GitHub's GraphQL schema
// (schema.graphql).
func GitHubGraphQLSchema(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvGitHubGraphQLSchema, "scripts/fixtures downloads it")
}

// WebhookExamples is the directory of the extracted @octokit/webhooks-examples
// package.
func WebhookExamples(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvWebhookExamples, "scripts/fixtures downloads it")
}

// ResetMoto wipes all of moto's state. Only for a test that owns the whole
// server (one it started itself): the shared moto of scripts/test serves
// other packages' tests at the same time, which a reset would break.
func ResetMoto(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/moto-api/reset", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: got status %s; want 200 OK", resp.Status)
	}
}

// UniqueName is a short random name, unique per call, that is valid as a
// GitHub owner or repository, an IAM name fragment and an OPA path segment:
// "t" and ten lowercase hex digits.
func UniqueName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("unique name: %v", err)
	}
	return "t" + hex.EncodeToString(b)
}

// UniqueRepo is an owner and repository of the test's own, so that its
// roles live under an IAM path (/preview-access/OWNER/REPO/) no other test
// touches.
func UniqueRepo(t testing.TB) (owner, repo string) {
	t.Helper()
	return UniqueName(t), "r" + UniqueName(t)[1:]
}

// AWSConfig is an SDK configuration for endpoint (moto, or a fault proxy in
// front of it): static test credentials, us-east-1, the adaptive retryer with
// MaxAttempts and MaxBackoff, and a 30s per-request timeout as a backstop.
// It reads no environment or shared config files.
func AWSConfig(t testing.TB, endpoint string) aws.Config {
	t.Helper()
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   awshttp.NewBuildableClient().WithTimeout(30 * time.Second),
		Retryer: func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = MaxAttempts
					so.MaxBackoff = MaxBackoff
				})
			})
		},
	}
}

// IAMClient is a real IAM client for endpoint, configured by AWSConfig.
func IAMClient(t testing.TB, endpoint string) *iam.Client {
	t.Helper()
	return iam.NewFromConfig(AWSConfig(t, endpoint))
}

// STSClient is a real STS client for endpoint, configured by AWSConfig.
func STSClient(t testing.TB, endpoint string) *sts.Client {
	t.Helper()
	return sts.NewFromConfig(AWSConfig(t, endpoint))
}
