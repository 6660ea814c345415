package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/access"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/iamrole"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/templates"
)

// stage orders the work that is not IAM's relative to the IAM steps.
type stage int

const (
	// beforeIAM: the GitHub environment must exist, protected, before a
	// trust policy names it.
	beforeIAM stage = iota
	// withIAM: independent of the role (the gateway policy).
	withIAM
	// afterIAM: reports that the preview is ready (or revoked), so they
	// run only when everything else succeeded.
	afterIAM
)

// task is one planned change outside IAM.
type task struct {
	change plan.Change
	stage  stage
	do     func(ctx context.Context) error
}

// session is one up or down of one preview.
type session struct {
	env    Env
	u      *ui
	cfg    config.Config
	p      preview.Preview
	mode   string
	output string

	iam  iamrole.API
	sts  STSAPI
	acct AccountAPI
	gh   GitHubAPI // nil: no token, GitHub steps skipped
	gw   gateway.Driver
	// prRead: this run read the PR from the API already (dispatch, CLI);
	// the race guard need not read it a second time.
	prRead bool

	tmpl    []byte
	acc     access.File
	state   desired.State
	gwDoc   []byte // desired gateway document; nil without a gateway
	steps   []iamrole.Step
	tasks   []task
	plan    plan.Plan
	offline bool // planning without AWS credentials
	// keepExpiry is the role's current expiry, when later than a fresh one.
	keepExpiry time.Time
	// reason says, on teardown, why access ends (report.Reason…).
	reason string
}

// observed is everything read before planning.
type observed struct {
	role    iamrole.Observed
	gwDoc   []byte
	gwFound bool
	// module is the gateway's policy module, for drivers that ship one.
	module  struct{ read, exists, current bool }
	comment *github.IssueComment // the sticky comment; nil when absent
	// duplicates are more comments of ours with the marker (a POST that
	// GitHub applied but answered 5xx): removed, so one comment remains.
	duplicates []*github.IssueComment
	// foreignComments counts marker comments by anyone else: left alone.
	foreignComments int
	// transientEnv is, on a teardown with trust-scope ref, the environment
	// GitHub made for the PR's deployments; leftEnvironment says why it
	// could not be read, when it could not.
	transientEnv    ghapi.EnvironmentState
	leftEnvironment string
	deploys         []ghapi.DeploymentState // newest first
	envState        ghapi.EnvironmentState
	// unread holds, on teardown, the reads that failed, by resource: those
	// resources are left out of the plan and the run ends unfinished.
	unread map[string]error
	pr     *preview.Preview // the PR as re-read right now (race guard)
	roles  roleQuota        // the account's role count, read on up
}

func (s *session) run(ctx context.Context) error {
	// Everything that can be checked without a call is checked first; the
	// account id only fills ARNs, so a stand-in one renders the same
	// problems.
	if err := s.loadRepoFiles(ctx); err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return err
	}
	if s.mode == config.ModeUp && s.cfg.PermissionsBoundary == "" {
		s.u.warning("no permissions boundary: preview roles are limited only by their own policy (set permissions-boundary; see preview-access bootstrap)")
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	obs, err := s.observe(ctx)
	if err != nil {
		return err
	}
	if obs.pr != nil && obs.pr.State == "closed" && s.mode == config.ModeUp {
		// Race guard: the PR closed while this run started. Nothing new is
		// created; whatever an earlier run made is taken down.
		s.mode = config.ModeDown
		s.reason = report.ReasonClosedMeanwhile
		s.u.notice("pull request %d was closed meanwhile: creating nothing, removing what exists", s.p.Number)
		if obs, err = s.observe(ctx); err != nil {
			return err
		}
	}
	// The expiry only moves forward (iamrole.DiffTags): the gateway
	// document and the comment carry the one the role keeps.
	if exp, ok := iamrole.Expiry(obs.role.Tags); ok && obs.role.Exists {
		s.keepExpiry = exp
	}
	if err := s.render(); err != nil {
		return err
	}
	if err := s.makePlan(obs); err != nil {
		return err
	}
	if err := s.printPlan(); err != nil {
		return err
	}
	var unread []error
	for _, what := range slices.Sorted(maps.Keys(obs.unread)) {
		unread = append(unread, fmt.Errorf("teardown could not read the %s, so it leaves it as it is (a re-run finishes): %w", what, obs.unread[what]))
	}
	if s.cfg.DryRun {
		for _, err := range unread {
			s.u.warning("%v", err)
		}
		s.printDocuments()
		return s.report(false, false)
	}
	if err := s.apply(ctx); err != nil {
		_ = s.report(true, false)
		return errors.Join(append([]error{err}, unread...)...)
	}
	if len(unread) > 0 {
		_ = s.report(true, false)
		for i, err := range unread {
			unread[i] = fmt.Errorf("the role is removed, but %w", err)
		}
		return errors.Join(unread...)
	}
	return s.report(true, true)
}

