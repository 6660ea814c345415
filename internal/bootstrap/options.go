// Package bootstrap renders the one-time AWS setup that preview-access needs
// in an account: GitHub's OIDC provider, the permissions boundary every
// preview role carries, and the provisioner role that the trusted
// (base-branch) workflow assumes to create and remove preview roles.
//
// Everything here is pure: options in, documents out. Nothing talks to AWS.
package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
)

// Names and values shared with the rest of preview-access. They are fixed by
// the design: the provisioner's policy is only as tight as these are stable.
const (
	// DefaultOIDCHost is GitHub's OIDC issuer host for github.com.
	DefaultOIDCHost = policy.GitHubOIDCHost
	// Audience is the aud that aws-actions/configure-aws-credentials requests.
	Audience = policy.DefaultAudience

	// DefaultBoundaryTemplate and DefaultProvisionerTemplate name the
	// boundary policy and provisioner role of one repository: both hold
	// the repository's path and resources, so two repositories in one
	// account need two of each. As in role names, "." never occurs in an
	// owner login, so octo-org/shop and octo/org-shop get names of their
	// own.
	DefaultBoundaryTemplate    = "preview-access-boundary-{owner}.{repo}"
	DefaultProvisionerTemplate = "preview-access-{owner}.{repo}"
	DefaultBranch              = "main"
	DefaultWorkflowFile        = ".github/workflows/preview-access.yml"

	// TagManagedBy and TagRepository are the two tags that make a role the
	// tool's own. Their values are the ownership proof, so the provisioner
	// may set them only to these values and never remove them.
	TagManagedBy   = naming.TagManagedBy
	TagRepository  = naming.TagRepository
	ManagedByValue = naming.ManagedByValue
	// TagPullRequest and TagRepositoryID bind a role to one pull request:
	// the boundary reads the first as a principal tag, so once set they
	// never change or go.
	TagPullRequest  = naming.TagPullRequest
	TagRepositoryID = naming.TagRepositoryID

	// PullRequestVariable is the policy variable holding a preview role's
	// pull request number: its own preview-access:pull-request tag, which
	// every session of the role carries as a principal tag. A role without
	// the tag matches no resource that names it.
	PullRequestVariable = "${aws:PrincipalTag/" + TagPullRequest + "}"
)

// Options describe one repository's setup in one account.
type Options struct {
	AccountID string // 12 digits
	// Partition is aws, aws-cn or aws-us-gov. Empty: derived from Region,
	// else aws.
	Partition string
	Region    string // optional, only used to derive Partition

	Owner, Repo string
	// RepositoryID pins the provisioner's trust to GitHub's numeric
	// repository id, which survives renames and cannot be taken over by a
	// look-alike repository created under a recycled name. 0 leaves it out
	// and Notes says so.
	RepositoryID int64

	DefaultBranch string // default "main"
	// WorkflowFile is the trusted workflow's path in the repository; the
	// provisioner trust pins job_workflow_ref to it on the default branch.
	// Default ".github/workflows/preview-access.yml".
	WorkflowFile string

	BoundaryName        string // default "preview-access-boundary-OWNER.REPO"
	ProvisionerRoleName string // default "preview-access-OWNER.REPO"

	// AllowedManagedPolicyARNs are the only managed policies the provisioner
	// may attach to preview roles. Empty: it may attach none.
	AllowedManagedPolicyARNs []string
	// PreviewResources are the ARNs preview roles may act on at all; the
	// boundary denies everything else. Every one but a bare S3 bucket must
	// name PullRequestVariable, so that a role reaches its own PR's
	// resources only, whatever its permissions template grants. Default:
	// what the default permissions template grants, the bucket
	// arn:P:s3:::ACCOUNT-previews (listing only the PR's prefix) and the
	// prefix OWNER/REPO/pr-N/ in it.
	PreviewResources []string
	// SharedPreviewResources are ARNs every PR of the repository may reach
	// (a shared table, say): the boundary cannot keep PRs apart there.
	SharedPreviewResources []string

	// CreateOIDCProvider adds GitHub's OIDC provider to the template. It is
	// a pointer so the zero Options mean the documented default (true);
	// set it to false when the account already has the provider, since an
	// account can hold only one per URL.
	CreateOIDCProvider *bool

	// OIDCHost is the issuer host; default token.actions.githubusercontent.com.
	OIDCHost string
	// Subjects overrides the sub values the provisioner trust admits, for
	// repositories with a customised or ID-based ("immutable") subject
	// format. Default: the two default-format subjects of a pull_request_target
	// run and of a schedule/workflow_dispatch run on the default branch, or
	// those SubjectTemplate renders.
	Subjects []string
	// SubjectTemplate is the action's subject-template input (the sub of
	// a pull request's jobs, ending in "pull_request"); the provisioner's
	// runs have the same sub under pull_request_target, and the same with
	// ref:refs/heads/BRANCH in place of pull_request on a schedule.
	SubjectTemplate string
	// Audience is the aud the trust requires and the provider's client id
	// (the action's audience input); default sts.amazonaws.com.
	Audience string
}

