package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/iamrole"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/templates"
)

// STSAPI is the part of STS the run calls.
type STSAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var _ STSAPI = (*sts.Client)(nil)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// runAction is the GitHub Action: inputs from INPUT_*, the event from
// GITHUB_EVENT_PATH.
func runAction(ctx context.Context, env Env, u *ui) error {
	cfg, err := config.Load(lookupFor(env, nil))
	u.mask(cfg.Secrets()...)
	if err != nil {
		return err
	}
	ev, err := event.Load(env.Getenv("GITHUB_EVENT_NAME"), env.Getenv("GITHUB_EVENT_PATH"))
	if err != nil {
		return err
	}
	return runEvent(ctx, env, u, cfg, ev, "text")
}

// runCLI is a person's command: the mode comes from the command, inputs
// from flags (or INPUT_* variables), the pull request from --event or
// --repo and --pr.
func runCLI(ctx context.Context, env Env, u *ui, cmd string, args []string) error {
	fs, f := newFlagSet(cmd, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("%w: --output must be text or json", errUsage)
	}
	lookup := lookupFor(env, f)
	// The command is the mode; plan keeps auto's choice of up or down.
	modeLookup := func(name string) string {
		switch name {
		case "mode":
			if cmd == "plan" {
				return config.ModeAuto
			}
			return cmd
		}
		return lookup(name)
	}

	var ev event.Event
	switch {
	case f.event != "":
		data, err := env.ReadFile(f.event)
		if err != nil {
			return fmt.Errorf("read event file: %w", err)
		}
		if ev, err = event.Parse(f.eventName, data); err != nil {
			return err
		}
	case f.repo != "":
		owner, repo, ok := strings.Cut(f.repo, "/")
		if !ok || !preview.ValidOwner(owner) || !preview.ValidRepo(repo) {
			return fmt.Errorf("%w: --repo %q is not OWNER/REPO", errUsage, f.repo)
		}
		p := preview.Preview{Owner: owner, Repo: repo, State: "open"}
		if f.repositoryID != "" {
			id, err := strconv.ParseInt(f.repositoryID, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%w: --repository-id %q is not a positive number", errUsage, f.repositoryID)
			}
			p.RepositoryID = id
		}
		n := 0
		if v := lookup("pr"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n <= 0 {
				return fmt.Errorf("%w: --pr %q is not a pull request number", errUsage, v)
			}
		}
		p.Number = n
		ev = event.Event{Name: "cli", Preview: &p, PR: n}
		if cmd != "sweep" && n == 0 {
			return fmt.Errorf("%w: %s needs --pr N with --repo", errUsage, cmd)
		}
		if p.RepositoryID == 0 {
			return fmt.Errorf("%w: --repository-id is needed with --repo (the trust policy pins the numeric repository id; `gh api repos/%s --jq .id` prints it)", errUsage, f.repo)
		}
	case cmd == "plan":
		u.notice("no --event or --repo given: planning the built-in sample event (octo-org/shop pull request 42, account 123456789012)")
		data, err := templates.FS.ReadFile(templates.SampleEvent)
		if err != nil {
			return err
		}
		if ev, err = event.Parse("pull_request_target", data); err != nil {
			return err
		}
		modeLookup = sampleDefaults(modeLookup)
	default:
		return fmt.Errorf("%w: %s needs --event FILE or --repo OWNER/REPO", errUsage, cmd)
	}

	cfg, err := config.Load(modeLookup)
	u.mask(cfg.Secrets()...)
	if err != nil {
		return err
	}
	if cmd == "plan" {
		cfg.DryRun = true
	}
	return runEvent(ctx, env, u, cfg, ev, f.output)
}

// sampleDefaults fills what the built-in sample needs to plan with no
// account: an account id and a boundary, unless given.
func sampleDefaults(lookup func(string) string) func(string) string {
	return func(name string) string {
		if v := lookup(name); v != "" {
			return v
		}
		switch name {
		case "account-id":
			return "123456789012"
		case "permissions-boundary":
			return "arn:aws:iam::123456789012:policy/preview-access-boundary"
		case "preview-url":
			return "https://pr-{number}.preview.example.com"
		}
		return ""
	}
}

