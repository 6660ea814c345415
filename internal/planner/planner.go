package planner

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/report"
)

// Result is a plan and what planning found worth saying.
type Result struct {
	Plan plan.Plan
	// Warnings are things left alone that a user should know about;
	// Notices are informational.
	Warnings []string
	Notices  []string
}

// Creates reports whether the plan creates the role.
func (r Result) Creates() bool {
	c, ok := r.Plan.Change(idRole)
	return ok && c.Action == plan.Create
}

// Change IDs of the changes outside IAM.
const (
	idEnvironment   = "environment"
	idTransientEnv  = "transient-environment"
	idModule        = "gateway-module"
	idDocument      = "gateway-document"
	idDeployment    = "deployment"
	idStatus        = "deployment-status"
	idDeactivate    = "deactivate"
	idComment       = "comment"
	commentDupIDFmt = "comment-duplicate:%d"
)

// Unread keys: the resources a teardown may fail to read.
const (
	UnreadComment     = "github-comment"
	UnreadDeployment  = "github-deployment"
	UnreadEnvironment = "github-environment"
	UnreadGateway     = "gateway-policy"
)

// builder collects a plan's changes in apply order.
type builder struct {
	changes  []plan.Change
	warnings []string
	notices  []string
}

func (b *builder) add(c plan.Change) { b.changes = append(b.changes, c) }