// loadRepoFiles reads the permission template and the access file. Under
// pull_request_target they come from the base branch through the API,
// never from the PR's head; the CLI without a token reads local files.
func (s *session) loadRepoFiles(ctx context.Context) error {
	s.tmpl, _ = templates.FS.ReadFile(templates.DefaultPermissions)
	s.acc = access.Default()
	if s.mode == config.ModeDown {
		// Teardown needs names only: a template or access file that was
		// since deleted or broken must not keep a role alive.
		return nil
	}
	// The two files are independent: read them at once.
	g := group.New(0)
	if s.cfg.PermissionsTemplate != "" {
		g.Go(func() error { return s.loadTemplate(ctx) })
	}
	if s.cfg.Gateway != "none" {
		g.Go(func() error { return s.loadAccessFile(ctx) })
	}
	return g.Wait()
}

func (s *session) loadTemplate(ctx context.Context) error {
	data, found, err := s.repoFile(ctx, s.cfg.PermissionsTemplate)
	switch {
	case err != nil:
		// Never the built-in template instead: one that cannot be read
		// may be narrower than the default.
		return githubInputError("permissions-template", "cannot read it, and the built-in template is not used in its place", err)
	case !found:
		return &config.InputError{Input: "permissions-template", What: fmt.Sprintf("%s does not exist on the default branch", s.cfg.PermissionsTemplate), Fix: "check the path; it is relative to the repository root, and is read from the default branch"}
	case len(data) > 64<<10:
		return &config.InputError{Input: "permissions-template", What: "the template is larger than 64 KiB", Fix: "IAM allows 10,240 characters of inline policy"}
	}
	s.tmpl = data
	return nil
}

// loadAccessFile reads the access file. Its absence must be proven (see
// ghapi.FileAtRef): a 404 from a token that cannot see the repository's
// contents would otherwise drop a file that narrows the defaults, and
// widen access.
func (s *session) loadAccessFile(ctx context.Context) error {
	data, found, err := s.repoFile(ctx, s.cfg.AccessFile)
	switch {
	case err != nil:
		return githubInputError("access-file", "cannot read it, so no access is granted (the defaults would grant more than a file may)", err)
	case !found && s.cfg.AccessFileExplicit:
		return &config.InputError{Input: "access-file", What: fmt.Sprintf("%s does not exist on the default branch", s.cfg.AccessFile), Fix: "check the path (relative to the repository root, read from the default branch), or leave access-file unset to use the defaults"}
	case !found:
		s.u.notice("no access file %s on the default branch: the defaults apply (the author is admin, reviewers and assignees are reader)", s.cfg.AccessFile)
		return nil
	}
	f, err := access.Parse(data)
	if err != nil {
		return fmt.Errorf("access file %s: %w", s.cfg.AccessFile, err)
	}
	s.acc = f
	return nil
}

// githubInputError names the input a failed GitHub read is about, unless
// the token itself is the cause: a rejected token (401) or a missing
// permission is github-token's problem, not the file's.
func githubInputError(input, what string, err error) error {
	var perm *ghapi.PermissionError
	switch {
	case errors.Is(err, ghapi.ErrUnauthorized):
		return &config.InputError{Input: "github-token", What: err.Error(), Fix: "pass a valid token (the workflow's GITHUB_TOKEN, or a GitHub App token)"}
	case errors.As(err, &perm):
		return &config.InputError{Input: "github-token", What: err.Error(), Fix: "grant the permission in the workflow's permissions: block, or to the App"}
	case errors.Is(err, ghapi.ErrRateLimited):
		return fmt.Errorf("%s: %w", input, err)
	}
	return &config.InputError{Input: input, What: what + ": " + err.Error()}
}

