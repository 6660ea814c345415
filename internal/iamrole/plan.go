package iamrole

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/policy"
)

// Step is one planned change and the call that makes it. Steps of one
// phase are independent and run concurrently; a phase starts when the one
// before it has succeeded.
type Step struct {
	Change plan.Change
	Phase  int
	Do     func(ctx context.Context, api API) error
}

// Changes lists the plan entries of steps.
func Changes(steps []Step) []plan.Change {
	out := make([]plan.Change, 0, len(steps))
	for _, s := range steps {
		out = append(out, s.Change)
	}
	return out
}

// ErrRaced means another run created the role between Observe and Apply:
// observe again and re-plan.
var ErrRaced = errors.New("the role was created by another run meanwhile")

// PlanUp computes the steps that converge o to d. It is pure: it only
// builds closures. warnings are things left alone that a user should know.
func PlanUp(d Desired, o Observed, now time.Time) (steps []Step, warnings []string, err error) {
	name := d.Name
	if !o.Exists {
		in := &iam.CreateRoleInput{
			RoleName:                 aws.String(name),
			Path:                     aws.String(d.Path),
			Description:              aws.String(d.Description),
			AssumeRolePolicyDocument: aws.String(string(d.Trust)),
			MaxSessionDuration:       aws.Int32(d.MaxSession),
			Tags:                     tagList(d.Tags),
		}
		detail := fmt.Sprintf("path %s, %d tags, max session %ds", d.Path, len(d.Tags), d.MaxSession)
		if d.Boundary != "" {
			in.PermissionsBoundary = aws.String(d.Boundary)
			detail += ", boundary " + lastSegment(d.Boundary)
		} else {
			detail += ", no boundary"
		}
		steps = append(steps, Step{
			Change: plan.Change{Resource: "iam-role", Name: name, Action: plan.Create, Detail: detail},
			Phase:  0,
			Do: func(ctx context.Context, api API) error {
				_, err := api.CreateRole(ctx, in)
				if IsAlreadyExists(err) {
					return fmt.Errorf("iam CreateRole %s: %w: %w", name, ErrRaced, err)
				}
				return wrap("CreateRole", err)
			},
		})
		steps = append(steps, putPolicy(name, d.Policy, plan.Create, "inline policy "+PolicyName, 1))
		for _, arn := range d.ManagedPolicies {
			steps = append(steps, attach(name, arn, 1))
		}
		return steps, nil, nil
	}

	if err := CheckOwnership(name, o, d.RepositoryID, d.PullRequest); err != nil {
		return nil, nil, err
	}
	if o.Path != d.Path {
		return nil, nil, fmt.Errorf("role %s exists under path %s, not %s: IAM cannot move a role; run down with the old role-path first", name, o.Path, d.Path)
	}

	// keyed orders the changes IAM authorises on the role's boundary
	// (iam:PermissionsBoundary: trust, UpdateRole, inline and managed
	// policies) after a boundary change: the provisioner policy refuses
	// them on a role that does not carry the boundary yet.
	keyed := 0
	switch {
	case d.Boundary != "" && o.Boundary != d.Boundary:
		keyed = 1
		b := d.Boundary
		action := plan.Update
		if o.Boundary == "" {
			action = plan.Create
		}
		steps = append(steps, Step{
			Change: plan.Change{Resource: "permissions-boundary", Name: name, Action: action, Detail: lastSegment(b)},
			Do: func(ctx context.Context, api API) error {
				_, err := api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(name), PermissionsBoundary: &b})
				return wrap("PutRolePermissionsBoundary", err)
			},
		})
	case d.Boundary == "" && o.Boundary != "":
		warnings = append(warnings, fmt.Sprintf("role %s keeps its permissions boundary %s: the action never removes a boundary", name, lastSegment(o.Boundary)))
	}
	if !policy.Equal(o.Trust, d.Trust) {
		doc := string(d.Trust)
		steps = append(steps, Step{
			Change: plan.Change{Resource: "trust-policy", Name: name, Action: plan.Update, Detail: "trust conditions differ"},
			Phase:  keyed,
			Do: func(ctx context.Context, api API) error {
				_, err := api.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name), PolicyDocument: &doc})
				return wrap("UpdateAssumeRolePolicy", err)
			},
		})
	}
	if o.MaxSession != d.MaxSession || o.Description != d.Description {
		var what []string
		if o.MaxSession != d.MaxSession {
			what = append(what, fmt.Sprintf("max session %ds → %ds", o.MaxSession, d.MaxSession))
		}
		if o.Description != d.Description {
			what = append(what, "description")
		}
		in := &iam.UpdateRoleInput{RoleName: aws.String(name), MaxSessionDuration: aws.Int32(d.MaxSession), Description: aws.String(d.Description)}
		steps = append(steps, Step{
			Change: plan.Change{Resource: "iam-role", Name: name, Action: plan.Update, Detail: strings.Join(what, ", ")},
			Phase:  keyed,
			Do: func(ctx context.Context, api API) error {
				_, err := api.UpdateRole(ctx, in)
				return wrap("UpdateRole", err)
			},
		})
	}
	set, remove := DiffTags(d.Tags, o.Tags)
	if len(set) > 0 {
		keys := slices.Sorted(maps.Keys(set))
		// The provisioner policy from bootstrap admits TagRole only when
		// the request restates the ownership tags, so they ride along.
		for _, k := range []string{naming.TagManagedBy, naming.TagRepository} {
			if v, ok := d.Tags[k]; ok {
				set[k] = v
			}
		}
		steps = append(steps, Step{
			Change: plan.Change{Resource: "tags", Name: name, Action: plan.Update, Detail: "set " + strings.Join(keys, ", ")},
			Do: func(ctx context.Context, api API) error {
				_, err := api.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(name), Tags: tagList(set)})
				return wrap("TagRole", err)
			},
		})
	}
	if len(remove) > 0 {
		steps = append(steps, Step{
			Change: plan.Change{Resource: "tags", Name: name, Action: plan.Delete, Detail: "remove " + strings.Join(remove, ", ")},
			Do: func(ctx context.Context, api API) error {
				_, err := api.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(name), TagKeys: remove})
				return wrap("UntagRole", err)
			},
		})
	}
	switch {
	case o.Policy == nil:
		steps = append(steps, putPolicy(name, d.Policy, plan.Create, "inline policy "+PolicyName, keyed))
	case !policy.Equal(o.Policy, d.Policy):
		steps = append(steps, putPolicy(name, d.Policy, plan.Update, "inline policy "+PolicyName+" differs", keyed))
	}
	for _, arn := range d.ManagedPolicies {
		if !slices.Contains(o.Managed, arn) {
			steps = append(steps, attach(name, arn, keyed))
		}
	}
	for _, arn := range o.Managed {
		if !slices.Contains(d.ManagedPolicies, arn) {
			steps = append(steps, detach(name, arn, keyed))
		}
	}
	for _, p := range o.OtherPolicies {
		warnings = append(warnings, fmt.Sprintf("role %s has an inline policy %q the action did not write; it was left alone, and teardown will stop on it", name, p))
	}
	if len(steps) == 0 {
		steps = append(steps, Step{Change: plan.Change{Resource: "iam-role", Name: name, Action: plan.NoOp, Detail: "up to date"}})
	}
	return steps, warnings, nil
}

