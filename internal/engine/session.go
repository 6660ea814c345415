package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/preview-access/preview-access/internal/access"
	"github.com/preview-access/preview-access/internal/apply"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/templates"
)

// Session is one up or down of one preview: Prepare observes and plans,
// the caller prints the plan, Apply applies it.
type Session struct {
	Env     Env
	Clients *Clients
	// Config is the run's configuration; after Prepare, with the account
	// the credentials belong to.
	Config  config.Config
	Preview preview.Preview
	Mode    string
	// PRRead: this run read the PR from the API already (dispatch, CLI);
	// the race guard need not read it a second time.
	PRRead bool
	// Reason says, on teardown, why access ends (report.Reason…).
	Reason string
	// Sample: the built-in sample, planned with no AWS or GitHub.
	Sample bool

	// What Prepare produced.
	State      desired.State
	GatewayDoc []byte // the desired gateway document; nil without a gateway
	Plan       plan.Plan
	// Unread are, on teardown, the resources that could not be read: the
	// plan leaves them, and the run ends unfinished.
	Unread []error

	observed planner.Observed
}

// Prepare checks the inputs, connects, observes and plans.
func (s *Session) Prepare(ctx context.Context) error {
	// Everything that can be checked without a call is checked first; the
	// account id only fills ARNs, so a stand-in one renders the same
	// problems.
	if err := s.preflight(); err != nil {
		return err
	}
	if s.Mode == config.ModeUp && s.Config.PermissionsBoundary == "" {
		s.Env.Log.Warning("no permissions boundary: preview roles are limited only by their own policy (set permissions-boundary; see preview-access bootstrap)")
	}
	if err := s.Clients.Connect(ctx, s.Env, s.Config, s.Preview, s.Sample); err != nil {
		return err
	}
	res, err := s.observe(ctx)
	if err != nil {
		return err
	}
	if res.PR != nil && s.Mode == config.ModeUp {
		fresh, err := event.FromPullRequest(res.PR)
		if err != nil {
			return err
		}
		if fresh.State == "closed" {
			// Race guard: the PR closed while this run started. Nothing new
			// is created; whatever an earlier run made is taken down.
			s.Mode, s.Reason = config.ModeDown, report.ReasonClosedMeanwhile
			s.Env.Log.Notice("pull request %d was closed meanwhile: creating nothing, removing what exists", s.Preview.Number)
			if res, err = s.observe(ctx); err != nil {
				return err
			}
		}
	}
	tmpl, acc, err := s.repoFiles(res.Files)
	if err != nil {
		return err
	}
	if res.Account != "" {
		if s.Config, err = s.Config.WithAccount(res.Account); err != nil {
			return err
		}
	}
	if err := s.render(tmpl, acc, res.Role); err != nil {
		return err
	}
	result, err := s.planFor(res.Observed)
	if err != nil {
		return err
	}
	s.say(result)
	s.observed = res.Observed
	for _, what := range slices.Sorted(maps.Keys(res.Unread)) {
		s.Unread = append(s.Unread, fmt.Errorf("teardown could not read the %s, so it leaves it as it is (a re-run finishes): %w", what, res.Unread[what]))
	}
	return nil
}

func (s *Session) say(r planner.Result) {
	for _, w := range r.Warnings {
		s.Env.Log.Warning("%s", w)
	}
	for _, n := range r.Notices {
		s.Env.Log.Notice("%s", n)
	}
	s.Plan = r.Plan
}

// observe reads everything the session needs at once. A token GitHub
// rejects fails every GitHub read: that is said once, as github-token's
// problem.
func (s *Session) observe(ctx context.Context) (observe.Result, error) {
	res, err := observe.Preview(ctx, s.Clients.Readers(), s.request())
	for path, f := range res.Files {
		if errors.Is(f.Err, ghapi.ErrUnauthorized) && err == nil {
			err = fmt.Errorf("read %s: %w", path, f.Err)
		}
	}
	if err == nil {
		return res, nil
	}
	var errs []error
	rejected := false
	for _, e := range Flatten(err) {
		if errors.Is(e, ghapi.ErrUnauthorized) {
			rejected = true
			continue
		}
		errs = append(errs, e)
	}
	if rejected {
		errs = append([]error{&config.InputError{Input: "github-token", What: ghapi.ErrUnauthorized.Error(), Fix: "pass a valid token (the workflow's GITHUB_TOKEN, or a GitHub App token)"}}, errs...)
	}
	return res, errors.Join(errs...)
}