// runEvent picks the mode and runs it.
func runEvent(ctx context.Context, env Env, u *ui, cfg config.Config, ev event.Event, output string) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	mode := cfg.Mode
	if mode == config.ModeAuto || mode == config.ModePlan {
		m, ok, reason := event.Mode(ev)
		if ev.Name == "cli" {
			m, ok = config.ModeUp, true
			if ev.Preview != nil && ev.Preview.State == "closed" {
				m = config.ModeDown
			}
		}
		if !ok {
			u.notice("%s: nothing to do", reason)
			return nil
		}
		if mode == config.ModePlan {
			cfg.DryRun = true
		}
		mode = m
	}
	switch mode {
	case config.ModeSweep:
		return runSweep(ctx, env, u, cfg, ev, output)
	case config.ModeUp, config.ModeDown:
	default:
		return fmt.Errorf("mode %q is not known", mode)
	}
	if ev.Preview == nil {
		if ev.PR == 0 {
			return fmt.Errorf("mode %s needs a pull request: the %s event carries none (give the pr input)", mode, ev.Name)
		}
		p, err := previewFromAPI(ctx, env, u, cfg, ev)
		if err != nil {
			return err
		}
		ev.Preview = &p
	}
	p := *ev.Preview
	if err := p.Validate(); err != nil {
		return err
	}
	if mode == config.ModeUp && p.Fork && !cfg.AllowForks {
		u.notice("pull request %d comes from a fork: no preview access is created (set allow-forks: true to opt in)", p.Number)
		return nil
	}
	if mode == config.ModeUp && p.State == "closed" {
		u.notice("pull request %d is closed: nothing to create", p.Number)
		return nil
	}
	s := &session{env: env, u: u, cfg: cfg, p: p, mode: mode, output: output}
	return s.run(ctx)
}

// session is one up or down of one preview.
type session struct {
	env    Env
	u      *ui
	cfg    config.Config
	p      preview.Preview
	mode   string
	output string

	iam iamrole.API
	sts STSAPI

	state   desired.State
	steps   []iamrole.Step
	plan    plan.Plan
	offline bool // planning without AWS credentials
}

func (s *session) run(ctx context.Context) error {
	tmpl, err := s.permissionTemplate()
	if err != nil {
		return err
	}
	// Validate everything before the first call: the account id only fills
	// ARNs, so a stand-in one renders the same problems.
	probe := s.cfg
	if probe.AccountID == "" {
		probe.AccountID = "123456789012"
	}
	if _, err := desired.Build(probe, s.p, tmpl, s.env.Now()); err != nil {
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
	if s.state, err = desired.Build(s.cfg, s.p, tmpl, s.env.Now()); err != nil {
		return err
	}
	if err := s.makePlan(obs); err != nil {
		return err
	}
	if err := s.printPlan(); err != nil {
		return err
	}
	if s.cfg.DryRun {
		s.printDocuments()
		return s.report(false)
	}
	if err := s.apply(ctx); err != nil {
		_ = s.report(true)
		return err
	}
	return s.report(true)
}

// permissionTemplate returns the permission policy template: the
// repository's file when permissions-template names one, else the
// built-in default.
func (s *session) permissionTemplate() ([]byte, error) {
	if s.cfg.PermissionsTemplate == "" {
		return templates.FS.ReadFile(templates.DefaultPermissions)
	}
	path := s.cfg.PermissionsTemplate
	if ws := s.env.Getenv("GITHUB_WORKSPACE"); ws != "" {
		path = ws + "/" + path
	}
	data, err := s.env.ReadFile(path)
	if err != nil {
		return nil, &config.InputError{Input: "permissions-template", What: fmt.Sprintf("cannot read %s: %v", s.cfg.PermissionsTemplate, errors.Unwrap(err)), Fix: "check the path; it is relative to the repository root"}
	}
	if len(data) > 64<<10 {
		return nil, &config.InputError{Input: "permissions-template", What: "the template is larger than 64 KiB", Fix: "IAM allows 10,240 characters of inline policy"}
	}
	return data, nil
}

// connect builds the AWS clients. In plan mode missing credentials are not
// an error: the plan is computed against an empty account.
func (s *session) connect(ctx context.Context) error {
	awsCfg, err := s.env.LoadAWS(ctx, s.cfg.Region)
	if err == nil {
		_, err = awsCfg.Credentials.Retrieve(ctx)
	}
	if err != nil {
		if s.cfg.DryRun && s.cfg.AccountID != "" {
			s.offline = true
			s.u.warning("no AWS credentials: the plan assumes nothing exists yet (%v)", firstLine(err))
			return nil
		}
		if s.cfg.DryRun {
			return &config.InputError{Input: "account-id", What: "planning without AWS credentials needs the account id", Fix: "set account-id, or provide credentials"}
		}
		return fmt.Errorf("load AWS credentials: %w", err)
	}
	s.iam = iam.NewFromConfig(awsCfg)
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

// observe reads the role and, when needed, the account id, concurrently.
func (s *session) observe(ctx context.Context) (iamrole.Observed, error) {
	if s.offline {
		return iamrole.Observed{}, nil
	}
	name, _, _ := desired.Names(s.cfg, s.p)
	var (
		wg             sync.WaitGroup
		obs            iamrole.Observed
		obsErr, accErr error
		account        string
		needAccount    = s.cfg.AccountID == "" || s.cfg.OIDCProviderARN == ""
	)
	if needAccount && s.cfg.AccountID == "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				accErr = fmt.Errorf("sts GetCallerIdentity (set account-id to skip it): %w", err)
				return
			}
			account = aws.ToString(out.Account)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		obs, obsErr = iamrole.Observe(ctx, s.iam, name, s.mode == config.ModeDown)
	}()
	wg.Wait()
	if err := errors.Join(accErr, obsErr); err != nil {
		return obs, err
	}
	if account != "" {
		if err := s.cfg.ResolveAccount(account); err != nil {
			return obs, err
		}
	}
	return obs, nil
}

