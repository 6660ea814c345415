package run

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/templates"
)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// runAction is the GitHub Action: inputs from INPUT_*, the event from
// GITHUB_EVENT_PATH.
func runAction(ctx context.Context, env Env, u *ui) error {
	cfg, err := config.Load(lookupFor(env, nil))
	u.mask(append(cfg.Secrets(), env.Getenv("GITHUB_TOKEN"))...)
	logVersion(env, u)
	warnUnknownInputs(env, u)
	if err != nil {
		return err
	}
	ev, err := event.Load(env.Getenv("GITHUB_EVENT_NAME"), env.Getenv("GITHUB_EVENT_PATH"))
	if err != nil {
		return err
	}
	return runEvent(ctx, &command{env: env, u: u, cfg: cfg, output: "text"}, ev)
}

// runCLI is a person's command: the mode comes from the command, inputs
// from flags (or INPUT_* variables), the pull request from --event or
// --repo and --pr.
func runCLI(ctx context.Context, env Env, u *ui, cmd string, args []string) error {
	if !u.actions {
		logVersion(env, u) // nothing to mask for a person's terminal
	}
	f := newFlagSet(cmd)
	if err := f.Parse(args, env.Stdout); err != nil {
		return err
	}
	if *f.output != "text" && *f.output != "json" {
		return fmt.Errorf("%w: --output must be text or json", errUsage)
	}
	lookup := lookupFor(env, f)
	// The command is the mode; plan keeps auto's choice of up or down.
	modeLookup := func(name string) string {
		switch {
		case name == "mode" && cmd == "plan":
			return config.ModeAuto
		case name == "mode":
			return cmd
		case name == "dry-run" && cmd == "plan":
			return "true"
		}
		return lookup(name)
	}

	var ev event.Event
	sample := false
	switch {
	case *f.event != "":
		data, err := env.ReadFile(*f.event)
		if err != nil {
			return fmt.Errorf("read event file: %w", err)
		}
		if ev, err = event.Parse(*f.eventName, data); err != nil {
			return err
		}
	case *f.repo != "":
		p, err := f.flagPreview(lookup)
		if err != nil {
			return err
		}
		ev = event.Event{Name: "cli", Preview: &p, PR: p.Number}
		if cmd != "sweep" && cmd != "status" && p.Number == 0 {
			return fmt.Errorf("%w: %s needs --pr N with --repo", errUsage, cmd)
		}
	case cmd == "plan":
		u.Notice("no --event or --repo given: planning the built-in sample event (octo-org/shop pull request 42, account 123456789012)")
		data, err := templates.FS.ReadFile(templates.SampleEvent)
		if err != nil {
			return err
		}
		if ev, err = event.Parse("pull_request_target", data); err != nil {
			return err
		}
		modeLookup = sampleDefaults(modeLookup)
		sample = true
	default:
		return fmt.Errorf("%w: %s needs --event FILE or --repo OWNER/REPO", errUsage, cmd)
	}

	cfg, err := config.Load(modeLookup)
	u.mask(append(cfg.Secrets(), env.Getenv("GITHUB_TOKEN"))...)
	if u.actions {
		logVersion(env, u)
	}
	if err != nil {
		return err
	}
	return runEvent(ctx, &command{env: env, u: u, cfg: cfg, output: *f.output, sample: sample, yes: f.yes != nil && *f.yes == "true"}, ev)
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
			return "arn:aws:iam::123456789012:policy/preview-access-boundary-octo-org.shop"
		case "preview-url":
			return "https://pr-{number}.preview.example.com"
		}
		return ""
	}
}

// eventMode is the mode the run takes: the mode input, or for auto (and
// plan) the event's; "" when the event asks for nothing.
func eventMode(u *ui, cfg config.Config, ev event.Event) (string, error) {
	mode := cfg.Mode
	if mode == config.ModeAuto || mode == config.ModePlan {
		m, ok, reason := event.Mode(ev)
		if ev.Name == "cli" {
			m, ok = config.ModeUp, true
		}
		if !ok {
			u.Notice("%s: nothing to do", reason)
			return "", nil
		}
		mode = m
	}
	switch mode {
	case config.ModeSweep, config.ModeUp, config.ModeDown, config.ModeAwait, config.ModeStatus:
		return mode, nil
	}
	return "", fmt.Errorf("mode %q is not known", mode)
}

