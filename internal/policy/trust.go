// Package policy renders and lints the IAM documents of a preview role: the
// trust policy, built from code so its shape can never vary, and the
// permission policy, rendered from a JSON template whose values are encoded
// by construction.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Trust scopes: how the trust policy binds the role to one PR.
const (
	ScopeRef         = "ref"
	ScopeEnvironment = "environment"
)

// DefaultAudience is the aud claim configure-aws-credentials requests.
const DefaultAudience = "sts.amazonaws.com"

// GitHubOIDCHost is GitHub's OIDC issuer host for github.com: the name of
// the account's OIDC provider and the prefix of its condition keys.
const GitHubOIDCHost = "token.actions.githubusercontent.com"

// DefaultTrustSizeLimit is IAM's default quota for a role trust policy, in
// characters not counting whitespace.
const DefaultTrustSizeLimit = 2048

// TrustOptions is everything a trust policy depends on.
type TrustOptions struct {
	ProviderARN  string // arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com
	Audience     string // the aud claim; "" is DefaultAudience
	Scope        string // ScopeRef or ScopeEnvironment
	Subject      string // the exact sub claim
	RepositoryID int64
	Ref          string // refs/pull/N/merge
	Environment  string // with ScopeEnvironment
}

// ProviderHost is the issuer host of an OIDC provider ARN: the prefix of its
// condition keys (token.actions.githubusercontent.com, or a GHES host/path).
func ProviderHost(providerARN string) string {
	_, host, ok := strings.Cut(providerARN, ":oidc-provider/")
	if !ok {
		return ""
	}
	return host
}

// TrustConditions are the StringEquals conditions of o's trust policy, keyed
// by the full condition key.
func TrustConditions(o TrustOptions) map[string]string {
	host := ProviderHost(o.ProviderARN)
	aud := o.Audience
	if aud == "" {
		aud = DefaultAudience
	}
	c := map[string]string{
		host + ":aud":           aud,
		host + ":sub":           o.Subject,
		host + ":repository_id": strconv.FormatInt(o.RepositoryID, 10),
	}
	// The ref binds the token to this PR's merge ref in both scopes. With
	// environment scope it is defence in depth: a default-branch job that
	// names the PR's environment is refused even if the environment's
	// branch policy were loosened by hand.
	c[host+":ref"] = o.Ref
	if o.Scope == ScopeEnvironment {
		c[host+":environment"] = o.Environment
	}
	return c
}

// Trust renders the trust policy: exactly one statement that lets the OIDC
// provider's tokens assume the role when every claim equals the expected
// value. Only StringEquals is used: no pattern can widen it.
func Trust(o TrustOptions) []byte {
	d := Document{
		Version: "2012-10-17",
		Statement: []Statement{{
			Sid:       "PreviewDeployJob",
			Effect:    "Allow",
			Principal: &Principal{Federated: o.ProviderARN},
			Action:    Values{"sts:AssumeRoleWithWebIdentity"},
			Condition: map[string]map[string]Values{"StringEquals": values(TrustConditions(o))},
		}},
	}
	return mustMarshal(d)
}

func mustMarshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("policy: marshal: %v", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Size is a document's length as IAM counts it: without whitespace outside
// strings.
func Size(doc []byte) int {
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return len(doc)
	}
	return buf.Len()
}

// values makes each condition value a one-element Values (written as a
// plain string).
func values(m map[string]string) map[string]Values {
	out := make(map[string]Values, len(m))
	for k, v := range m {
		out[k] = Values{v}
	}
	return out
}
