// Package config turns the action's inputs (or the CLI's flags, which have
// the same names) into one validated Config. Every problem is reported at
// once, each naming its input and the fix, before anything is written.
package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/preview-access/preview-access/internal/cli"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/policy"
)

// Input is one action input. This table is the single source of truth:
// action.yml, the CLI flags and the README's inputs table are checked
// against it by tests.
type Input struct {
	Name        string
	Default     string
	Description string
}

// Inputs lists every input in the order action.yml and the README show them.
var Inputs = []Input{
	{"mode", "auto", "What to do: `auto` (from the event: closed → down, opened/reopened/synchronize/ready_for_review → up, schedule → sweep), `plan`, `up`, `down`, `sweep`, `await` (in the PR's deploy job: wait until the provisioner's deployment of the PR's head succeeded, and output `role-arn`; needs `account-id` and `deployments: read`, no AWS credentials), or `status` (every live preview of the repository, who has which gateway role and why, and what the next sweep removes, in the job summary and the `status` output; writes nothing)."},
	{"pr", "", "Pull request number, for `workflow_dispatch` runs and the CLI. Ignored when the event carries a pull request."},
	{"aws-region", "", "AWS region for the SDK (IAM is global; the region selects the partition). Defaults to `AWS_REGION`, then `us-east-1`."},
	{"account-id", "", "AWS account id of the roles. When empty it is read with `sts:GetCallerIdentity`. Lets `plan` run with no AWS credentials."},
	{"oidc-provider-arn", "", "ARN of the account's GitHub OIDC provider. Defaults to `arn:PARTITION:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com`."},
	{"audience", policy.DefaultAudience, "The `aud` claim the trust policy requires, as configure-aws-credentials' `audience` input requests it: change it only for an OIDC provider registered with another client id."},
	{"trust-scope", "ref", "How the trust policy binds the role to one PR: `ref` (sub `repo:OWNER/REPO:pull_request` and ref `refs/pull/N/merge`) or `environment` (sub `repo:OWNER/REPO:environment:ENV`, the environment claim and the same ref)."},
	{"environment-template", naming.DefaultEnvironmentTemplate, "Name of the PR's GitHub environment with `trust-scope: environment`. Placeholders: {number}, {owner}, {repo}, {repository_id}."},
	{"subject-template", "", "The exact OIDC `sub` claim, for repositories with a customised subject format. Default by trust-scope: `repo:{owner}/{repo}:pull_request` or `repo:{owner}/{repo}:environment:{environment}`. Placeholders: {owner}, {repo}, {owner_id}, {repository_id}, {environment}, {number}."},
	{"role-name-template", naming.DefaultRoleNameTemplate, "IAM role name. Placeholders: {owner}, {repo}, {number}, {repository_id}, {owner_id}. Reduced to IAM's alphabet and 64 characters (a long name is cut and gets a hash before its `-pr-N`)."},
	{"role-path", naming.DefaultPathTemplate, "IAM path of the roles; sweep lists this path. Placeholders as in role-name-template."},
	{"permissions-template", "", "Path in the repository of a JSON policy template for the role's inline policy, read from the default branch. Empty: the built-in template. Placeholders: {account_id}, {environment}, {head_sha}, {number}, {owner}, {owner_id}, {partition}, {region}, {repo}, {repository_id}, {role_name}, {role_path}."},
	{"managed-policy-arns", "", "Managed policy ARNs to attach to the role, separated by commas or newlines."},
	{"permissions-boundary", "", "ARN of the permissions boundary every preview role gets. Required unless allow-missing-boundary is true."},
	{"allow-missing-boundary", "false", "Create roles without a permissions boundary (prints a warning). Not recommended."},
	{"allow-iam-wildcards", "false", "Let the permission policy allow wildcard `iam:`/`sts:` actions. Off: such a policy fails the lint."},
	{"max-session-duration", "3600", "Maximum session duration of the role in seconds (3600–43200)."},
	{"ttl", "7d", "How long a preview lives without activity before sweep removes it (e.g. `36h`, `7d`; 1h–90d). Stored in the role's expiry tag."},
	{"tags", "", "Extra role tags, one `key=value` per line. Keys may not start with `aws:` or `preview-access:` (in any case), nor repeat a key in another case: IAM tag keys are case-insensitive."},
	{"trust-policy-size-limit", "2048", "The account's quota for trust policy length (IAM default 2048, at most 8192). Raise only after raising the quota in Service Quotas."},
	{"dry-run", "false", "Print the plan and rendered documents and write nothing (as mode `plan`)."},
	{"timeout", "5m", "Deadline for the whole run (e.g. `90s`, `5m`; 10s–1h)."},
	{"wait-for-role", "true", "After creating a role, wait until IAM returns it consistently, so the deploy job's first assume is unlikely to hit propagation delay."},
	{"github-token", "${{ github.token }}", "Token for the GitHub API (PR re-read, comment, deployment, access file). Environments need a token with repository administration rights (a GitHub App token). Empty: GitHub steps are skipped with a warning."},
	{"allow-forks", "false", "Provision previews for pull requests from forks."},
	{"comment", "true", "Keep one sticky PR comment with the role, environment, preview URL and access."},
	{"deployment", "true", "Record a GitHub deployment for the preview environment (`success` on up, `inactive` on down)."},
	{"preview-url", "", "URL of the preview, e.g. `https://pr-{number}.preview.example.com`. Placeholders: {number}, {owner}, {repo}, {repository_id}."},
	{"gateway", "none", "Where the preview's access policy goes: `none`, `opa`, `webhook` or `file`."},
	{"gateway-url", "", "Base URL of the gateway (OPA server or webhook receiver). https, or http only for localhost."},
	{"gateway-token", "", "Bearer token for the OPA API: required for an OPA that is not on this machine (on a shared OPA, the repository's own token, which the OPA's authorization policy confines to the repository's documents). Masked."},
	{"allow-unauthenticated-gateway", "false", "Unsafe: let `gateway: opa` talk to an OPA off this machine without `gateway-token`, where anyone who can reach it can grant themselves access. Only for an OPA that nobody else can reach."},
	{"gateway-secret", "", "HMAC secret that signs webhook requests. Masked."},
	{"gateway-file", "preview-access-policy.json", "Path the `file` gateway writes the policy document to."},
	{"access-file", ".github/preview-access.yml", "Path of the repository's access file (roles, users, teams), read from the default branch. At another path than the default, a missing file is an error; at the default path, a notice (the defaults apply). A file that cannot be read, or whose absence cannot be proven, always fails the run before anything is granted."},
	{"concurrency", "4", "How many previews sweep removes at once (1–32)."},
}

