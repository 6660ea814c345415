package run

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

// session is one up or down of one preview: observe, plan, apply, report.
type session struct {
	*engine
	p    preview.Preview
	mode string
	// prRead: this run read the PR from the API already (dispatch, CLI);
	// the race guard need not read it a second time.
	prRead bool
	// reason says, on teardown, why access ends (report.Reason…).
	reason string

	// What planning produced, for the report.
	cfg   config.Config // the engine's, with the account resolved
	state desired.State
	gwDoc []byte // desired gateway document; nil without a gateway
	plan  plan.Plan
}

func (s *session) run(ctx context.Context) error {
	s.cfg = s.engine.cfg
	// Everything that can be checked without a call is checked first; the
	// account id only fills ARNs, so a stand-in one renders the same
	// problems.
	if err := s.preflight(); err != nil {
		return err
	}
	if s.mode == config.ModeUp && s.cfg.PermissionsBoundary == "" {
		s.u.warning("no permissions boundary: preview roles are limited only by their own policy (set permissions-boundary; see preview-access bootstrap)")
	}
	if err := s.connect(ctx, s.p); err != nil {
		return err
	}
	res, err := s.observe(ctx)
	if err != nil {
		return err
	}
	if res.PR != nil && s.mode == config.ModeUp {
		fresh, err := event.FromPullRequest(res.PR)
		if err != nil {
			return err
		}
		if fresh.State == "closed" {
			// Race guard: the PR closed while this run started. Nothing new
			// is created; whatever an earlier run made is taken down.
			s.mode, s.reason = config.ModeDown, report.ReasonClosedMeanwhile
			s.u.notice("pull request %d was closed meanwhile: creating nothing, removing what exists", s.p.Number)
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
		if s.cfg, err = s.cfg.WithAccount(res.Account); err != nil {
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
	return s.finish(ctx, result, res)
}

// finish prints the plan, applies it (unless a dry run) and reports.
func (s *session) finish(ctx context.Context, result planner.Result, res observe.Result) error {
	s.say(result)
	if err := s.printPlan(); err != nil {
		return err
	}
	var unread []error
	for _, what := range slices.Sorted(maps.Keys(res.Unread)) {
		unread = append(unread, fmt.Errorf("teardown could not read the %s, so it leaves it as it is (a re-run finishes): %w", what, res.Unread[what]))
	}
	if s.cfg.DryRun {
		for _, err := range unread {
			s.u.warning("%v", err)
		}
		s.printDocuments()
		return s.report(false, false)
	}
	if err := s.apply(ctx, res.Observed); err != nil {
		_ = s.report(true, false)
		return errors.Join(append([]error{err}, unread...)...)
	}
	if len(unread) > 0 {
		_ = s.report(true, false)
		for i, err := range unread {
			unread[i] = fmt.Errorf("access is revoked, but %w", err)
		}
		return errors.Join(unread...)
	}
	return s.report(true, true)
}

func (s *session) say(r planner.Result) {
	for _, w := range r.Warnings {
		s.u.warning("%s", w)
	}
	for _, n := range r.Notices {
		s.u.notice("%s", n)
	}
	s.plan = r.Plan
}

// observe reads everything the session needs at once. A token GitHub
// rejects fails every GitHub read: that is said once, as github-token's
// problem.
func (s *session) observe(ctx context.Context) (observe.Result, error) {
	res, err := observe.Preview(ctx, s.readers(), s.request())
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
	for _, e := range flatten(err) {
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
func (s *session) preflight() error {
	var boundary error
	if s.mode == config.ModeUp {
		boundary = s.cfg.CheckBoundary()
	}
	cfg := s.cfg
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	tmpl, _ := templates.FS.ReadFile(templates.DefaultPermissions)
	_, _, err := renderState(cfg, s.p, tmpl, access.Default(), s.env.Now(), time.Time{})
	return errors.Join(boundary, err)
}

// request is what observing reads for this session.
func (s *session) request() observe.Request {
	c, p := s.cfg, s.p
	name, _, env := desired.Names(c, p)
	up := s.mode == config.ModeUp
	r := observe.Request{
		Owner: p.Owner, Repo: p.Repo, Number: p.Number,
		Teardown: !up, Role: name, Account: true, Quota: up,
		PR:          up && !c.DryRun && !s.prRead,
		Environment: env,
	}
	if up && s.gh != nil {
		if c.PermissionsTemplate != "" {
			r.Files = append(r.Files, c.PermissionsTemplate)
		}
		if c.Gateway != gateway.KindNone {
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
	if s.gw != nil && !(s.offline && c.Gateway != gateway.KindFile) {
		r.GatewayID, r.Module = p.ID(), up
	}
	return r
}

// render builds the desired state: role, documents, gateway policy. The
// expiry only moves forward (planner.DiffTags): the gateway document and
// the comment carry the one the role keeps.
func (s *session) render(tmpl []byte, acc access.File, role planner.RoleState) error {
	var keep time.Time
	if exp, ok := naming.Expiry(role.Tags); ok && role.Exists {
		keep = exp
	}
	var err error
	s.state, s.gwDoc, err = renderState(s.cfg, s.p, tmpl, acc, s.env.Now(), keep)
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
	if c.Gateway != gateway.KindNone {
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
func (s *session) planFor(o planner.Observed) (planner.Result, error) {
	d := s.desired()
	if s.mode == config.ModeDown {
		if d.Comment != nil {
			d.Comment.Revocation = s.revocation()
		}
		return planner.Down(d, o)
	}
	return planner.Up(d, o)
}

// desired is the planner's view of the rendered state; the parts this run
// does not manage (no token, no gateway) are nil.
func (s *session) desired() planner.Desired {
	c, st, p := s.cfg, s.state, s.p
	d := planner.Desired{
		Role:        st.Role,
		WaitForRole: c.WaitForRole,
		Ref:         p.MergeRef(),
		Comment:     &planner.Comment{Number: p.Number, Marker: report.Marker(p.ID()), Preview: s.reportPreview()},
	}
	if s.gh != nil {
		d.Environment = st.Environment
		if c.Deployment {
			d.Deployment = &planner.Deployment{Environment: desired.EnvironmentName(c, p), SHA: p.HeadSHA, URL: st.PreviewURL}
			if st.Environment == "" {
				d.TransientEnvironment = d.Deployment.Environment
			}
		}
	}
	if s.gw != nil {
		_, module := s.gw.(gateway.ModuleKeeper)
		d.Gateway = &planner.Gateway{Kind: c.Gateway, ID: p.ID(), Document: s.gwDoc, Module: module}
	}
	if s.gh == nil || !c.Comment {
		d.Comment = nil
	}
	return d
}

// apply executes the plan. When another run created the role between
// observe and CreateRole, it observes the role once more, plans again and
// converges; what already succeeded is not done twice.
func (s *session) apply(ctx context.Context, o planner.Observed) error {
	a := &apply.Applier{IAM: s.iam, GitHub: s.gh, Gateway: s.gw, Owner: s.p.Owner, Repo: s.p.Repo, Log: uiLog{s.u}}
	err := a.Apply(ctx, s.plan)
	if errors.Is(err, apply.ErrRaced) {
		s.u.info("the role appeared meanwhile (another run): re-reading and converging")
		if o.Role, err = observe.Role(ctx, s.iam, s.state.RoleName, false); err != nil {
			return err
		}
		result, perr := s.planFor(o)
		if perr != nil {
			return perr
		}
		s.say(result)
		err = a.Apply(ctx, s.plan)
	}
	if err == nil {
		return nil
	}
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

// uiLog is the ui as apply's Log.
type uiLog struct{ u *ui }

func (l uiLog) Info(format string, args ...any)    { l.u.info(format, args...) }
func (l uiLog) Notice(format string, args ...any)  { l.u.notice(format, args...) }
func (l uiLog) Warning(format string, args ...any) { l.u.warning(format, args...) }

// revocation is why the teardown comment says access ended.
func (s *session) revocation() report.Revocation {
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
