package run

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/internal/cli"
	"github.com/preview-access/preview-access/internal/explain"
	"github.com/preview-access/preview-access/internal/opasetup"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/terraform"
)

func runBootstrap(env Env, u *ui, args []string) error {
	fs := cli.New("bootstrap", cli.BootstrapHelp)
	account := fs.String("account-id", "ACCOUNT_ID", "AWS account id (12 digits; required)", "")
	repo := fs.String("repo", "OWNER/REPO", "repository (required)", "")
	repoID := fs.String("repository-id", "ID", "numeric repository id; pins the provisioner's trust (recommended)", "")
	region := fs.String("region", "REGION", "a region of the account's partition (cn-…, us-gov-…); default the aws partition", "")
	branch := fs.String("default-branch", "BRANCH", "the repository's default branch", bootstrap.DefaultBranch)
	workflow := fs.String("workflow-file", "PATH", "the trusted workflow's path", bootstrap.DefaultWorkflowFile)
	boundary := fs.String("boundary-name", "NAME", "name of the permissions boundary policy (default preview-access-boundary-OWNER.REPO)", "")
	role := fs.String("provisioner-role-name", "NAME", "name of the provisioner role (default preview-access-OWNER.REPO)", "")
	managed := fs.String("allowed-managed-policy-arns", "ARNS", "comma-separated managed policy ARNs the provisioner may attach", "")
	resources := fs.String("preview-resources", "ARNS", "comma-separated ARNs previews may touch, each naming "+bootstrap.PullRequestVariable+" (default: the PR's prefix of the default template's bucket)", "")
	shared := fs.String("shared-preview-resources", "ARNS", "comma-separated ARNs every PR of the repository may touch (the boundary cannot keep PRs apart there)", "")
	noProvider := fs.Bool("no-oidc-provider", "leave the OIDC provider out (the account already has one)", false)
	audience := fs.String("audience", "AUD", "the aud the provisioner's trust requires and the provider's client id (the action's audience input)", policy.DefaultAudience)
	subject := fs.String("subject-template", "TEMPLATE", "the action's subject-template, for a repository with a customised OIDC sub claim (ends in pull_request; {owner}, {repo}, {repository_id})", "")
	format := fs.String("format", "cloudformation|terraform|json|opa", "output format (opa: the OPA admin's setup script)", "cloudformation")
	hosts := fs.String("preview-host", "PATTERNS", "with --format opa: comma-separated host patterns the repository's previews may claim, e.g. 'pr-*.shop.preview.example.com'", "")
	if err := fs.Parse(args, env.Stdout); err != nil {
		return err
	}
	var id int64
	if *repoID != "" {
		n, err := strconv.ParseInt(*repoID, 10, 64)
		if err != nil || n <= 0 {
			return cli.Usagef("bootstrap", "--repository-id %q is not a positive number", *repoID)
		}
		id = n
	}
	owner, name, ok := strings.Cut(*repo, "/")
	if !ok {
		return fmt.Errorf("%w: --repo OWNER/REPO is required", errUsage)
	}
	create := *noProvider != "true"
	o := bootstrap.Options{
		AccountID: *account, Region: *region, Owner: owner, Repo: name, RepositoryID: id,
		DefaultBranch: *branch, WorkflowFile: *workflow, BoundaryName: *boundary, ProvisionerRoleName: *role,
		AllowedManagedPolicyARNs: splitComma(*managed), PreviewResources: splitComma(*resources), SharedPreviewResources: splitComma(*shared),
		CreateOIDCProvider: &create, Audience: *audience, SubjectTemplate: *subject,
	}
	if err := o.Validate(); err != nil {
		return err
	}
	var out []byte
	var err error
	switch *format {
	case "cloudformation":
		out, err = bootstrap.CloudFormation(o)
	case "terraform":
		out, err = terraform.Render(o)
	case "json":
		out, err = bootstrap.JSON(o)
	case "opa":
		out, err = opasetup.Script(o, splitComma(*hosts))
	default:
		return fmt.Errorf("%w: --format must be cloudformation, terraform, json or opa", errUsage)
	}
	if err != nil {
		return err
	}
	for _, n := range o.Notes() {
		u.Warning("%s", n)
	}
	_, err = env.Stdout.Write(out)
	return err
}

func runExplain(env Env, u *ui, args []string) error {
	f := newFlagSet("explain")
	claimsFile := f.String("claims", "FILE", "the token's claims as JSON (or the token endpoint's {\"value\": JWT})", "")
	token := f.String("token", "JWT", "a GitHub OIDC token (decoded offline, never sent)", "")
	trustFile := f.String("trust-policy", "FILE", "a trust policy to check instead of rendering the PR's", "")
	if err := f.Parse(args, env.Stdout); err != nil {
		return err
	}

	var claims explain.Claims
	var err error
	switch {
	case *claimsFile != "" && *token != "":
		return fmt.Errorf("%w: give --claims or --token, not both", errUsage)
	case *claimsFile != "":
		data, rerr := env.ReadFile(*claimsFile)
		if rerr != nil {
			return fmt.Errorf("read claims: %w", rerr)
		}
		claims, err = explain.ParseClaimsJSON(data)
	case *token != "":
		u.mask(*token)
		claims, err = explain.DecodeJWT(*token)
	default:
		return fmt.Errorf("%w: explain needs --claims FILE or --token JWT", errUsage)
	}
	if err != nil {
		return err
	}

	var trust []byte
	if *trustFile != "" {
		if trust, err = env.ReadFile(*trustFile); err != nil {
			return fmt.Errorf("read trust policy: %w", err)
		}
	} else {
		if trust, err = renderTrust(env, f); err != nil {
			return err
		}
	}
	res, err := explain.Evaluate(trust, claims)
	if err != nil {
		return err
	}
	if err := res.Write(env.Stdout); err != nil {
		return err
	}
	if !res.Admitted {
		return errors.New("the trust policy does not admit this token (see the verdict above)")
	}
	return nil
}

// renderTrust renders the trust policy the PR's role has, from the same
// inputs as plan: explain checks exactly what up would write.
func renderTrust(env Env, f *cliFlags) ([]byte, error) {
	if *f.repo == "" {
		return nil, fmt.Errorf("%w: --repo OWNER/REPO is required (or --trust-policy FILE)", errUsage)
	}
	lookup := lookupFor(env, f)
	p, err := f.flagPreview(lookup)
	switch {
	case err != nil:
		return nil, err
	case p.RepositoryID == 0:
		return nil, fmt.Errorf("%w: --repository-id is required (the trust policy pins it)", errUsage)
	case p.Number == 0:
		return nil, fmt.Errorf("%w: --pr N is required", errUsage)
	}
	return explain.RenderTrust(lookup, p, env.Now())
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
