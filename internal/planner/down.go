package planner

import (
	"slices"
	"strconv"

	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/report"
)

// Down plans a preview's teardown, in the order that keeps the role's
// existence the record of a teardown not yet finished:
//
//  1. the role's permissions (inline policy, managed attachments) and the
//     gateway's document, side by side: access ends here;
//  2. the GitHub records (deployments inactive, the comment saying access
//     was revoked), once both are gone;
//  3. the role itself, last, and only when every resource was read: a
//     teardown that could not read or update GitHub or the gateway leaves
//     a role with no permissions, which sweep finds and finishes, without
//     reading GitHub for previews whose role is gone;
//  4. the PR's protected environment after the role (while the role's
//     trust names it, it must stay protected), and the environment GitHub
//     made for the deployments after they are inactive.
//
// A resource that could not be read (o.Unread) is left as it is, and the
// role with it. A role that is not the tool's is refused before any write.
func Down(d Desired, o Observed) (Result, error) {
	var b builder
	revoke, err := b.planRevoke(d, o)
	if err != nil {
		return Result{}, err
	}
	if g := d.Gateway; g != nil && o.Unread[UnreadGateway] == nil {
		if o.Gateway.Found {
			b.add(plan.Change{ID: idDocument, Resource: "gateway-policy", Name: g.ID, Action: plan.Delete, Detail: "gateway " + g.Kind,
				Op: DeleteDocument{ID: g.ID, Kind: g.Kind}})
			revoke = append(revoke, idDocument)
		} else {
			b.add(plan.Change{Resource: "gateway-policy", Name: g.ID, Action: plan.NoOp, Detail: "already gone"})
		}
	}
	if dep := d.Deployment; dep != nil && o.Unread[UnreadDeployment] == nil {
		if active := activeIDs(o.Deployments); len(active) > 0 {
			b.add(plan.Change{ID: idDeactivate, Resource: "github-deployment", Name: dep.Environment, Action: plan.Update, Detail: "status inactive", After: revoke,
				Op: DeactivateDeployments{IDs: active}})
		}
	}
	if d.Comment != nil && o.Unread[UnreadComment] == nil {
		// Nothing was ever announced: a teardown does not start a thread.
		// Something could not be read: the comment must not say
		// everything was removed.
		// One that says so already keeps its reason and time: a re-run
		// after a partial teardown does not rewrite it.
		revoked := len(o.Comments) > 0 && report.State(o.Comments[0].Body) == report.RevokedState
		write := len(o.Comments) > 0 && len(o.Unread) == 0 && !revoked
		rv := revocation(d.Comment.Revocation, d.Gateway != nil, o)
		b.planComment(d, o, revoke, write, func(plan.Plan) string {
			return report.DownComment(d.Comment.Preview, rv)
		})
		if revoked {
			b.add(plan.Change{Resource: "github-comment", Name: "#" + strconv.Itoa(d.Comment.Number), Action: plan.NoOp, Detail: "says access was revoked"})
		}
	}
	records := b.writes()
	deleted := b.planRoleDelete(d, o, records)
	b.planEnvironmentsDown(d, o, deleted)
	return b.result("down"), nil
}

// planRoleDelete plans DeleteRole after every other teardown change, when
// everything was read; it returns the change's ID ("" when the role stays
// or is gone already).
func (b *builder) planRoleDelete(d Desired, o Observed, after []string) string {
	name := d.Role.Name
	switch {
	case !o.Role.Exists:
		b.add(plan.Change{Resource: "iam-role", Name: name, Action: plan.NoOp, Detail: "already gone"})
		return ""
	case len(o.Unread) > 0:
		b.warn("role %s keeps existing, with no permissions, until a teardown can read everything it removes: a re-run of down or the next sweep finishes it", name)
		return ""
	}
	b.add(plan.Change{ID: idDelete, Resource: "iam-role", Name: name, Action: plan.Delete, Detail: "role and its trust", After: slices.Clone(after),
		Op: DeleteRole{Name: name}})
	return idDelete
}

func (b *builder) planEnvironmentsDown(d Desired, o Observed, roleDeleted string) {
	if d.Environment != "" && o.Unread[UnreadEnvironment] == nil && o.Environment.Exists && (roleDeleted != "" || !o.Role.Exists) {
		b.add(plan.Change{ID: idEnvironment, Resource: "github-environment", Name: d.Environment, Action: plan.Delete, After: nonEmpty(roleDeleted),
			Op: DeleteEnvironment{Name: d.Environment}})
	}
	if o.TransientNote != "" {
		b.notice("%s", o.TransientNote)
	}
	if d.TransientEnvironment != "" && o.TransientEnvironment.Exists {
		b.add(plan.Change{ID: idTransientEnv, Resource: "github-environment", Name: d.TransientEnvironment, Action: plan.Delete, Detail: "made by GitHub for the deployments",
			After: nonEmpty(b.idIf(idDeactivate)), Op: DeleteEnvironment{Name: d.TransientEnvironment, Optional: true}})
	}
}

// idIf is id when the plan holds that change, else "".
func (b *builder) idIf(id string) string {
	for _, c := range b.changes {
		if c.ID == id {
			return id
		}
	}
	return ""
}

// revocation completes what the teardown comment says with who lost
// access: the subjects of the gateway document observed before it goes.
func revocation(r report.Revocation, gateway bool, o Observed) report.Revocation {
	if !gateway || o.Unread[UnreadGateway] != nil || (o.Gateway.Found && !o.Gateway.AccessKnown) {
		return r
	}
	r.Known = true
	r.Lost = o.Gateway.Access
	return r
}
