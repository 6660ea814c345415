package run

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/explain"
	"github.com/preview-access/preview-access/internal/opasetup"
	"github.com/preview-access/preview-access/templates"
)

const bootstrapHelp = `Print the one-time AWS setup for a repository: GitHub's OIDC provider, the
permissions boundary every preview role carries, and the provisioner role the
trusted workflow assumes. Deploy the CloudFormation output with
  aws cloudformation deploy --template-file preview-access.yaml \
      --stack-name preview-access --capabilities CAPABILITY_NAMED_IAM

Example:
  preview-access bootstrap --account-id 123456789012 --repo octo-org/shop --repository-id 123456789 > preview-access.yaml
`

func runBootstrap(env Env, u *ui, args []string) error {
	fs := newPlainFlagSet("bootstrap", bootstrapHelp, env)
	account := fs.String("account-id", "", "AWS account `id` (12 digits; required)")
	repo := fs.String("repo", "", "repository `OWNER/REPO` (required)")
	repoID := fs.Int64("repository-id", 0, "numeric repository `id`; pins the provisioner's trust (recommended)")
	region := fs.String("region", "", "a `region` of the account's partition (cn-…, us-gov-…); default aws partition")
	branch := fs.String("default-branch", bootstrap.DefaultBranch, "the repository's default `branch`")
	workflow := fs.String("workflow-file", bootstrap.DefaultWorkflowFile, "the trusted workflow's `path`")
	boundary := fs.String("boundary-name", "", "`name` of the permissions boundary policy (default preview-access-boundary-OWNER.REPO)")
	role := fs.String("provisioner-role-name", "", "`name` of the provisioner role (default preview-access-OWNER.REPO)")
	managed := fs.String("allowed-managed-policy-arns", "", "comma-separated managed policy `ARNs` the provisioner may attach")
	resources := fs.String("preview-resources", "", "comma-separated `ARNs` previews may touch, each naming "+bootstrap.PullRequestVariable+" (default: the PR's prefix of the default template's bucket)")
	shared := fs.String("shared-preview-resources", "", "comma-separated `ARNs` every PR of the repository may touch (the boundary cannot keep PRs apart there)")
	noProvider := fs.Bool("no-oidc-provider", false, "leave the OIDC provider out (the account already has one)")
	format := fs.String("format", "cloudformation", "output `format`: cloudformation, json, or opa (the OPA admin's setup script)")
	hosts := fs.String("preview-host", "", "with --format opa: comma-separated host `patterns` the repository's previews may claim, e.g. 'pr-*.shop.preview.example.com'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	owner, name, ok := strings.Cut(*repo, "/")
	if !ok {
		return fmt.Errorf("%w: --repo OWNER/REPO is required", errUsage)
	}
	create := !*noProvider
	o := bootstrap.Options{
		AccountID: *account, Region: *region, Owner: owner, Repo: name, RepositoryID: *repoID,
		DefaultBranch: *branch, WorkflowFile: *workflow, BoundaryName: *boundary, ProvisionerRoleName: *role,
		AllowedManagedPolicyARNs: splitComma(*managed), PreviewResources: splitComma(*resources), SharedPreviewResources: splitComma(*shared),
		CreateOIDCProvider: &create,
	}
	if err := o.Validate(); err != nil {
		return err
	}
	var out []byte
	var err error
	switch *format {
	case "cloudformation":
		out, err = bootstrap.CloudFormation(o)
	case "json":
		out, err = bootstrap.JSON(o)
	case "opa":
		out, err = opasetup.Script(o, splitComma(*hosts))
	default:
		return fmt.Errorf("%w: --format must be cloudformation, json or opa", errUsage)
	}
	if err != nil {
		return err
	}
	for _, n := range o.Notes() {
		u.warning("%s", n)
	}
	_, err = env.Stdout.Write(out)
	return err
}

const explainHelp = `Show, condition by condition, whether a GitHub OIDC token's claims satisfy a
pull request's trust policy, and which claim differs. The token is decoded
offline: it is never verified or sent anywhere.

Print a job's claims with a step such as
  curl -sH "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
    "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sts.amazonaws.com" | jq -r .value | cut -d. -f2 | base64 -d

Examples:
  preview-access explain --repo octo-org/shop --repository-id 123456789 --pr 42 --claims claims.json
  preview-access explain --trust-policy trust.json --token "$JWT"
`

func runExplain(env Env, u *ui, args []string) error {
	fs, f := newFlagSet("explain", env)
	claimsFile := fs.String("claims", "", "`file` with the token's claims as JSON (or the token endpoint's {\"value\": JWT})")
	token := fs.String("token", "", "a GitHub OIDC `JWT` (decoded offline, never sent)")
	trustFile := fs.String("trust-policy", "", "`file` with a trust policy to check instead of rendering the PR's")
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: preview-access explain [flags]\n\n%s\nFlags:\n", explainHelp)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })

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
	if f.repo == "" {
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
	cfg, err := config.Load(func(name string) string {
		v := lookup(name)
		if v == "" && name == "allow-missing-boundary" {
			return "true" // the boundary plays no part in the trust
		}
		if v == "" && name == "account-id" {
			return "123456789012" // only fills the provider ARN, which claims do not name
		}
		return v
	})
	if err != nil {
		return nil, err
	}
	tmpl, err := templates.FS.ReadFile(templates.DefaultPermissions)
	if err != nil {
		return nil, err
	}
	st, err := desired.Build(cfg, p, tmpl, env.Now())
	if err != nil {
		return nil, err
	}
	return st.Role.Trust, nil
}

func newPlainFlagSet(name, help string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("preview-access "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: preview-access %s [flags]\n\n%s\nFlags:\n", name, help)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
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