// preflight renders everything with the built-in template and a stand-in
// account id when the real one is not known yet, so every problem of the
// inputs is reported before any call.
func (s *Session) preflight() error {
	var boundary error
	if s.Mode == config.ModeUp {
		boundary = s.Config.CheckBoundary()
	}
	cfg := s.Config
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	tmpl, _ := templates.FS.ReadFile(templates.DefaultPermissions)
	_, _, err := renderState(cfg, s.Preview, tmpl, access.Default(), s.Env.Now(), time.Time{})
	return errors.Join(boundary, err)
}

// request is what observing reads for this session.
func (s *Session) request() observe.Request {
	c, p := s.Config, s.Preview
	name, _, env := desired.Names(c, p)
	up := s.Mode == config.ModeUp
	r := observe.Request{
		Owner: p.Owner, Repo: p.Repo, Number: p.Number,
		Teardown: !up, Role: name, Account: true, Quota: up,
		PR:          up && !c.DryRun && !s.PRRead,
		Environment: env,
	}
	if up && s.Clients.GitHub != nil {
		if c.PermissionsTemplate != "" {
			r.Files = append(r.Files, c.PermissionsTemplate)
		}
		if c.Gateway != config.GatewayNone {
			r.Files = append(r.Files, c.AccessFile)
		}
	}
	if c.Comment {
		r.Marker = report.Marker(p.ID())
	}
	if c.Deployment {
		r.DeploymentEnvironment = desired.EnvironmentName(c, p)
		if !up && env == "" {
			// With trust-scope ref nothing trusts the environment, but
			// GitHub created it for the PR's deployments.
			r.TransientEnvironment = r.DeploymentEnvironment
		}
	}
	if s.Clients.Gateway != nil && !(s.Clients.Offline && c.Gateway != config.GatewayFile) {
		r.GatewayID, r.Module = p.ID(), up
	}
	return r
}

// render builds the desired state: role, documents, gateway policy. The
// expiry only moves forward (planner.DiffTags): the gateway document and
// the comment carry the one the role keeps.
func (s *Session) render(tmpl []byte, acc access.File, role planner.RoleState) error {
	var keep time.Time
	if exp, ok := naming.Expiry(role.Tags); ok && role.Exists {
		keep = exp
	}
	var err error
	s.State, s.GatewayDoc, err = renderState(s.Config, s.Preview, tmpl, acc, s.Env.Now(), keep)
	return err
}

// renderState renders a preview's desired state and gateway document
// (nil without a gateway); keep is a later expiry to keep.
func renderState(c config.Config, p preview.Preview, tmpl []byte, acc access.File, now, keep time.Time) (desired.State, []byte, error) {
	st, err := desired.Build(c, p, tmpl, now)
	errs := []error{err}
	if keep.After(st.ExpiresAt) {
		st.ExpiresAt = keep
		st.Role.Tags[naming.TagExpiresAt] = naming.FormatExpiry(keep)
	}
	var doc []byte
	if c.Gateway != config.GatewayNone {
		d, gerr := gateway.Build(p, acc, gateway.BuildOptions{PreviewURL: st.PreviewURL, ExpiresAt: st.ExpiresAt})
		if gerr != nil {
			errs = append(errs, fmt.Errorf("gateway policy: %w", gerr))
		} else if doc, gerr = gateway.Marshal(d); gerr != nil {
			errs = append(errs, gerr)
		}
	}
	return st, doc, errors.Join(errs...)
}

// planFor plans the session's mode from what was observed.
func (s *Session) planFor(o planner.Observed) (planner.Result, error) {
	d := s.desired()
	if s.Mode == config.ModeDown {
		if d.Comment != nil {
			d.Comment.Revocation = s.revocation()
		}
		return planner.Down(d, o)
	}
	return planner.Up(d, o)
}

