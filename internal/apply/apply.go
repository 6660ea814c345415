// Package apply carries out a plan: the one interpreter of the planner's
// operations, and the only code that writes to IAM, GitHub and the
// gateway. Changes run as soon as the changes they wait for (After) have
// succeeded, independent ones concurrently; a change whose dependency
// failed is not attempted.
package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/planner"
)

// IAM is the part of IAM applying writes (and GetRole, to wait for a new
// role); *iam.Client satisfies it.
type IAM interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateRole(context.Context, *iam.UpdateRoleInput, ...func(*iam.Options)) (*iam.UpdateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iam.UpdateAssumeRolePolicyInput, ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	PutRolePermissionsBoundary(context.Context, *iam.PutRolePermissionsBoundaryInput, ...func(*iam.Options)) (*iam.PutRolePermissionsBoundaryOutput, error)
	TagRole(context.Context, *iam.TagRoleInput, ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	UntagRole(context.Context, *iam.UntagRoleInput, ...func(*iam.Options)) (*iam.UntagRoleOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	DetachRolePolicy(context.Context, *iam.DetachRolePolicyInput, ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
	DeleteRole(context.Context, *iam.DeleteRoleInput, ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
}

var _ IAM = (*iam.Client)(nil)

// GitHub is what applying writes to GitHub; *ghapi.Client satisfies it.
type GitHub interface {
	EnsureEnvironment(ctx context.Context, owner, repo, env, ref string) (bool, error)
	DeleteEnvironment(ctx context.Context, owner, repo, env string) (bool, error)
	CreateDeployment(ctx context.Context, owner, repo, environment, ref string) (int64, error)
	SetDeploymentStatus(ctx context.Context, owner, repo string, id int64, state, url string) error
	Deactivate(ctx context.Context, owner, repo string, ids []int64) error
	WriteComment(ctx context.Context, owner, repo string, number int, existing *github.IssueComment, marker, body string) (bool, error)
	DeleteComment(ctx context.Context, owner, repo string, id int64) (bool, error)
}

var _ GitHub = (*ghapi.Client)(nil)

// Log is where applying says what it noticed: a change that is left with
// a reason rather than failed.
type Log interface {
	Info(format string, args ...any)
	Notice(format string, args ...any)
	Warning(format string, args ...any)
}

// Applier applies plans to one repository's preview. It remembers what it
// applied: a second Apply (a re-plan after a race) skips the changes
// whose IDs already succeeded, and finds the deployments they created.
type Applier struct {
	IAM         IAM
	GitHub      GitHub
	Gateway     gateway.Driver
	Owner, Repo string
	Log         Log
	// RoleWait bounds WaitForRole (default a minute).
	RoleWait time.Duration

	mu      sync.Mutex
	done    map[string]bool
	created map[string]int64 // deployments by the ID of the change that made them
}

// ErrRaced means another run created the role between observing and
// CreateRole: observe again, re-plan, and Apply the new plan.
var ErrRaced = errors.New("the role was created by another run meanwhile")

// Apply carries out p's changes in dependency order, independent ones at
// once, and returns every failure (a change not attempted because a
// dependency failed adds nothing: its cause is reported).
func (a *Applier) Apply(ctx context.Context, p plan.Plan) error {
	a.mu.Lock()
	if a.done == nil {
		a.done, a.created = map[string]bool{}, map[string]int64{}
	}
	a.mu.Unlock()
	finished := map[string]chan struct{}{}
	ok := map[string]bool{}
	var okMu sync.Mutex
	for _, c := range p.Changes {
		if c.ID != "" {
			finished[c.ID] = make(chan struct{})
		}
	}
	errs := make([]error, len(p.Changes)) // in plan order, not completion order
	var g group.Group
	for i, c := range p.Changes {
		if c.ID == "" {
			continue
		}
		g.Go(func() error {
			defer close(finished[c.ID])
			for _, dep := range c.After {
				if ch := finished[dep]; ch != nil {
					<-ch
				}
				okMu.Lock()
				depOK := ok[dep] || finished[dep] == nil
				okMu.Unlock()
				if !depOK {
					return nil
				}
			}
			if err := a.run(ctx, c); err != nil {
				errs[i] = err
				return nil
			}
			okMu.Lock()
			ok[c.ID] = true
			okMu.Unlock()
			return nil
		})
	}
	g.Wait()
	return errors.Join(errs...)
}

// run applies one change unless an earlier Apply did.
func (a *Applier) run(ctx context.Context, c plan.Change) error {
	a.mu.Lock()
	done := a.done[c.ID]
	a.mu.Unlock()
	if done || c.Op == nil {
		return nil
	}
	if err := a.do(ctx, c.ID, c.Op); err != nil {
		return err
	}
	a.mu.Lock()
	a.done[c.ID] = true
	a.mu.Unlock()
	return nil
}

// Done lists the IDs of the changes applied so far, sorted.
func (a *Applier) Done() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.done))
}

func (a *Applier) do(ctx context.Context, id string, op any) error {
	switch op := op.(type) {
	case planner.EnsureEnvironment, planner.DeleteEnvironment, planner.CreateDeployment, planner.SetDeploymentStatus,
		planner.DeactivateDeployments, planner.WriteComment, planner.DeleteComment:
		return a.github(ctx, id, op)
	case planner.PutDocument:
		return wrapGateway(a.Gateway.Put(ctx, op.ID, op.Document))
	case planner.DeleteDocument:
		return wrapGateway(a.Gateway.Delete(ctx, op.ID))
	case planner.InstallModule:
		return a.installModule(ctx, op)
	case planner.WaitForRole:
		return a.waitForRole(ctx, op.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, observe.CallTimeout)
	defer cancel()
	return a.iam(ctx, op)
}

func (a *Applier) github(ctx context.Context, id string, op any) error {
	gh, owner, repo := a.GitHub, a.Owner, a.Repo
	var err error
	switch op := op.(type) {
	case planner.EnsureEnvironment:
		_, err = gh.EnsureEnvironment(ctx, owner, repo, op.Name, op.Ref)
		if err != nil {
			err = fmt.Errorf("%w (nothing was created in AWS)", err)
		}
	case planner.DeleteEnvironment:
		_, err = gh.DeleteEnvironment(ctx, owner, repo, op.Name)
		var perm *ghapi.PermissionError
		if op.Optional && errors.As(err, &perm) {
			// Nothing trusts the environment: its staying is untidy, not
			// unsafe.
			a.Log.Notice("environment %s stays: deleting environments needs %s", op.Name, perm.Permission)
			return nil
		}
	case planner.CreateDeployment:
		var dep int64
		dep, err = gh.CreateDeployment(ctx, owner, repo, op.Environment, op.SHA)
		if err == nil {
			a.mu.Lock()
			a.created[id] = dep
			a.mu.Unlock()
		}
	case planner.SetDeploymentStatus:
		err = gh.SetDeploymentStatus(ctx, owner, repo, a.deploymentID(op), op.State, op.URL)
	case planner.DeactivateDeployments:
		err = gh.Deactivate(ctx, owner, repo, op.IDs)
	case planner.WriteComment:
		var existing *github.IssueComment
		if op.Existing != 0 {
			existing = &github.IssueComment{ID: github.Int64(op.Existing)}
		}
		_, err = gh.WriteComment(ctx, owner, repo, op.Number, existing, op.Marker, op.Body)
	case planner.DeleteComment:
		_, err = gh.DeleteComment(ctx, owner, repo, op.ID)
	}
	return err
}

// deploymentID is the deployment a status goes to: the one named, or the
// one this Applier created for the change op.Created.
func (a *Applier) deploymentID(op planner.SetDeploymentStatus) int64 {
	if op.ID != 0 {
		return op.ID
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.created[op.Created]
}

func (a *Applier) installModule(ctx context.Context, op planner.InstallModule) error {
	mk, ok := a.Gateway.(gateway.ModuleKeeper)
	if !ok {
		return errors.New("gateway: this driver has no policy module to install")
	}
	err := mk.InstallModule(ctx)
	switch {
	case errors.Is(err, gateway.ErrModuleManaged) && op.Exists:
		a.Log.Warning("the gateway runs another version of the preview_access module, and this token may not replace it: the OPA's admin installs this version's (preview-access bootstrap --format opa)")
		return nil
	case errors.Is(err, gateway.ErrModuleManaged):
		return fmt.Errorf("gateway: the OPA has no preview_access module, so it can decide nothing, and this token may not install it: the OPA's admin must (preview-access bootstrap --format opa): %w", err)
	}
	return wrapGateway(err)
}

func wrapGateway(err error) error {
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// waitForRole waits until GetRole returns the role: IAM is eventually
// consistent, and a role just created may not be assumable for a few
// seconds.
func (a *Applier) waitForRole(ctx context.Context, name string) error {
	wait := a.RoleWait
	if wait <= 0 {
		wait = time.Minute
	}
	start := time.Now()
	w := iam.NewRoleExistsWaiter(a.IAM, func(o *iam.RoleExistsWaiterOptions) {
		o.MinDelay = 500 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}, wait); err != nil {
		return fmt.Errorf("iam GetRole (waiting for the new role): %w", err)
	}
	a.Log.Info("role %s is visible in IAM (waited %s)", name, time.Since(start).Round(time.Millisecond))
	return nil
}

// IsAlreadyExists reports whether err is IAM's EntityAlreadyExists.
func IsAlreadyExists(err error) bool {
	var e *types.EntityAlreadyExistsException
	return errors.As(err, &e)
}