// runEvent picks the mode and runs it.
func runEvent(ctx context.Context, e *command, ev event.Event) error {
	env, u, cfg := e.env, e.u, e.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	if ev.PR == 0 && cfg.PR > 0 && ev.Preview == nil {
		ev.PR = cfg.PR
	}
	mode, err := eventMode(u, cfg, ev)
	if mode == "" || err != nil {
		return err
	}
	var gh GitHubAPI
	if !e.sample {
		if gh, err = newGitHub(env, u, cfg); err != nil {
			return err
		}
	}
	if gh != nil {
		e.clients.GitHub = gh
	}
	switch mode {
	case config.ModeSweep:
		return runSweep(ctx, e, ev)
	case config.ModeStatus:
		return runStatus(ctx, e, ev)
	}
	if gh == nil && cfg.TrustScope == policy.ScopeEnvironment && !cfg.DryRun && mode == config.ModeUp {
		// A trust that names an environment nobody created would let any
		// job naming it (GitHub then creates it unprotected) pass the
		// environment condition: never create such a role.
		return &config.InputError{Input: "github-token", What: "trust-scope environment needs a token that can create environments", Fix: "pass a GitHub App token with Administration: write, or use trust-scope: ref"}
	}
	if gh == nil && !e.sample && mode != config.ModeAwait {
		u.Warning("no GitHub token: skipping the PR re-read, comment, deployment and environment; a permissions template or access file cannot be read either (set github-token)")
	}

	r := repository(env, ev)
	owner, repo := r.Owner, r.Repo
	fromAPI := false // the PR was just read from the API, not from the event
	switch {
	case ev.Name == "cli" && gh != nil:
		// The API is the authority on the PR: state, ids, reviewers.
		p, err := previewFromAPI(ctx, gh, owner, repo, ev.PR)
		if err != nil {
			return err
		}
		ev.Preview, fromAPI = &p, true
	case ev.Name == "cli" && ev.Preview.RepositoryID == 0:
		return fmt.Errorf("%w: --repository-id is needed without a GitHub token (the trust policy pins the numeric repository id; `gh api repos/%s/%s --jq .id` prints it)", errUsage, owner, repo)
	case ev.Preview == nil && ev.PR == 0:
		return fmt.Errorf("mode %s needs a pull request: the %s event carries none (give the pr input)", mode, ev.Name)
	case ev.Preview == nil:
		if owner == "" {
			return fmt.Errorf("cannot tell the repository of pull request %d: GITHUB_REPOSITORY is not set", ev.PR)
		}
		p, err := previewFromAPI(ctx, gh, owner, repo, ev.PR)
		if err != nil {
			return err
		}
		ev.Preview, fromAPI = &p, true
	}
	p := *ev.Preview
	if err := p.Validate(); err != nil {
		return err
	}
	if mode == config.ModeAwait {
		return runAwait(ctx, e, p)
	}
	if ev.Name == "cli" && p.State == "closed" && mode == config.ModeUp && cfg.Mode == config.ModeAuto {
		mode = config.ModeDown // plan of a closed PR shows its teardown
	}
	if ev.Name == "cli" && mode == config.ModeDown && p.State == "open" && !e.yes {
		return fmt.Errorf("%w: pull request %d is open (or its state is unknown without a token): down removes its access while it is open; pass --yes to do it anyway", errUsage, p.Number)
	}
	if mode == config.ModeUp && p.Fork && !cfg.AllowForks {
		u.Notice("pull request %d comes from a fork: no preview access is created (set allow-forks: true to opt in)", p.Number)
		return nil
	}
	if mode == config.ModeUp && p.State == "closed" {
		u.Notice("pull request %d is closed: nothing to create", p.Number)
		return nil
	}
	s := &engine.Session{Env: e.engineEnv(), Clients: &e.clients, Config: cfg, Preview: p, Mode: mode, PRRead: fromAPI, Sample: e.sample}
	if err := s.Prepare(ctx); err != nil {
		return err
	}
	return finish(ctx, e, s)
}

// repository is the repository a run is about, as a Preview without a
// pull request: the event's PR's, else the event's repository, else
// GITHUB_REPOSITORY and GITHUB_REPOSITORY_ID.
func repository(env Env, ev event.Event) preview.Preview {
	switch {
	case ev.Preview != nil:
		p := *ev.Preview
		p.Number = 0
		return p
	case ev.Repo != nil:
		return preview.Preview{Owner: ev.Repo.Owner.Login, Repo: ev.Repo.Name, RepositoryID: ev.Repo.ID, OwnerID: ev.Repo.Owner.ID}
	}
	owner, repo, _ := strings.Cut(env.Getenv("GITHUB_REPOSITORY"), "/")
	id, _ := strconv.ParseInt(env.Getenv("GITHUB_REPOSITORY_ID"), 10, 64)
	return preview.Preview{Owner: owner, Repo: repo, RepositoryID: id}
}

// warnUnknownInputs warns of each INPUT_ variable that is not an input of
// the action.
func warnUnknownInputs(env Env, u *ui) {
	if env.Environ == nil {
		return
	}
	for _, w := range config.UnknownInputs(env.Environ()) {
		u.Warning("%s", w)
	}
}

// runAwait is the deploy job's mode: it names the PR's role in the outputs
// (role-arn, so that a long name with a hash needs no hand-written
// expression), then waits for the provisioner's deployment of the PR's head
// to succeed. It reads GitHub only: no AWS credentials.
func runAwait(ctx context.Context, e *command, p preview.Preview) error {
	st, err := engine.AwaitState(e.cfg, e.clients.GitHub != nil, p, e.env.Now())
	if err != nil {
		return err
	}
	for _, o := range [][2]string{{"role-arn", st.RoleARN}, {"role-name", st.RoleName}, {"environment", st.Environment}, {"preview-url", st.PreviewURL}} {
		if err := e.u.setOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	return engine.Await(ctx, e.u, e.clients.GitHub, p, desired.EnvironmentName(e.cfg, p))
}