// Default returns the default of the named input.
func Default(name string) string {
	for _, in := range Inputs {
		if in.Name == name {
			return in.Default
		}
	}
	return ""
}

// Outputs lists every action output.
var Outputs = []Input{
	{"role-arn", "", "ARN of the PR's role (the deploy job's `role-to-assume`)."},
	{"role-name", "", "Name of the PR's role."},
	{"environment", "", "Name of the PR's GitHub environment (with trust-scope environment)."},
	{"preview-url", "", "The rendered preview URL."},
	{"gateway-policy", "", "The gateway policy document (JSON), or its path with the `file` gateway."},
	{"changed", "", "`true` when the run wrote anything."},
	{"plan", "", "The plan as JSON: mode and a list of resource, name, action, detail."},
	{"status", "", "With `mode: status`: every live preview as JSON (pull request, state, role, expiry, who has which gateway role and why, what the next sweep removes)."},
}

// Boolean reports whether the input is true or false (a CLI flag that
// needs no value).
func (in Input) Boolean() bool { return in.Default == "true" || in.Default == "false" }

// Value names the input's value in the CLI's help ("" for a boolean).
func (in Input) Value() string {
	if in.Boolean() {
		return ""
	}
	return flagValues[in.Name]
}

// flagValues name each non-boolean input's value for the CLI's help.
var flagValues = map[string]string{
	"mode": "MODE", "pr": "N", "aws-region": "REGION", "account-id": "ACCOUNT_ID",
	"oidc-provider-arn": "ARN", "audience": "AUD", "trust-scope": "ref|environment",
	"environment-template": "TEMPLATE", "subject-template": "TEMPLATE", "role-name-template": "TEMPLATE",
	"role-path": "PATH_TEMPLATE", "permissions-template": "FILE", "managed-policy-arns": "ARNS",
	"permissions-boundary": "ARN", "max-session-duration": "SECONDS", "ttl": "DURATION", "tags": "KEY=VALUE…",
	"trust-policy-size-limit": "CHARS", "timeout": "DURATION", "github-token": "TOKEN", "preview-url": "URL_TEMPLATE",
	"gateway": "none|opa|webhook|file", "gateway-url": "URL", "gateway-token": "TOKEN", "gateway-secret": "SECRET",
	"gateway-file": "FILE", "access-file": "FILE", "concurrency": "N",
}

// Commands are the CLI commands that take the input as a flag. mode is
// none's: the command is the mode.
func (in Input) Commands() []string {
	switch in.Name {
	case "mode":
		return nil
	case "concurrency":
		return []string{"sweep"}
	case "pr":
		return []string{"plan", "up", "down", "explain"}
	case "aws-region", "account-id":
		return []string{"plan", "up", "down", "sweep", "status", "explain"}
	case "oidc-provider-arn", "audience", "trust-scope", "environment-template", "subject-template":
		// What the trust is made of: explain renders it too.
		return []string{"plan", "up", "down", "sweep", "explain"}
	case "permissions-template", "permissions-boundary", "allow-missing-boundary", "allow-iam-wildcards",
		"max-session-duration", "ttl", "tags", "trust-policy-size-limit", "wait-for-role", "allow-forks", "access-file":
		// What up creates; teardown needs names only.
		return []string{"plan", "up"}
	case "preview-url", "comment", "deployment", "dry-run", "managed-policy-arns":
		// What changes something; status reads only.
		return []string{"plan", "up", "down", "sweep"}
	}
	return []string{"plan", "up", "down", "sweep", "status"}
}

// UnknownInputs names the INPUT_ variables of environ (KEY=VALUE) that are
// not inputs of the action (a misspelt with: key, which the runner passes
// on as it is), each with the closest input.
func UnknownInputs(environ []string) []string {
	known := make([]string, len(Inputs))
	for i, in := range Inputs {
		known[i] = in.Name
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, "INPUT_")
		if !ok || name == "" {
			continue
		}
		// The runner names input "a b-c" INPUT_A_B-C.
		name = strings.ToLower(strings.ReplaceAll(name, "_", " "))
		if slices.Contains(known, name) {
			continue
		}
		msg := fmt.Sprintf("input %q is not an input of preview-access and is ignored", name)
		if near := cli.Closest(name, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}