// repoFile reads a file of the repository from its default branch through
// the API: the branch the provisioner's own trust is pinned to. Never the
// PR's base branch (a PR author can open a PR against a branch they
// pushed, with their own access file) and never the workspace of a run
// (it may hold the PR's code). Only the CLI outside Actions, without a
// token, reads the local working copy.
func (s *session) repoFile(ctx context.Context, path string) ([]byte, bool, error) {
	if s.gh != nil {
		return s.gh.FileAtRef(ctx, s.p.Owner, s.p.Repo, path, "")
	}
	if s.u.actions {
		return nil, false, errors.New("reading it from the default branch needs a GitHub token (github-token)")
	}
	data, err := s.env.ReadFile(path)
	if err != nil {
		if errors.Is(err, errNotExist) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return data, true, nil
}

// validate renders everything with a stand-in account id when the real one
// is not known yet, so every problem is reported before any call.
func (s *session) validate() error {
	var boundary error
	if s.mode == config.ModeUp {
		boundary = s.cfg.CheckBoundary()
	}
	probe := *s
	if probe.cfg.AccountID == "" {
		probe.cfg.AccountID = "123456789012"
	}
	return errors.Join(boundary, probe.render())
}

// render builds the desired state: role, documents, gateway policy.
func (s *session) render() error {
	st, err := desired.Build(s.cfg, s.p, s.tmpl, s.env.Now())
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if s.keepExpiry.After(st.ExpiresAt) {
		st.ExpiresAt = s.keepExpiry
		st.Role.Tags[naming.TagExpiresAt] = iamrole.FormatExpiry(s.keepExpiry)
	}
	s.state = st
	s.gwDoc = nil
	if s.cfg.Gateway != "none" {
		doc, gerr := gateway.Build(s.p, s.acc, gateway.BuildOptions{PreviewURL: st.PreviewURL, ExpiresAt: st.ExpiresAt})
		if gerr != nil {
			errs = append(errs, fmt.Errorf("gateway policy: %w", gerr))
		} else if s.gwDoc, gerr = gateway.Marshal(doc); gerr != nil {
			errs = append(errs, gerr)
		}
	}
	return errors.Join(errs...)
}

// connect builds the AWS, GitHub and gateway clients. In plan mode missing
// AWS credentials are not an error: the plan is computed against an empty
// account.
func (s *session) connect(ctx context.Context) error {
	if s.cfg.Gateway != "none" {
		gc := s.cfg.GatewayConfig()
		gc.HTTPClient = s.env.HTTPClient
		gc.Repository, gc.RepositoryID = s.p.FullName(), s.p.RepositoryID
		d, err := gateway.New(gc)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		s.gw = d
	}
	if s.cfg.Offline {
		s.offline = true
		return nil
	}
	awsCfg, err := s.env.LoadAWS(ctx, s.cfg.Region)
	if err == nil {
		_, err = awsCfg.Credentials.Retrieve(ctx)
	}
	if err != nil {
		if s.cfg.DryRun && s.cfg.AccountID != "" {
			s.offline = true
			s.u.warning("no AWS credentials: the plan assumes no role exists yet (%v)", firstLine(err))
			return nil
		}
		if s.cfg.DryRun {
			return &config.InputError{Input: "account-id", What: "planning without AWS credentials needs the account id", Fix: "set account-id, or provide credentials"}
		}
		return fmt.Errorf("load AWS credentials: %w", err)
	}
	client := iam.NewFromConfig(awsCfg)
	s.iam, s.acct = client, client
	s.sts = sts.NewFromConfig(awsCfg)
	return nil
}

func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// observe reads, concurrently: the role, the account id when needed, the
// gateway's document, the sticky comment, the deployment, the environment,
// and the PR itself (the race guard: it is re-read right before the first
// write).
func (s *session) observe(ctx context.Context) (observed, error) {
	var (
		o       observed
		g       = group.New(0)
		mu      sync.Mutex // guards o.unread
		account string
	)
	goRead := g.Go
	// On teardown, a gateway or GitHub outage must not keep the role
	// alive: their reads are not fatal; what could not be read is left
	// out of the plan and reported as unfinished.
	goAux := func(what string, f func() error) {
		if s.mode != config.ModeDown {
			g.Go(f)
			return
		}
		g.Go(func() error {
			if err := f(); err != nil {
				mu.Lock()
				if o.unread == nil {
					o.unread = map[string]error{}
				}
				o.unread[what] = err
				mu.Unlock()
			}
			return nil
		})
	}
	name, _, _ := desired.Names(s.cfg, s.p)
	if !s.offline {
		// Always, even with account-id given: a role ARN that names
		// another account than the credentials' would be advertised for a
		// role that is never made. It runs alongside the other reads.
		goRead(func() error {
			out, err := s.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return fmt.Errorf("sts GetCallerIdentity (the credentials' account is checked against account-id): %w", err)
			}
			account = aws.ToString(out.Account)
			return nil
		})
		if s.mode == config.ModeUp {
			goRead(func() error {
				o.roles = readRoleQuota(ctx, s.acct)
				return nil
			})
		}
		goRead(func() (err error) {
			o.role, err = iamrole.Observe(ctx, s.iam, name, s.mode == config.ModeDown)
			return err
		})
	}
	if s.gw != nil && !(s.offline && s.cfg.Gateway != "file") {
		goAux("gateway-policy", func() (err error) {
			o.gwDoc, o.gwFound, err = s.gw.Get(ctx, s.p.ID())
			if err != nil {
				return fmt.Errorf("read gateway policy: %w", err)
			}
			return nil
		})
		if mk, ok := s.gw.(gateway.ModuleKeeper); ok && s.mode == config.ModeUp {
			goRead(func() error {
				exists, current, err := mk.Module(ctx)
				if err != nil {
					return fmt.Errorf("read the gateway's policy module: %w", err)
				}
				o.module.read, o.module.exists, o.module.current = true, exists, current
				return nil
			})
		}
	}
	if s.gh != nil {
		owner, repo, n := s.p.Owner, s.p.Repo, s.p.Number
		if s.mode == config.ModeUp && !s.cfg.DryRun && !s.prRead {
			goRead(func() error {
				pr, err := s.gh.PullRequest(ctx, owner, repo, n)
				if err != nil {
					return err
				}
				fresh, err := event.FromPullRequest(pr)
				if err != nil {
					return err
				}
				o.pr = &fresh
				return nil
			})
		}
		if s.cfg.Comment {
			goAux("github-comment", func() error {
				own, others, err := s.gh.StickyComments(ctx, owner, repo, n, report.Marker(s.p.ID()))
				if err != nil {
					return err
				}
				if len(own) > 0 {
					o.comment, o.duplicates = own[0], own[1:]
				}
				o.foreignComments = others
				return nil
			})
		}
		if s.cfg.Deployment {
			goAux("github-deployment", func() (err error) {
				o.deploys, err = s.gh.Deployments(ctx, owner, repo, desired.EnvironmentName(s.cfg, s.p))
				return err
			})
		}
		if _, _, env := desired.Names(s.cfg, s.p); env != "" {
			goAux("github-environment", func() (err error) {
				o.envState, err = s.gh.Environment(ctx, owner, repo, env)
				return err
			})
		} else if s.mode == config.ModeDown && s.cfg.Deployment {
			// With trust-scope ref nothing trusts the environment, but
			// GitHub created it for the PR's deployments: teardown removes
			// it when the token may see and delete it, and otherwise
			// leaves it with a notice (it protects nothing).
			env := desired.EnvironmentName(s.cfg, s.p)
			g.Go(func() error {
				st, err := s.gh.Environment(ctx, owner, repo, env)
				var perm *ghapi.PermissionError
				switch {
				case errors.As(err, &perm):
					o.leftEnvironment = fmt.Sprintf("environment %s (which GitHub made for the preview's deployments) is left: the token cannot read it (%v)", env, err)
				case err != nil:
					o.leftEnvironment = fmt.Sprintf("environment %s (which GitHub made for the preview's deployments) is left: %v", env, err)
				default:
					o.transientEnv = st
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return o, err
	}
	if account != "" {
		if err := s.cfg.ResolveAccount(account); err != nil {
			return o, err
		}
	}
	return o, nil
}

func (s *session) makePlan(o observed) error {
	var err error
	var warnings []string
	switch s.mode {
	case config.ModeUp:
		s.steps, warnings, err = iamrole.PlanUp(s.state.Role, o.role, s.env.Now())
	case config.ModeDown:
		s.steps, warnings, err = iamrole.PlanDown(s.state.RoleName, o.role, s.state.Role.Teardown())
	}
	if err != nil {
		return err
	}
	for _, w := range warnings {
		s.u.warning("%s", w)
	}
	if s.mode == config.ModeUp && createsRole(s.steps) {
		warning, err := o.roles.check()
		if err != nil {
			return err
		}
		if warning != "" {
			s.u.warning("%s", warning)
		}
	}
	s.tasks = nil
	s.planGateway(o)
	s.planGitHub(o)

	var changes []plan.Change
	// Tasks without a resource are the second half of a change already
	// listed (a deployment's status) and are not shown on their own.
	for _, t := range s.tasks {
		if t.stage == beforeIAM && t.change.Resource != "" {
			changes = append(changes, t.change)
		}
	}
	changes = append(changes, iamrole.Changes(s.steps)...)
	for _, t := range s.tasks {
		if t.stage != beforeIAM && t.change.Resource != "" {
			changes = append(changes, t.change)
		}
	}
	s.plan = plan.Plan{Mode: s.mode, Changes: changes}
	return nil
}

func (s *session) planGateway(o observed) {
	if s.gw == nil || o.unread["gateway-policy"] != nil {
		return
	}
	id := s.p.ID()
	name := "gateway " + s.cfg.Gateway
	if mk, ok := s.gw.(gateway.ModuleKeeper); ok && o.module.read {
		s.planModule(mk, o)
	}
	switch {
	case s.mode == config.ModeDown && o.gwFound:
		s.tasks = append(s.tasks, task{plan.Change{Resource: "gateway-policy", Name: id, Action: plan.Delete, Detail: name}, withIAM,
			func(ctx context.Context) error { return wrapGateway(s.gw.Delete(ctx, id)) }})
	case s.mode == config.ModeDown:
		s.tasks = append(s.tasks, task{plan.Change{Resource: "gateway-policy", Name: id, Action: plan.NoOp, Detail: "already gone"}, withIAM, nil})
	case !o.gwFound:
		doc := s.gwDoc
		s.tasks = append(s.tasks, task{plan.Change{Resource: "gateway-policy", Name: id, Action: plan.Create, Detail: name}, withIAM,
			func(ctx context.Context) error { return wrapGateway(s.gw.Put(ctx, id, doc)) }})
	case !gateway.SameDocument(o.gwDoc, s.gwDoc):
		doc := s.gwDoc
		s.tasks = append(s.tasks, task{plan.Change{Resource: "gateway-policy", Name: id, Action: plan.Update, Detail: name + ": document differs"}, withIAM,
			func(ctx context.Context) error { return wrapGateway(s.gw.Put(ctx, id, doc)) }})
	default:
		s.tasks = append(s.tasks, task{plan.Change{Resource: "gateway-policy", Name: id, Action: plan.NoOp, Detail: "up to date"}, withIAM, nil})
	}
}

// planModule plans the gateway's policy module: installed when absent,
// replaced when it is not this version's. On a shared OPA only its admin
// may replace it: an old module there is a warning, a missing one an
// error (nothing could be decided).
func (s *session) planModule(mk gateway.ModuleKeeper, o observed) {
	const resource, name = "gateway-module", "preview_access"
	if o.module.current {
		s.tasks = append(s.tasks, task{plan.Change{Resource: resource, Name: name, Action: plan.NoOp, Detail: "this version's"}, withIAM, nil})
		return
	}
	action, detail := plan.Update, "another version is installed"
	if !o.module.exists {
		action, detail = plan.Create, "no module yet"
	}
	exists := o.module.exists
	s.tasks = append(s.tasks, task{plan.Change{Resource: resource, Name: name, Action: action, Detail: detail}, withIAM,
		func(ctx context.Context) error {
			err := mk.InstallModule(ctx)
			switch {
			case errors.Is(err, gateway.ErrModuleManaged) && exists:
				s.u.warning("the gateway runs another version of the preview_access module, and this token may not replace it: the OPA's admin installs this version's (preview-access bootstrap --format opa)")
				return nil
			case errors.Is(err, gateway.ErrModuleManaged):
				return fmt.Errorf("gateway: the OPA has no preview_access module, so it can decide nothing, and this token may not install it: the OPA's admin must (preview-access bootstrap --format opa): %w", err)
			}
			return wrapGateway(err)
		}})
}

func wrapGateway(err error) error {
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

func (s *session) planGitHub(o observed) {
	if s.gh == nil {
		return
	}
	owner, repo, n := s.p.Owner, s.p.Repo, s.p.Number
	_, _, env := desired.Names(s.cfg, s.p)
	if env != "" && o.unread["github-environment"] == nil {
		ref := s.p.MergeRef()
		switch {
		case s.mode == config.ModeUp && !o.envState.AdmitsOnly(ref):
			action := plan.Update
			if !o.envState.Exists {
				action = plan.Create
			}
			s.tasks = append(s.tasks, task{plan.Change{Resource: "github-environment", Name: env, Action: action, Detail: "deployments only from " + ref}, beforeIAM,
				func(ctx context.Context) error {
					_, err := s.gh.EnsureEnvironment(ctx, owner, repo, env, ref)
					return err
				}})
		case s.mode == config.ModeUp:
			s.tasks = append(s.tasks, task{plan.Change{Resource: "github-environment", Name: env, Action: plan.NoOp, Detail: "admits only " + ref}, beforeIAM, nil})
		case o.envState.Exists:
			// After the role is gone: while its trust names the environment,
			// the environment must stay protected.
			s.tasks = append(s.tasks, task{plan.Change{Resource: "github-environment", Name: env, Action: plan.Delete}, afterIAM,
				func(ctx context.Context) error {
					_, err := s.gh.DeleteEnvironment(ctx, owner, repo, env)
					return err
				}})
		}
	}
	if o.leftEnvironment != "" {
		s.u.notice("%s", o.leftEnvironment)
	}
	if o.transientEnv.Exists {
		envName := desired.EnvironmentName(s.cfg, s.p)
		s.tasks = append(s.tasks, task{plan.Change{Resource: "github-environment", Name: envName, Action: plan.Delete, Detail: "made by GitHub for the deployments"}, afterIAM,
			func(ctx context.Context) error {
				_, err := s.gh.DeleteEnvironment(ctx, owner, repo, envName)
				var perm *ghapi.PermissionError
				if errors.As(err, &perm) {
					// Said once, by this teardown: nothing trusts the
					// environment, so its staying is untidy, not unsafe.
					s.u.notice("environment %s stays: deleting environments needs %s", envName, perm.Permission)
					return nil
				}
				return err
			}})
	}
	if s.cfg.Deployment && o.unread["github-deployment"] == nil {
		s.planDeployment(o)
	}
	if s.cfg.Comment && o.unread["github-comment"] == nil {
		if o.foreignComments > 0 {
			s.u.notice("%d comment(s) on pull request %d carry preview-access's marker but were not written by this token's identity (another app or a person): left alone", o.foreignComments, n)
		}
		for _, d := range o.duplicates {
			id := d.GetID()
			s.tasks = append(s.tasks, task{plan.Change{Resource: "github-comment", Name: "#" + strconv.Itoa(n), Action: plan.Delete, Detail: "duplicate sticky comment " + strconv.FormatInt(id, 10)}, afterIAM,
				func(ctx context.Context) error {
					_, err := s.gh.DeleteComment(ctx, owner, repo, id)
					return err
				}})
		}
		rp := s.reportPreview()
		revocation := s.revocation(o)
		want := report.DownComment(rp, revocation)
		if s.mode == config.ModeUp {
			want = report.UpComment(rp, plan.Plan{})
		}
		name := "#" + strconv.Itoa(n)
		switch {
		case s.mode == config.ModeDown && o.comment == nil:
			// Nothing was ever announced; a teardown does not start a thread.
		case s.mode == config.ModeDown && len(o.unread) > 0:
			// Something could not even be read: the comment must not say
			// everything was removed.
		case o.comment != nil && report.Stable(o.comment.GetBody()) == report.Stable(want):
			s.tasks = append(s.tasks, task{plan.Change{Resource: "github-comment", Name: name, Action: plan.NoOp, Detail: "up to date"}, afterIAM, nil})
		default:
			action := plan.Update
			if o.comment == nil {
				action = plan.Create
			}
			existing := o.comment
			s.tasks = append(s.tasks, task{plan.Change{Resource: "github-comment", Name: name, Action: action, Detail: "sticky comment"}, afterIAM,
				func(ctx context.Context) error {
					body := report.DownComment(rp, revocation)
					if s.mode == config.ModeUp {
						body = report.UpComment(rp, s.plan)
					}
					_, err := s.gh.WriteComment(ctx, owner, repo, n, existing, report.Marker(s.p.ID()), body)
					return err
				}})
		}
	}
}

// planDeployment plans the PR's GitHub deployments from those observed.
// On up, the new deployment is created alongside IAM (a deployment without
// a status claims nothing) and gets its success status once everything is
// in place, while every older one still active gets inactive. On down,
// every active one gets inactive.
func (s *session) planDeployment(o observed) {
	owner, repo := s.p.Owner, s.p.Repo
	denv := desired.EnvironmentName(s.cfg, s.p)
	active := ghapi.Active(o.deploys)
	deactivate := func(ids []int64) func(ctx context.Context) error {
		return func(ctx context.Context) error { return s.gh.Deactivate(ctx, owner, repo, ids) }
	}
	current := len(o.deploys) > 0 && o.deploys[0].Current(s.p.HeadSHA, s.state.PreviewURL)
	switch {
	case s.mode == config.ModeUp && current && len(active) == 1:
		s.tasks = append(s.tasks, task{plan.Change{Resource: "github-deployment", Name: denv, Action: plan.NoOp, Detail: "success"}, afterIAM, nil})
	case s.mode == config.ModeUp && current:
		s.tasks = append(s.tasks, task{plan.Change{Resource: "github-deployment", Name: denv, Action: plan.Update, Detail: "older deployments inactive"}, afterIAM, deactivate(active[1:])})
	case s.mode == config.ModeUp && s.p.HeadSHA != "":
		sha, url := s.p.HeadSHA, s.state.PreviewURL
		var id int64
		s.tasks = append(s.tasks,
			task{plan.Change{Resource: "github-deployment", Name: denv, Action: plan.Create, Detail: "status success"}, withIAM,
				func(ctx context.Context) (err error) {
					id, err = s.gh.CreateDeployment(ctx, owner, repo, denv, sha)
					return err
				}},
			task{plan.Change{}, afterIAM, func(ctx context.Context) error {
				return s.gh.SetDeploymentStatus(ctx, owner, repo, id, "success", url)
			}})
		if len(active) > 0 {
			s.tasks = append(s.tasks, task{plan.Change{}, afterIAM, deactivate(active)})
		}
	case s.mode == config.ModeDown && len(active) > 0:
		s.tasks = append(s.tasks, task{plan.Change{Resource: "github-deployment", Name: denv, Action: plan.Update, Detail: "status inactive"}, afterIAM, deactivate(active)})
	}
}

// summaryAccessRows bounds the job summary's access table: GitHub takes a
// summary of up to 1 MiB per step.
const summaryAccessRows = 10000

// accessSummary is the job summary's full list of who may open the
// preview, which the sticky comment points to when it only summarises.
func accessSummary(access []report.Access) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n**Who can open the preview** (%d)\n\n| who | roles |\n|---|---|\n", len(access))
	for i, a := range access {
		if i == summaryAccessRows {
			fmt.Fprintf(&b, "\n…and %d more: see the gateway-policy output.\n", len(access)-i)
			break
		}
		fmt.Fprintf(&b, "| %s | %s |\n", report.CodeCell(a.Subject), plan.MarkdownCell(strings.Join(a.Roles, ", ")))
	}
	return b.String()
}

// revocation is what the teardown comment says: why, and who lost access
// (the subjects of the gateway document observed before it is deleted).
func (s *session) revocation(o observed) report.Revocation {
	r := report.Revocation{Reason: s.reason, At: s.env.Now()}
	if r.Reason == "" {
		switch {
		case s.p.Merged:
			r.Reason = report.ReasonMerged
		case s.p.State == "closed":
			r.Reason = report.ReasonClosed
		default:
			r.Reason = report.ReasonByHand
		}
	}
	if s.gw == nil || o.unread["gateway-policy"] != nil {
		return r
	}
	r.Known = true
	if !o.gwFound {
		return r
	}
	d, err := gateway.Unmarshal(o.gwDoc)
	if err != nil {
		r.Known = false
		return r
	}
	for _, subj := range d.Subjects() {
		r.Lost = append(r.Lost, report.Access{Subject: subj, Roles: d.Bindings[subj]})
	}
	return r
}

// reportPreview is what the comment and summary say about the preview.
func (s *session) reportPreview() report.Preview {
	rp := report.Preview{
		ID: s.p.ID(), Repository: s.p.FullName(), Number: s.p.Number, RoleARN: s.state.RoleARN,
		TrustScope: s.cfg.TrustScope, Ref: s.p.MergeRef(), Environment: s.state.Environment,
		PreviewURL: s.state.PreviewURL, ExpiresAt: s.state.ExpiresAt, HeadSHA: s.p.HeadSHA, Gateway: s.cfg.Gateway,
	}
	if s.gwDoc != nil {
		if d, err := gateway.Unmarshal(s.gwDoc); err == nil {
			for _, subj := range d.Subjects() {
				rp.Access = append(rp.Access, report.Access{Subject: subj, Roles: d.Bindings[subj]})
			}
		}
	}
	return rp
}

func (s *session) printPlan() error {
	if s.output == "json" {
		_, err := fmt.Fprintln(s.env.Stdout, s.plan.JSON())
		return err
	}
	var buf bytes.Buffer
	if err := s.plan.WriteText(&buf, s.u.colour); err != nil {
		return err
	}
	s.u.info("%s", strings.TrimSuffix(buf.String(), "\n"))
	return nil
}

// printDocuments shows what a dry run would write.
func (s *session) printDocuments() {
	if s.output == "json" || s.mode != config.ModeUp {
		return
	}
	s.u.info("\nRole ARN: %s", s.state.RoleARN)
	s.u.info("\nTrust policy:\n%s", indent(s.state.Role.Trust))
	s.u.info("\nPermission policy (%s):\n%s", iamrole.PolicyName, indent(s.state.Role.Policy))
	if s.gwDoc != nil {
		s.u.info("\nGateway policy (%s):\n%s", s.cfg.Gateway, indent(s.gwDoc))
	}
}

func indent(doc []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "  ", "  "); err != nil {
		return string(doc)
	}
	return "  " + buf.String()
}

// runTasks runs the tasks of one stage concurrently.
func (s *session) runTasks(ctx context.Context, st stage) error {
	g := group.New(0)
	for _, t := range s.tasks {
		if t.stage == st && t.do != nil {
			g.Go(func() error { return t.do(ctx) })
		}
	}
	return g.Wait()
}

// apply executes the plan: the environment first, then IAM and the
// gateway together, then the comment and deployment. When another run
// created the role between observe and apply, it observes and plans once
// more, and converges.
func (s *session) apply(ctx context.Context) error {
	if err := s.runTasks(ctx, beforeIAM); err != nil {
		return fmt.Errorf("%w (nothing was created in AWS)", err)
	}
	var iamErr, gwErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); iamErr = s.applyIAM(ctx) }()
	go func() { defer wg.Done(); gwErr = s.runTasks(ctx, withIAM) }()
	wg.Wait()
	if err := errors.Join(iamErr, gwErr); err != nil {
		verb := "the preview is not ready"
		if s.mode == config.ModeDown {
			verb = "teardown is incomplete"
		}
		// One annotation per failed call, each saying what it means and
		// whether a re-run is enough.
		var errs []error
		for _, e := range flatten(err) {
			if fix, permanent := whatToChange(e); permanent {
				errs = append(errs, fmt.Errorf("apply: %w (%s; a re-run fails the same way until %s)", e, verb, fix))
				continue
			}
			errs = append(errs, fmt.Errorf("apply: %w (%s; a re-run converges what was left)", e, verb))
		}
		return errors.Join(errs...)
	}
	if err := s.runTasks(ctx, afterIAM); err != nil {
		return fmt.Errorf("report to GitHub: %w", err)
	}
	return nil
}

func (s *session) applyIAM(ctx context.Context) error {
	err := s.applySteps(ctx)
	if errors.Is(err, iamrole.ErrRaced) {
		s.u.info("the role appeared meanwhile (another run): re-reading and converging")
		role, oerr := iamrole.Observe(ctx, s.iam, s.state.RoleName, s.mode == config.ModeDown)
		if oerr != nil {
			return oerr
		}
		var warnings []string
		if s.steps, warnings, err = iamrole.PlanUp(s.state.Role, role, s.env.Now()); err != nil {
			return err
		}
		for _, w := range warnings {
			s.u.warning("%s", w)
		}
		err = s.applySteps(ctx)
	}
	return err
}

// applySteps runs the IAM steps. After a CreateRole, waiting for the role
// to be visible runs alongside the later phases (PutRolePolicy, attaching
// policies), not after them: it costs no extra round trip.
func (s *session) applySteps(ctx context.Context) error {
	if s.mode != config.ModeUp || !s.cfg.WaitForRole || !createsRole(s.steps) {
		return iamrole.Apply(ctx, s.iam, s.steps)
	}
	var first, rest []iamrole.Step
	for _, st := range s.steps {
		if st.Phase == 0 {
			first = append(first, st)
		} else {
			rest = append(rest, st)
		}
	}
	if err := iamrole.Apply(ctx, s.iam, first); err != nil {
		return err
	}
	var (
		wg               sync.WaitGroup
		restErr, waitErr error
		waited           time.Duration
	)
	wg.Add(2)
	go func() { defer wg.Done(); restErr = iamrole.Apply(ctx, s.iam, rest) }()
	go func() {
		defer wg.Done()
		waited, waitErr = iamrole.WaitUntilVisible(ctx, s.iam, s.state.RoleName, time.Minute)
	}()
	wg.Wait()
	if waitErr == nil {
		s.u.info("role %s is visible in IAM (waited %s)", s.state.RoleName, waited.Round(time.Millisecond))
	}
	return errors.Join(restErr, waitErr)
}

func createsRole(steps []iamrole.Step) bool {
	for _, st := range steps {
		if st.Change.Resource == "iam-role" && st.Change.Action == plan.Create {
			return true
		}
	}
	return false
}

// report writes the outputs and the job summary.
// attempted says apply ran (so writes may have happened even if it
// failed); applied that it succeeded.
func (s *session) report(attempted, applied bool) error {
	changed := attempted && s.plan.Changed()
	up := s.mode == config.ModeUp
	value := func(v string) string {
		if !up {
			return ""
		}
		return v
	}
	gwOut := ""
	if up && s.gwDoc != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s.gwDoc); err == nil {
			gwOut = buf.String()
		}
		if s.cfg.Gateway == "file" {
			gwOut = s.cfg.GatewayFile
		}
	}
	outs := [][2]string{
		{"role-arn", value(s.state.RoleARN)},
		{"role-name", value(s.state.RoleName)},
		{"environment", value(s.state.Environment)},
		{"preview-url", value(s.state.PreviewURL)},
		{"gateway-policy", gwOut},
		{"changed", strconv.FormatBool(changed)},
		{"plan", s.plan.JSON()},
	}
	for _, o := range outs {
		if err := s.u.setOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	var md strings.Builder
	fmt.Fprintf(&md, "## Preview access: %s of %s pull request %d\n\n", s.mode, plan.MarkdownCell(s.p.FullName()), s.p.Number)
	switch {
	case s.cfg.DryRun:
		md.WriteString("Dry run: nothing was changed.\n\n")
	case attempted && !applied:
		md.WriteString("**The run failed**; the plan below was not fully applied. Each error says whether a re-run is enough or what to change first.\n\n")
	}
	md.WriteString(s.plan.Markdown())
	md.WriteString("\n| output | value |\n|---|---|\n")
	for _, o := range outs[:4] {
		if o[1] != "" {
			fmt.Fprintf(&md, "| %s | %s |\n", o[0], report.CodeCell(o[1]))
		}
	}
	fmt.Fprintf(&md, "| changed | %t |\n", changed)
	if up && s.gwDoc != nil {
		md.WriteString(accessSummary(s.reportPreview().Access))
	}
	if len(s.u.warnings) > 0 {
		md.WriteString("\n**Warnings**\n\n")
		for _, w := range s.u.warnings {
			fmt.Fprintf(&md, "- %s\n", plan.MarkdownCell(w))
		}
	}
	s.u.summary(md.String())
	return nil
}