func (b *builder) warn(format string, args ...any) {
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

func (b *builder) notice(format string, args ...any) {
	b.notices = append(b.notices, fmt.Sprintf(format, args...))
}

// iamResources are the resources of the role's changes.
var iamResources = []string{"iam-role", "inline-policy", "trust-policy", "permissions-boundary", "tags", "managed-policy"}

// count counts the changes of group ("iam": the role's).
func (b *builder) count(group string) int {
	n := 0
	for _, c := range b.changes {
		if group == "iam" && slices.Contains(iamResources, c.Resource) {
			n++
		}
	}
	return n
}

// writes are the IDs of the changes planned so far that write.
func (b *builder) writes() []string {
	var ids []string
	for _, c := range b.changes {
		if c.Action != plan.NoOp && c.ID != "" {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func (b *builder) result(mode string) Result {
	return Result{Plan: plan.Plan{Mode: mode, Changes: b.changes}, Warnings: b.warnings, Notices: b.notices}
}

// Up plans the changes that converge a preview to d from o: the PR's
// protected environment first (every other change waits for it: a trust
// that names an environment must find it protected), the role and the
// gateway side by side, and, once everything that grants access is in
// place, the records that announce it (deployment status, comment).
// Planning errors (a role that is not the tool's, a full account) come
// before any write.
func Up(d Desired, o Observed) (Result, error) {
	var b builder
	env := b.planEnvironmentUp(d, o)
	creates, err := b.planRoleUp(d, o, env)
	if err != nil {
		return Result{}, err
	}
	if creates {
		if err := b.checkQuota(o.Quota); err != nil {
			return Result{}, err
		}
	}
	b.planGatewayUp(d, o, env)
	grants := b.writes()
	b.planDeploymentUp(d, o, env, grants)
	// The comment waits for the grants, not for the deployment's status:
	// both announce the same thing, side by side.
	b.planComment(d, o, grants, true, func(others plan.Plan) string {
		return report.UpComment(d.Comment.Preview, others)
	})
	return b.result("up"), nil
}

func (b *builder) planEnvironmentUp(d Desired, o Observed) (after string) {
	if d.Environment == "" {
		return ""
	}
	if o.Environment.AdmitsOnly(d.Ref) {
		b.add(plan.Change{Resource: "github-environment", Name: d.Environment, Action: plan.NoOp, Detail: "admits only " + d.Ref})
		return ""
	}
	action := plan.Update
	if !o.Environment.Exists {
		action = plan.Create
	}
	b.add(plan.Change{ID: idEnvironment, Resource: "github-environment", Name: d.Environment, Action: action, Detail: "deployments only from " + d.Ref,
		Op: EnsureEnvironment{Name: d.Environment, Ref: d.Ref}})
	return idEnvironment
}

// planGatewayUp plans the gateway's module (when the driver ships one and
// it was read) and the preview's document.
func (b *builder) planGatewayUp(d Desired, o Observed, env string) {
	g := d.Gateway
	if g == nil {
		return
	}
	after := nonEmpty(env)
	if g.Module && o.Gateway.ModuleRead {
		const name = "preview_access"
		switch {
		case o.Gateway.ModuleCurrent:
			b.add(plan.Change{Resource: "gateway-module", Name: name, Action: plan.NoOp, Detail: "this version's"})
		case o.Gateway.ModuleExists:
			b.add(plan.Change{ID: idModule, Resource: "gateway-module", Name: name, Action: plan.Update, Detail: "another version is installed", After: after, Op: InstallModule{Exists: true}})
		default:
			b.add(plan.Change{ID: idModule, Resource: "gateway-module", Name: name, Action: plan.Create, Detail: "no module yet", After: after, Op: InstallModule{}})
		}
	}
	name := "gateway " + g.Kind
	put := PutDocument{ID: g.ID, Kind: g.Kind, Document: g.Document}
	switch {
	case !o.Gateway.Found:
		b.add(plan.Change{ID: idDocument, Resource: "gateway-policy", Name: g.ID, Action: plan.Create, Detail: name, After: after, Op: put})
	case !policy.SameJSON(o.Gateway.Document, g.Document):
		b.add(plan.Change{ID: idDocument, Resource: "gateway-policy", Name: g.ID, Action: plan.Update, Detail: name + ": document differs", After: after, Op: put})
	default:
		b.add(plan.Change{Resource: "gateway-policy", Name: g.ID, Action: plan.NoOp, Detail: "up to date"})
	}
}

// planDeploymentUp plans the PR's deployment record. A new head gets a
// new deployment, created beside IAM (a deployment without a status
// claims nothing), whose success status waits for every grant; older
// active deployments are made inactive then too.
func (b *builder) planDeploymentUp(d Desired, o Observed, env string, grants []string) {
	dep := d.Deployment
	if dep == nil {
		return
	}
	active := activeIDs(o.Deployments)
	var newest DeploymentState
	if len(o.Deployments) > 0 {
		newest = o.Deployments[0]
	}
	current := newest.current(dep.SHA, dep.URL)
	switch {
	case dep.SHA != "" && newest.SHA == dep.SHA && newest.State == "" && newest.Description == DeploymentDescription:
		// A run that failed after creating the deployment left it without
		// a status: it gets the status now, rather than a twin.
		b.add(plan.Change{ID: idStatus, Resource: "github-deployment", Name: dep.Environment, Action: plan.Update, Detail: "status success", After: grants,
			Op: SetDeploymentStatus{ID: newest.ID, State: "success", URL: dep.URL}})
		if len(active) > 1 {
			b.add(plan.Change{ID: idDeactivate, Resource: "github-deployment", Name: dep.Environment, Action: plan.Update, Hidden: true, After: grants,
				Op: DeactivateDeployments{IDs: active[1:]}})
		}
	case current && len(active) == 1:
		b.add(plan.Change{Resource: "github-deployment", Name: dep.Environment, Action: plan.NoOp, Detail: "success"})
	case current:
		b.add(plan.Change{ID: idDeactivate, Resource: "github-deployment", Name: dep.Environment, Action: plan.Update, Detail: "older deployments inactive", After: grants,
			Op: DeactivateDeployments{IDs: active[1:]}})
	case dep.SHA != "":
		b.add(plan.Change{ID: idDeployment, Resource: "github-deployment", Name: dep.Environment, Action: plan.Create, Detail: "status success", After: nonEmpty(env),
			Op: CreateDeployment{Environment: dep.Environment, SHA: dep.SHA}})
		b.add(plan.Change{ID: idStatus, Resource: "github-deployment", Name: dep.Environment, Action: plan.Create, Hidden: true, After: append(slices.Clone(grants), idDeployment),
			Op: SetDeploymentStatus{Created: idDeployment, State: "success", URL: dep.URL}})
		if len(active) > 0 {
			b.add(plan.Change{ID: idDeactivate, Resource: "github-deployment", Name: dep.Environment, Action: plan.Update, Hidden: true, After: grants,
				Op: DeactivateDeployments{IDs: active}})
		}
	}
}

// planComment plans the sticky comment: duplicates of it (a create that
// GitHub applied but answered 5xx) deleted, and the one comment written
// when what it says differs; body renders it from the plan of every
// other change; write false keeps the comment as it is (duplicates are
// still removed). Comments with the marker by anyone else are left alone.
func (b *builder) planComment(d Desired, o Observed, after []string, write bool, body func(others plan.Plan) string) {
	c := d.Comment
	if c == nil {
		return
	}
	if o.ForeignComments > 0 {
		b.notice("%d comment(s) on pull request %d carry preview-access's marker but were not written by this token's identity (another app or a person): left alone", o.ForeignComments, c.Number)
	}
	name := "#" + strconv.Itoa(c.Number)
	var existing *CommentState
	if len(o.Comments) > 0 {
		existing = &o.Comments[0]
	}
	others := plan.Plan{Changes: slices.Clone(b.changes)}
	for _, dup := range o.Comments[min(1, len(o.Comments)):] {
		b.add(plan.Change{ID: fmt.Sprintf(commentDupIDFmt, dup.ID), Resource: "github-comment", Name: name, Action: plan.Delete, Detail: "duplicate sticky comment " + strconv.FormatInt(dup.ID, 10), After: after,
			Op: DeleteComment{ID: dup.ID}})
	}
	if !write {
		return
	}
	want := body(others)
	switch {
	case existing != nil && report.Stable(existing.Body) == report.Stable(want):
		b.add(plan.Change{Resource: "github-comment", Name: name, Action: plan.NoOp, Detail: "up to date"})
	default:
		action, id := plan.Create, int64(0)
		if existing != nil {
			action, id = plan.Update, existing.ID
		}
		b.add(plan.Change{ID: idComment, Resource: "github-comment", Name: name, Action: action, Detail: "sticky comment", After: after,
			Op: WriteComment{Number: c.Number, Existing: id, Marker: c.Marker, Body: want}})
	}
}

// activeIDs are the deployments whose latest status is not inactive (one
// with no status yet counts as active).
func activeIDs(ds []DeploymentState) []int64 {
	var ids []int64
	for _, d := range ds {
		if d.State != "inactive" {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

func (d DeploymentState) current(sha, url string) bool {
	return d.SHA == sha && d.State == "success" && d.URL == url
}
