// Package observe does every read of a run in one place, concurrently: a
// preview's role, the account, the pull request, the repository's files,
// the GitHub records and the gateway's side (Preview), and what a sweep
// lists (List). What it returns is planner.Observed: the planner decides,
// observe only reads.
package observe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/planner"
)

// CallTimeout bounds each AWS call; the run's deadline bounds them all.
const CallTimeout = 30 * time.Second

// STS is the part of STS a run calls; *sts.Client satisfies it.
type STS interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var _ STS = (*sts.Client)(nil)

// GitHub is what observing reads from GitHub; *ghapi.Client satisfies it.
type GitHub interface {
	PullRequest(ctx context.Context, owner, repo string, number int) (*github.PullRequest, error)
	OpenPullRequests(ctx context.Context, owner, repo string) (map[int]*github.PullRequest, error)
	FileAtRef(ctx context.Context, owner, repo, path, ref string) ([]byte, bool, error)
	StickyComments(ctx context.Context, owner, repo string, number int, marker string) (own []*github.IssueComment, others int, err error)
	Deployments(ctx context.Context, owner, repo, environment string) ([]ghapi.DeploymentState, error)
	Environment(ctx context.Context, owner, repo, env string) (ghapi.EnvironmentState, error)
}

var _ GitHub = (*ghapi.Client)(nil)

// Clients are the readers; a nil one is not read (no AWS credentials when
// planning, no GitHub token, no gateway).
type Clients struct {
	IAM     IAM
	STS     STS
	GitHub  GitHub
	Gateway gateway.Driver
}

// Request says what to read of one preview; a zero field is not read.
type Request struct {
	Owner, Repo string
	Number      int
	// Teardown: a GitHub or gateway read that fails does not fail the
	// observation; Result.Unread names it, and the role's instance
	// profiles are read too.
	Teardown bool
	Role     string
	Account  bool // GetCallerIdentity
	Quota    bool // GetAccountSummary
	PR       bool // re-read the pull request (the race guard)
	// Files are paths of the repository's default branch to read.
	Files []string
	// Marker is the sticky comment's marker; "" reads no comments.
	Marker                string
	DeploymentEnvironment string
	Environment           string // the PR's protected environment
	TransientEnvironment  string // the environment GitHub made for the deployments
	GatewayID             string
	Module                bool // the gateway's policy module
}

// File is one repository file as read.
type File struct {
	Data  []byte
	Found bool
	Err   error
}

// Result is what Preview read.
type Result struct {
	planner.Observed
	Account string              // the credentials' account id
	PR      *github.PullRequest // the pull request as re-read
	Files   map[string]File
}

// Preview reads everything r asks for at once: one round trip of
// concurrent reads (more only where an API pages).
func Preview(ctx context.Context, c Clients, r Request) (Result, error) {
	o := &reader{c: c, r: r, res: Result{Files: map[string]File{}}}
	o.iam(ctx)
	o.github(ctx)
	o.gateway(ctx)
	err := o.g.Wait()
	return o.res, err
}

type reader struct {
	c   Clients
	r   Request
	g   group.Group
	mu  sync.Mutex // guards res.Unread and res.Files
	res Result
}

// aux runs a read whose failure, on teardown, only marks what as unread.
func (o *reader) aux(what string, f func() error) {
	o.g.Go(func() error {
		err := f()
		if err == nil || !o.r.Teardown {
			return err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.res.Unread == nil {
			o.res.Unread = map[string]error{}
		}
		o.res.Unread[what] = err
		return nil
	})
}

func (o *reader) iam(ctx context.Context) {
	if o.c.IAM == nil {
		return
	}
	if o.r.Account {
		// Always, even with account-id given: a role ARN that names
		// another account than the credentials' would be advertised for a
		// role that is never made.
		o.g.Go(func() error {
			ctx, cancel := context.WithTimeout(ctx, CallTimeout)
			defer cancel()
			out, err := o.c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return fmt.Errorf("sts GetCallerIdentity (the credentials' account is checked against account-id): %w", err)
			}
			o.res.Account = aws.ToString(out.Account)
			return nil
		})
	}
	if o.r.Quota {
		o.g.Go(func() error { o.res.Quota = Quota(ctx, o.c.IAM); return nil })
	}
	if o.r.Role != "" {
		o.g.Go(func() (err error) {
			o.res.Role, err = Role(ctx, o.c.IAM, o.r.Role, o.r.Teardown)
			return err
		})
	}
}