// desired is the planner's view of the rendered state; the parts this run
// does not manage (no token, no gateway) are nil.
func (s *Session) desired() planner.Desired {
	c, st, p := s.Config, s.State, s.Preview
	d := planner.Desired{
		Role:        st.Role,
		WaitForRole: c.WaitForRole,
		Ref:         p.MergeRef(),
		Comment:     &planner.Comment{Number: p.Number, Marker: report.Marker(p.ID()), Preview: s.ReportPreview()},
	}
	if s.Clients.GitHub != nil {
		d.Environment = st.Environment
		if c.Deployment {
			d.Deployment = &planner.Deployment{Environment: desired.EnvironmentName(c, p), SHA: p.HeadSHA, URL: st.PreviewURL}
			if st.Environment == "" {
				d.TransientEnvironment = d.Deployment.Environment
			}
		}
	}
	if s.Clients.Gateway != nil {
		_, module := s.Clients.Gateway.(gateway.ModuleKeeper)
		d.Gateway = &planner.Gateway{Kind: c.Gateway, ID: p.ID(), Document: s.GatewayDoc, Module: module}
	}
	if s.Clients.GitHub == nil || !c.Comment {
		d.Comment = nil
	}
	return d
}

// Apply executes the plan. When another run created the role between
// observe and CreateRole, it observes the role once more, plans again and
// converges; what already succeeded is not done twice.
func (s *Session) Apply(ctx context.Context) error {
	o := s.observed
	a := s.Clients.Applier(s.Preview, s.Env.Log)
	err := a.Apply(ctx, s.Plan)
	if errors.Is(err, apply.ErrRaced) {
		s.Env.Log.Info("the role appeared meanwhile (another run): re-reading and converging")
		if o.Role, err = observe.Role(ctx, s.Clients.Readers().IAM, s.State.RoleName, false); err != nil {
			return err
		}
		result, perr := s.planFor(o)
		if perr != nil {
			return perr
		}
		s.say(result)
		err = a.Apply(ctx, s.Plan)
	}
	if err == nil {
		return nil
	}
	verb := "the preview is not ready"
	if s.Mode == config.ModeDown {
		verb = "teardown is incomplete"
	}
	// One annotation per failed call, each saying what it means and
	// whether a re-run is enough.
	var errs []error
	for _, e := range Flatten(err) {
		if fix, permanent := whatToChange(e); permanent {
			errs = append(errs, fmt.Errorf("apply: %w (%s; a re-run fails the same way until %s)", e, verb, fix))
			continue
		}
		errs = append(errs, fmt.Errorf("apply: %w (%s; a re-run converges what was left)", e, verb))
	}
	return errors.Join(errs...)
}

// revocation is why the teardown comment says access ended.
func (s *Session) revocation() report.Revocation {
	r := report.Revocation{Reason: s.Reason, At: s.Env.Now()}
	if r.Reason == "" {
		switch {
		case s.Preview.Merged:
			r.Reason = report.ReasonMerged
		case s.Preview.State == "closed":
			r.Reason = report.ReasonClosed
		default:
			r.Reason = report.ReasonByHand
		}
	}
	return r
}

// reportPreview is what the comment and summary say about the preview.
func (s *Session) ReportPreview() report.Preview {
	rp := report.Preview{
		ID: s.Preview.ID(), Repository: s.Preview.FullName(), Number: s.Preview.Number, RoleARN: s.State.RoleARN,
		TrustScope: s.Config.TrustScope, Ref: s.Preview.MergeRef(), Environment: s.State.Environment,
		PreviewURL: s.State.PreviewURL, ExpiresAt: s.State.ExpiresAt, HeadSHA: s.Preview.HeadSHA, Gateway: s.Config.Gateway,
		Region: s.Config.Region,
	}
	if s.GatewayDoc != nil {
		if d, err := gateway.Unmarshal(s.GatewayDoc); err == nil {
			rp.Access, rp.Roles = d.Access(), d.RoleRules()
		}
	}
	return rp
}