// Teardown says which role a teardown may remove: where it must live, whose
// its tags must say it is, and which managed policies the tool attached.
type Teardown struct {
	Path         string
	RepositoryID string
	PullRequest  string
	// Managed are the managed policies the configuration attaches; others
	// found on the role were attached out of band.
	Managed []string
}

// Teardown is what a teardown of d's role must find: its path, its
// owner's tags, and the managed policies the tool attaches.
func (d Desired) Teardown() Teardown {
	return Teardown{Path: d.Path, RepositoryID: d.RepositoryID, PullRequest: d.PullRequest, Managed: d.ManagedPolicies}
}

// PlanDown computes the steps that remove the role. It refuses, before any
// write, a role that is not the tool's (its tags, or a path other than
// the one it must live under) or that carries attachments the tool never
// makes (other inline policies, instance profiles). Managed policies
// attached out of band are detached, so that revocation wins, and each is
// named in a warning.
func PlanDown(name string, o Observed, t Teardown) (steps []Step, warnings []string, err error) {
	if !o.Exists {
		return []Step{{Change: plan.Change{Resource: "iam-role", Name: name, Action: plan.NoOp, Detail: "already gone"}}}, nil, nil
	}
	if err := CheckOwnership(name, o, t.RepositoryID, t.PullRequest); err != nil {
		return nil, nil, err
	}
	if o.Path != t.Path {
		return nil, nil, &OwnershipError{name, fmt.Sprintf("it lives under path %s, not %s, where preview-access keeps this repository's roles", o.Path, t.Path)}
	}
	var foreign []string
	for _, p := range o.OtherPolicies {
		foreign = append(foreign, "inline policy "+p)
	}
	for _, ip := range o.InstanceProfiles {
		foreign = append(foreign, "instance profile "+ip)
	}
	if len(foreign) > 0 {
		return nil, nil, fmt.Errorf("role %s has attachments preview-access did not make (%s); nothing was removed: remove them by hand, then run down again", name, strings.Join(foreign, ", "))
	}
	for _, arn := range o.Managed {
		if !slices.Contains(t.Managed, arn) {
			warnings = append(warnings, fmt.Sprintf("role %s had the managed policy %s attached out of band (not in managed-policy-arns): it is detached so the role can be removed", name, arn))
		}
	}
	if o.Policy != nil {
		steps = append(steps, Step{
			Change: plan.Change{Resource: "inline-policy", Name: name, Action: plan.Delete, Detail: "inline policy " + PolicyName},
			Do: func(ctx context.Context, api API) error {
				_, err := api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(PolicyName)})
				return ignoreNotFound(wrap("DeleteRolePolicy", err))
			},
		})
	}
	for _, arn := range o.Managed {
		steps = append(steps, detach(name, arn, 0))
	}
	steps = append(steps, Step{
		Change: plan.Change{Resource: "iam-role", Name: name, Action: plan.Delete, Detail: "role and its trust"},
		Phase:  1,
		Do: func(ctx context.Context, api API) error {
			_, err := api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
			var conflict *types.DeleteConflictException
			if errors.As(err, &conflict) {
				return fmt.Errorf("iam DeleteRole %s: something was attached to the role meanwhile; run down again: %w", name, err)
			}
			return ignoreNotFound(wrap("DeleteRole", err))
		},
	})
	return steps, warnings, nil
}

