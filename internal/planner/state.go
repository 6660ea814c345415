// Package planner computes what a run changes, as data: from a preview's
// desired state and what was observed of it, Up and Down return a plan — an
// ordered list of changes, each with its resource, name, action, detail,
// dependencies and the operation that makes it (ops.go). The package does
// no I/O and knows no client: internal/observe fills Observed, and
// internal/apply, the one interpreter, carries a plan out.
//
// Up converges the role, its trust, inline and managed policies, tags and
// boundary, the PR's protected environment, the gateway's document and
// module, the deployment and the sticky comment. Down removes them in the
// order that keeps the role's existence the record of a teardown not yet
// finished: permissions first (inline policy, attachments), then the
// GitHub records and the gateway, the role last. A teardown that fails on
// GitHub leaves a role with no permissions, which the next sweep finds.
package planner

import (
	"github.com/preview-access/preview-access/internal/report"
)

// Role is the IAM role a preview should have.
type Role struct {
	Name        string
	Path        string
	Description string
	Trust       []byte
	Policy      []byte   // the inline policy PolicyName
	Managed     []string // managed policy ARNs to attach
	Boundary    string   // "" = none
	MaxSession  int32
	Tags        map[string]string // ours and the extra tags
	// RepositoryID and PullRequest are what the role's ownership tags must
	// say for the tool to touch it.
	RepositoryID string
	PullRequest  string
}

// Desired is everything one preview should have (Up) or had (Down, which
// needs the names only). A nil part is not managed by this run.
type Desired struct {
	Role        Role
	WaitForRole bool // after CreateRole, wait until IAM returns the role
	// Environment is the PR's protected environment (trust-scope
	// environment), admitting only Ref's runs; "" with trust-scope ref.
	Environment string
	Ref         string // refs/pull/N/merge
	// TransientEnvironment is, with trust-scope ref, the environment
	// GitHub makes for the PR's deployments: Down deletes it, and a token
	// that may not is told so (a notice, not a failure).
	TransientEnvironment string
	Deployment           *Deployment
	Comment              *Comment
	Gateway              *Gateway
}

// Deployment is the PR's GitHub deployment record.
type Deployment struct {
	Environment string
	SHA         string // "" when unknown: no deployment is created
	URL         string
}

// Comment is the PR's sticky comment.
type Comment struct {
	Number     int
	Marker     string
	Preview    report.Preview
	Revocation report.Revocation // Down's reason and who lost access
}

// Gateway is the preview's document at the gateway.
type Gateway struct {
	Kind     string // "opa", "webhook", "file"
	ID       string
	Document []byte // Up's document
	Module   bool   // the gateway decides with a module the action ships
}

// RoleState is the role as IAM reports it.
type RoleState struct {
	Exists           bool
	Path             string
	Description      string
	Trust            []byte // URL-decoded
	MaxSession       int32
	Boundary         string
	Tags             map[string]string
	Policy           []byte   // our inline policy, nil when absent
	OtherPolicies    []string // inline policies the tool did not write
	Managed          []string
	InstanceProfiles []string
}

// RoleQuota is the account's role count and quota ("Roles per account").
type RoleQuota struct {
	Read         bool // asked (not when planning without credentials)
	Roles, Quota int32
	Err          string // the read failed: the check only warns
}

// Environment is a GitHub environment as observed.
type Environment struct {
	Exists               bool
	ProtectedBranches    bool
	CustomBranchPolicies bool
	Policies             []BranchPolicy
}

// BranchPolicy is one deployment branch or tag policy.
type BranchPolicy struct {
	ID   int64
	Name string
	Type string // "branch" or "tag"
}

// AdmitsOnly reports whether the environment admits deployments from
// ref's runs and from no other: custom branch policies on, and exactly the
// one branch policy naming ref.
func (e Environment) AdmitsOnly(ref string) bool {
	return e.Exists && !e.ProtectedBranches && e.CustomBranchPolicies &&
		len(e.Policies) == 1 && e.Policies[0].Name == ref && e.Policies[0].Type == "branch"
}

// DeploymentDescription marks the deployments preview-access creates.
const DeploymentDescription = "preview-access"

// DeploymentState is one deployment of the PR's environment with its
// latest status.
type DeploymentState struct {
	ID          int64
	SHA         string
	Description string
	State       string // latest status ("success", "inactive", …); "" for none
	URL         string // latest status's environment URL
}

// CommentState is one comment that carries the marker.
type CommentState struct {
	ID   int64
	Body string
}

// GatewayState is the gateway's side of the preview.
type GatewayState struct {
	Found    bool
	Document []byte
	// Access lists the document's subjects and their roles, when
	// AccessKnown (the document parsed).
	Access      []report.Access
	AccessKnown bool
	// Module is the gateway's policy module, when the driver ships one.
	ModuleRead, ModuleExists, ModuleCurrent bool
}

// Observed is what the reads found. On teardown a read that failed does
// not stop the run: Unread names the resource ("github-comment",
// "github-deployment", "github-environment", "gateway-policy") and why,
// and the plan leaves it as it is.
type Observed struct {
	Role        RoleState
	Quota       RoleQuota
	Environment Environment
	// TransientEnvironment is the environment GitHub made for the
	// deployments (Down, trust-scope ref).
	TransientEnvironment Environment
	// TransientNote says why the transient environment could not be read
	// (it is left then, with a notice: nothing trusts it).
	TransientNote string
	Deployments   []DeploymentState // newest first
	// Comments are the marker's comments the token's own identity wrote,
	// oldest first; ForeignComments counts those anyone else wrote.
	Comments        []CommentState
	ForeignComments int
	Gateway         GatewayState
	Unread          map[string]error
}