var (
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	policyNmRE  = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)
	roleNmRE    = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
	branchRE    = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,200}$`)
	workflowRE  = regexp.MustCompile(`^\.github/workflows/[A-Za-z0-9._-]+\.ya?ml$`)
	hostRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(/[A-Za-z0-9._-]+)*$`)
	managedARN  = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(aws|[0-9]{12}):policy/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,128}$`)
	resourceARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]*):([0-9]{12})?:(\S+)$`)
)

// Services whose resources a preview must never be granted: they are what
// the boundary exists to fence off.
var forbiddenServices = []string{"iam", "organizations", "sts", "account", "sso"}

// Resolved is o with every empty field set to its default: what the
// documents are rendered from.
func (o Options) Resolved() Options { return o.withDefaults() }

// withDefaults returns o with every empty field set to its default.
func (o Options) withDefaults() Options {
	if o.Partition == "" {
		o.Partition = config.PartitionOf(o.Region)
	}
	if o.DefaultBranch == "" {
		o.DefaultBranch = DefaultBranch
	}
	if o.WorkflowFile == "" {
		o.WorkflowFile = DefaultWorkflowFile
	}
	vars := naming.Vars{"owner": o.Owner, "repo": o.Repo}
	if o.BoundaryName == "" {
		// Policy names allow 128 characters; RoleName's 64 with a hash
		// suffix keeps long names unique and is short enough.
		o.BoundaryName = naming.RoleName(DefaultBoundaryTemplate, vars)
	}
	if o.ProvisionerRoleName == "" {
		o.ProvisionerRoleName = naming.RoleName(DefaultProvisionerTemplate, vars)
	}
	if o.OIDCHost == "" {
		o.OIDCHost = DefaultOIDCHost
	}
	if o.CreateOIDCProvider == nil {
		t := true
		o.CreateOIDCProvider = &t
	}
	if len(o.PreviewResources) == 0 {
		// The default permissions template (templates/permissions) gives
		// each PR the prefix {owner}/{repo}/pr-{number}/ of the account's
		// bucket {account_id}-previews; the boundary admits that prefix,
		// the PR's own by its tag, and the bucket itself (for ListBucket on
		// that prefix).
		bucket := "arn:" + o.Partition + ":s3:::" + o.AccountID + "-previews"
		o.PreviewResources = []string{
			bucket,
			bucket + "/" + o.Owner + "/" + o.Repo + "/pr-" + PullRequestVariable + "/*",
		}
	}
	if o.Audience == "" {
		o.Audience = Audience
	}
	if len(o.Subjects) == 0 {
		pr := "repo:" + o.Owner + "/" + o.Repo + ":pull_request"
		if o.SubjectTemplate != "" {
			pr = naming.Expand(o.SubjectTemplate, naming.Vars{
				"owner": o.Owner, "repo": o.Repo, "repository_id": strconv.FormatInt(o.RepositoryID, 10),
			})
		}
		o.Subjects = []string{pr, strings.TrimSuffix(pr, "pull_request") + "ref:refs/heads/" + o.DefaultBranch}
	}
	o.AllowedManagedPolicyARNs = preview.SortedUnique(o.AllowedManagedPolicyARNs)
	o.PreviewResources = preview.SortedUnique(o.PreviewResources)
	o.SharedPreviewResources = preview.SortedUnique(o.SharedPreviewResources)
	o.Subjects = preview.SortedUnique(o.Subjects)
	return o
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if t := o.SubjectTemplate; t != "" {
		if err := naming.CheckTemplate("subject-template", t, "owner", "repo", "repository_id"); err != nil {
			errs = append(errs, err)
		}
		if !strings.HasSuffix(t, "pull_request") || strings.ContainsAny(t, "*? ") {
			add("subject-template %q must be the exact sub of a pull request's jobs, ending in pull_request (the provisioner's schedule runs get ref:refs/heads/BRANCH in its place)", t)
		}
		if strings.Contains(t, "{repository_id}") && o.RepositoryID <= 0 {
			add("subject-template uses {repository_id}: give --repository-id")
		}
	}
	if a := o.Audience; a != "" && (len(a) > 255 || strings.ContainsAny(a, " *?${}")) {
		add("audience %q is not a plain audience (the OIDC provider's client id)", a)
	}
	if o.Region != "" && !regionRE.MatchString(o.Region) {
		add("region %q is not an AWS region name", o.Region)
	}
	d := o.withDefaults()

	if !accountRE.MatchString(d.AccountID) {
		add("account id %q must be 12 digits", d.AccountID)
	}
	partitionOK := true
	switch d.Partition {
	case "aws", "aws-cn", "aws-us-gov":
		if o.Region != "" && o.Partition != "" && config.PartitionOf(o.Region) != o.Partition {
			add("region %q is not in partition %q", o.Region, o.Partition)
		}
	default:
		partitionOK = false
		add("partition %q must be aws, aws-cn or aws-us-gov", d.Partition)
	}
	if !preview.ValidOwner(d.Owner) {
		add("repository owner %q is not a valid GitHub login", d.Owner)
	}
	if !preview.ValidRepo(d.Repo) {
		add("repository name %q is not a valid GitHub repository name", d.Repo)
	}
	if d.RepositoryID < 0 {
		add("repository id %d must be GitHub's positive numeric id (or 0 to leave it out)", d.RepositoryID)
	}
	if !validBranch(d.DefaultBranch) {
		add("default branch %q is not a plain branch name (no refs/ prefix, wildcards, spaces or '..')", d.DefaultBranch)
	}
	if !workflowRE.MatchString(d.WorkflowFile) {
		add("workflow file %q must be a .yml or .yaml file directly under .github/workflows/", d.WorkflowFile)
	}
	if !policyNmRE.MatchString(d.BoundaryName) {
		add("boundary name %q must be 1-128 of [A-Za-z0-9+=,.@_-]", d.BoundaryName)
	}
	if !roleNmRE.MatchString(d.ProvisionerRoleName) {
		add("provisioner role name %q must be 1-64 of [A-Za-z0-9+=,.@_-]", d.ProvisionerRoleName)
	}
	if !hostRE.MatchString(d.OIDCHost) {
		add("OIDC host %q is not a host name (without https://)", d.OIDCHost)
	}
	for _, a := range d.AllowedManagedPolicyARNs {
		m := managedARN.FindStringSubmatch(a)
		switch {
		case m == nil:
			add("allowed managed policy %q is not an IAM managed policy ARN (no wildcards)", a)
		case partitionOK && m[1] != d.Partition:
			add("allowed managed policy %q is not in partition %q", a, d.Partition)
		}
	}
	// Defaults derived from a bad owner or partition are not reported again.
	for _, r := range preview.SortedUnique(o.PreviewResources) {
		if err := checkResource("preview resource", r, d.Partition, partitionOK); err != nil {
			errs = append(errs, err)
		} else if !isBucket(r) && !strings.Contains(r, PullRequestVariable) {
			add("preview resource %q does not name the pull request: put %s in it (e.g. …/pr-%s/*) so each PR reaches only its own, or give it as a shared preview resource", r, PullRequestVariable, PullRequestVariable)
		}
	}
	for _, r := range d.SharedPreviewResources {
		if err := checkResource("shared preview resource", r, d.Partition, partitionOK); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range preview.SortedUnique(o.Subjects) {
		if !strings.HasPrefix(s, "repo:") || strings.ContainsAny(s, "*? \t\n") {
			add("subject %q must start with repo: and contain no wildcards or spaces", s)
		}
	}
	return errors.Join(errs...)
}

// checkResource reports what is wrong with a resource ARN the boundary
// would admit.
func checkResource(what, r, partition string, partitionOK bool) error {
	m := resourceARN.FindStringSubmatch(r)
	switch {
	case m == nil:
		return fmt.Errorf("%s %q is not an ARN of the form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE", what, r)
	case partitionOK && m[1] != partition:
		return fmt.Errorf("%s %q is not in partition %q", what, r, partition)
	case slices.Contains(forbiddenServices, m[2]):
		return fmt.Errorf("%s %q belongs to %s, which the boundary denies to previews (as %s)", what, r, m[2], strings.Join(forbiddenServices, ", "))
	case strings.HasPrefix(m[5], "*") || strings.Contains(m[3], "*"):
		return fmt.Errorf("%s %q must name a resource, not start with a wildcard", what, r)
	}
	return nil
}

// isBucket reports whether r is an S3 bucket's ARN (not an object's).
func isBucket(r string) bool {
	parts := strings.SplitN(r, ":", 6)
	return len(parts) == 6 && parts[2] == "s3" && !strings.Contains(parts[5], "/")
}

func validBranch(b string) bool {
	return branchRE.MatchString(b) && !strings.HasPrefix(b, "refs/") &&
		!strings.Contains(b, "..") && !strings.HasPrefix(b, "/") &&
		!strings.HasSuffix(b, "/") && !strings.HasSuffix(b, ".lock")
}

// Notes are the things a reader of the rendered setup must know, such as a
// protection left out because an option was not given. Sorted, stable.
func (o Options) Notes() []string {
	d := o.withDefaults()
	var n []string
	if d.RepositoryID == 0 {
		n = append(n, "repository id not given: the provisioner trust does not pin "+
			d.OIDCHost+":repository_id; pass the repository's numeric id (gh api repos/"+
			d.Owner+"/"+d.Repo+" --jq .id) so a deleted and re-created repository of the same name cannot assume it")
	}
	if !*d.CreateOIDCProvider {
		n = append(n, "OIDC provider not created: the account must already have "+d.OIDCProviderARN()+" with client id "+d.Audience)
	}
	if len(d.SharedPreviewResources) > 0 {
		n = append(n, "shared preview resources ("+strings.Join(d.SharedPreviewResources, ", ")+") are reachable by every pull request of the repository: the boundary keeps PRs apart only on the other preview resources")
	}
	if len(d.AllowedManagedPolicyARNs) == 0 {
		n = append(n, "no managed policies allowed: the provisioner may not attach any managed policy to preview roles")
	}
	n = append(n, "the provisioner trust admits only "+d.WorkflowFile+" running from refs/heads/"+d.DefaultBranch+
		" (pull_request_target, schedule, workflow_dispatch); pull requests against other base branches get no preview")
	slices.Sort(n)
	return n
}

// ARNs derived from the options. They are what the policies refer to and
// what the rest of preview-access must use.

// BoundaryARN is the permissions boundary's ARN.
func (o Options) BoundaryARN() string {
	d := o.withDefaults()
	return "arn:" + d.Partition + ":iam::" + d.AccountID + ":policy/" + d.BoundaryName
}

// ProvisionerRoleARN is the provisioner role's ARN.
func (o Options) ProvisionerRoleARN() string {
	d := o.withDefaults()
	return "arn:" + d.Partition + ":iam::" + d.AccountID + ":role/" + d.ProvisionerRoleName
}

// OIDCProviderARN is the ARN of GitHub's OIDC provider in the account.
func (o Options) OIDCProviderARN() string {
	d := o.withDefaults()
	return "arn:" + d.Partition + ":iam::" + d.AccountID + ":oidc-provider/" + d.OIDCHost
}

// StackName is the CloudFormation stack of this repository's setup: one
// per repository, so that bootstrapping a second one never replaces the
// first. Stack names allow letters, digits and '-', so the owner and
// repository are reduced to them, and a hash of the exact owner/repo keeps
// octo-org/shop and octo/org-shop apart.
func (o Options) StackName() string {
	clean := func(s string) string {
		return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(s), "-"), "-")
	}
	sum := sha256.Sum256([]byte(strings.ToLower(o.Owner + "/" + o.Repo)))
	name := "preview-access-" + clean(o.Owner) + "-" + clean(o.Repo)
	return name[:min(len(name), 110)] + "-" + hex.EncodeToString(sum[:4])
}

// PreviewRolePath is the IAM path of this repository's preview roles: the
// role-path input's default, rendered as the action renders it.
func (o Options) PreviewRolePath() string {
	return naming.Path(naming.DefaultPathTemplate, naming.NameVars(preview.Preview{Owner: o.Owner, Repo: o.Repo}))
}

// PreviewRoleARNPattern matches every preview role of this repository.
func (o Options) PreviewRoleARNPattern() string {
	d := o.withDefaults()
	return "arn:" + d.Partition + ":iam::" + d.AccountID + ":role" + d.PreviewRolePath() + "*"
}