func putPolicy(name string, doc []byte, action plan.Action, detail string, phase int) Step {
	d := string(doc)
	return Step{
		Change: plan.Change{Resource: "inline-policy", Name: name, Action: action, Detail: detail},
		Phase:  phase,
		Do: func(ctx context.Context, api API) error {
			_, err := api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(PolicyName), PolicyDocument: &d})
			return wrap("PutRolePolicy", err)
		},
	}
}

func attach(name, arn string, phase int) Step {
	return Step{
		Change: plan.Change{Resource: "managed-policy", Name: name, Action: plan.Create, Detail: "attach " + arn},
		Phase:  phase,
		Do: func(ctx context.Context, api API) error {
			_, err := api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)})
			return wrap("AttachRolePolicy", err)
		},
	}
}

func detach(name, arn string, phase int) Step {
	return Step{
		Change: plan.Change{Resource: "managed-policy", Name: name, Action: plan.Delete, Detail: "detach " + arn},
		Phase:  phase,
		Do: func(ctx context.Context, api API) error {
			_, err := api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)})
			return ignoreNotFound(wrap("DetachRolePolicy", err))
		},
	}
}

func ignoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}

// DiffTags returns the tags to set and the keys to remove so that actual
// matches desired. It is pure and sorted. Keys outside the tool's prefix
// that are not desired are someone else's and stay. The expiry only moves
// forward: an older run never shortens a preview's life.
func DiffTags(desired, actual map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range desired {
		if actual[k] == v {
			continue
		}
		if k == naming.TagExpiresAt {
			want, err1 := time.Parse(time.RFC3339, v)
			have, err2 := time.Parse(time.RFC3339, actual[k])
			if err1 == nil && err2 == nil && !want.After(have) {
				continue
			}
		}
		set[k] = v
	}
	for k := range actual {
		if _, ok := desired[k]; !ok && strings.HasPrefix(k, naming.TagPrefix) {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	return set, remove
}

func tagList(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func lastSegment(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// CallTimeout bounds each IAM call; the run's own deadline bounds them all.
const CallTimeout = 30 * time.Second

// Apply runs the steps phase by phase, the steps of a phase concurrently.
// It stops after the first phase with a failure and returns every error of
// that phase.
func Apply(ctx context.Context, api API, steps []Step) error {
	maxPhase := 0
	for _, s := range steps {
		maxPhase = max(maxPhase, s.Phase)
	}
	for phase := 0; phase <= maxPhase; phase++ {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, s := range steps {
			if s.Phase != phase || s.Do == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, CallTimeout)
				defer cancel()
				if err := s.Do(cctx, api); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return nil
}

// WaitUntilVisible waits until GetRole returns the role, at most maxWait,
// and reports how long that took. IAM is eventually consistent: a role
// just created may not be assumable for a few seconds.
func WaitUntilVisible(ctx context.Context, api iam.GetRoleAPIClient, name string, maxWait time.Duration) (time.Duration, error) {
	start := time.Now()
	w := iam.NewRoleExistsWaiter(api, func(o *iam.RoleExistsWaiterOptions) {
		o.MinDelay = 500 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	err := w.Wait(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}, maxWait)
	return time.Since(start), wrap("GetRole (waiting for the new role)", err)
}