func (o *reader) github(ctx context.Context) {
	gh, r := o.c.GitHub, o.r
	if gh == nil {
		return
	}
	if r.PR {
		o.g.Go(func() (err error) {
			o.res.PR, err = gh.PullRequest(ctx, r.Owner, r.Repo, r.Number)
			return err
		})
	}
	for _, path := range r.Files {
		o.g.Go(func() error {
			data, found, err := gh.FileAtRef(ctx, r.Owner, r.Repo, path, "")
			o.mu.Lock()
			o.res.Files[path] = File{Data: data, Found: found, Err: err}
			o.mu.Unlock()
			return nil
		})
	}
	if r.Marker != "" {
		o.aux(planner.UnreadComment, func() error {
			own, others, err := gh.StickyComments(ctx, r.Owner, r.Repo, r.Number, r.Marker)
			for _, c := range own {
				o.res.Comments = append(o.res.Comments, planner.CommentState{ID: c.GetID(), Body: c.GetBody()})
			}
			o.res.ForeignComments = others
			return err
		})
	}
	if r.DeploymentEnvironment != "" {
		o.aux(planner.UnreadDeployment, func() error {
			ds, err := gh.Deployments(ctx, r.Owner, r.Repo, r.DeploymentEnvironment)
			for _, d := range ds {
				o.res.Deployments = append(o.res.Deployments, planner.DeploymentState{ID: d.ID, SHA: d.SHA, Description: d.Description, State: d.State, URL: d.URL})
			}
			return err
		})
	}
	if r.Environment != "" {
		o.aux(planner.UnreadEnvironment, func() error {
			st, err := gh.Environment(ctx, r.Owner, r.Repo, r.Environment)
			o.res.Environment = environment(st)
			return err
		})
	}
	if r.TransientEnvironment != "" {
		// Nothing trusts it: a failed read leaves it, with a notice.
		o.g.Go(func() error {
			st, err := gh.Environment(ctx, r.Owner, r.Repo, r.TransientEnvironment)
			var perm *ghapi.PermissionError
			switch {
			case errors.As(err, &perm):
				o.res.TransientNote = fmt.Sprintf("environment %s (which GitHub made for the preview's deployments) is left: the token cannot read it (%v)", r.TransientEnvironment, err)
			case err != nil:
				o.res.TransientNote = fmt.Sprintf("environment %s (which GitHub made for the preview's deployments) is left: %v", r.TransientEnvironment, err)
			default:
				o.res.TransientEnvironment = environment(st)
			}
			return nil
		})
	}
}

func environment(st ghapi.EnvironmentState) planner.Environment {
	e := planner.Environment{Exists: st.Exists, ProtectedBranches: st.ProtectedBranches, CustomBranchPolicies: st.CustomBranchPolicies}
	for _, p := range st.Policies {
		e.Policies = append(e.Policies, planner.BranchPolicy{ID: p.ID, Name: p.Name, Type: p.Type})
	}
	return e
}

func (o *reader) gateway(ctx context.Context) {
	gw, r := o.c.Gateway, o.r
	if gw == nil || r.GatewayID == "" {
		return
	}
	o.aux(planner.UnreadGateway, func() error {
		doc, found, err := gw.Get(ctx, r.GatewayID)
		if err != nil {
			return fmt.Errorf("read gateway policy: %w", err)
		}
		st := &o.res.Gateway
		st.Found, st.Document = found, doc
		if !found {
			st.AccessKnown = true
		} else if d, err := gateway.Unmarshal(doc); err == nil {
			st.AccessKnown = true
			st.Access = d.Access()
		}
		return nil
	})
	if mk, ok := gw.(gateway.ModuleKeeper); ok && r.Module {
		o.g.Go(func() error {
			exists, current, err := mk.Module(ctx)
			if err != nil {
				return fmt.Errorf("read the gateway's policy module: %w", err)
			}
			st := &o.res.Gateway
			st.ModuleRead, st.ModuleExists, st.ModuleCurrent = true, exists, current
			return nil
		})
	}
}