func (s *session) makePlan(obs iamrole.Observed) error {
	var err error
	var warnings []string
	switch s.mode {
	case config.ModeUp:
		s.steps, warnings, err = iamrole.PlanUp(s.state.Role, obs, s.env.Now())
	case config.ModeDown:
		s.steps, err = iamrole.PlanDown(s.state.RoleName, obs, s.state.Role.RepositoryID, s.state.Role.PullRequest)
	}
	if err != nil {
		return err
	}
	for _, w := range warnings {
		s.u.warning("%s", w)
	}
	s.plan = plan.Plan{Mode: s.mode, Changes: iamrole.Changes(s.steps)}
	return nil
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
}

func indent(doc []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "  ", "  "); err != nil {
		return string(doc)
	}
	return "  " + buf.String()
}

// apply executes the plan. When another run created the role between
// observe and apply, it observes and plans once more, and converges.
func (s *session) apply(ctx context.Context) error {
	err := iamrole.Apply(ctx, s.iam, s.steps)
	if errors.Is(err, iamrole.ErrRaced) {
		s.u.info("the role appeared meanwhile (another run): re-reading and converging")
		obs, oerr := iamrole.Observe(ctx, s.iam, s.state.RoleName, s.mode == config.ModeDown)
		if oerr != nil {
			return oerr
		}
		if err := s.makePlan(obs); err != nil {
			return err
		}
		err = iamrole.Apply(ctx, s.iam, s.steps)
	}
	if err != nil {
		return fmt.Errorf("apply: %w (a re-run converges what was left)", err)
	}
	if s.mode == config.ModeUp && s.cfg.WaitForRole && created(s.plan) {
		waited, err := iamrole.WaitUntilVisible(ctx, s.iam, s.state.RoleName, time.Minute)
		if err != nil {
			return err
		}
		s.u.info("role %s is visible in IAM (waited %s)", s.state.RoleName, waited.Round(time.Millisecond))
	}
	return nil
}

func created(p plan.Plan) bool {
	for _, c := range p.Changes {
		if c.Resource == "iam-role" && c.Action == plan.Create {
			return true
		}
	}
	return false
}

// report writes the outputs and the job summary.
func (s *session) report(applied bool) error {
	changed := applied && s.plan.Changed()
	outs := [][2]string{
		{"role-arn", s.state.RoleARN},
		{"role-name", s.state.RoleName},
		{"environment", s.state.Environment},
		{"preview-url", s.state.PreviewURL},
		{"changed", strconv.FormatBool(changed)},
		{"plan", s.plan.JSON()},
	}
	if s.mode == config.ModeDown {
		outs[0][1], outs[2][1], outs[3][1] = "", "", ""
	}
	for _, o := range outs {
		if err := s.u.setOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	var md strings.Builder
	title := "Preview access"
	fmt.Fprintf(&md, "## %s: %s of %s pull request %d\n\n", title, s.mode, plan.MarkdownCell(s.p.FullName()), s.p.Number)
	if s.cfg.DryRun {
		md.WriteString("Dry run: nothing was changed.\n\n")
	}
	md.WriteString(s.plan.Markdown())
	md.WriteString("\n| output | value |\n|---|---|\n")
	for _, o := range outs[:4] {
		if o[1] != "" {
			fmt.Fprintf(&md, "| %s | `%s` |\n", o[0], plan.MarkdownCell(o[1]))
		}
	}
	fmt.Fprintf(&md, "| changed | %t |\n", changed)
	if len(s.u.warnings) > 0 {
		md.WriteString("\n**Warnings**\n\n")
		for _, w := range s.u.warnings {
			fmt.Fprintf(&md, "- %s\n", plan.MarkdownCell(w))
		}
	}
	s.u.summary(md.String())
	return nil
}

func runSweep(ctx context.Context, env Env, u *ui, cfg config.Config, ev event.Event, output string) error {
	return errors.New("sweep: not yet wired")
}

func previewFromAPI(ctx context.Context, env Env, u *ui, cfg config.Config, ev event.Event) (preview.Preview, error) {
	return preview.Preview{}, errors.New("reading a pull request from the API: not yet wired")
}
