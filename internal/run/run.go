// Package run is the action and the CLI: it wires configuration, event,
// AWS, GitHub and the gateway together and runs the one pipeline
// (context → desired → observed → plan → apply → report) for a mode.
package run

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sethvargo/go-githubactions"

	"github.com/preview-access/preview-access/internal/cli"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/version"
)

// Env is everything a run takes from its process. Tests build one per
// case, so runs are independent and parallel.
type Env struct {
	Args   []string // without the program name
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE (os.Environ), to find
	// INPUT_ variables the action does not know; nil = none.
	Environ    func() []string
	Stdout     io.Writer
	Stderr     io.Writer
	Now        func() time.Time
	Terminal   bool // stdout is a terminal: colour the plan
	Version    string
	HTTPClient *http.Client // base client for GitHub and the gateway; nil = default
	// LoadAWS loads AWS configuration; nil = the SDK's default chain.
	LoadAWS func(ctx context.Context, region string) (aws.Config, error)
	// ReadFile reads local files (CLI event files, templates); nil = os.ReadFile.
	ReadFile func(path string) ([]byte, error)
}

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Main runs one invocation and returns its exit code.
func Main(ctx context.Context, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.LoadAWS == nil {
		env.LoadAWS = engine.LoadAWS
	}
	if env.ReadFile == nil {
		env.ReadFile = readFile
	}
	u := &ui{
		a:       githubactions.New(githubactions.WithGetenv(env.Getenv), githubactions.WithWriter(env.Stdout)),
		actions: env.Getenv("GITHUB_ACTIONS") == "true",
		out:     env.Stdout,
		errw:    env.Stderr,
		colour:  env.Terminal && env.Getenv("NO_COLOR") == "",
		getenv:  env.Getenv,
	}
	err := dispatch(ctx, env, u)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, cli.ErrHelp):
		return ExitOK
	case errors.Is(err, errUsage):
		fmt.Fprintln(env.Stderr, usageLine(env.Args, err))
		return ExitUsage
	default:
		u.error(err)
		u.summary(report.Failure(engine.Problems(err), u.wrote))
		return ExitError
	}
}

func dispatch(ctx context.Context, env Env, u *ui) error {
	args := env.Args
	if len(args) == 0 {
		if u.actions {
			return runAction(ctx, env, u)
		}
		fmt.Fprint(env.Stderr, cli.Usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd := args[0]
	switch cmd {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(env.Stdout, cli.Usage)
		return nil
	case "version", "--version", "-version":
		fmt.Fprintf(env.Stdout, "preview-access %s\n", version.String(env.Version))
		return nil
	case "plan", "up", "down", "sweep", "status":
		return runCLI(ctx, env, u, cmd, args[1:])
	case "bootstrap":
		return runBootstrap(env, u, args[1:])
	case "explain":
		return runExplain(env, u, args[1:])
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// logVersion says which build is running: the first line of the log,
// right after the secrets are masked (nothing may print before that), or on
// stderr for a person (stdout may carry the JSON plan).
func logVersion(env Env, u *ui) {
	line := "preview-access " + version.String(env.Version)
	if u.actions {
		u.Info("%s", line)
		return
	}
	fmt.Fprintln(env.Stderr, line)
}

// cliFlags are the CLI-only flags; the action's inputs the command takes
// become flags of the same names.
type cliFlags struct {
	*cli.Set
	event        *string
	eventName    *string
	repo         *string
	repositoryID *string
	output       *string
	yes          *string
	inputs       map[string]*string
}

func newFlagSet(name string) *cliFlags {
	fs := cli.New(name, cli.CommandHelp[name]+"\nEvery action input the command takes is a flag of the same name.\n")
	f := &cliFlags{Set: fs, inputs: map[string]*string{}}
	if name != "explain" {
		f.event = fs.String("event", "FILE", "event payload (as GitHub writes to GITHUB_EVENT_PATH)", "")
		f.eventName = fs.String("event-name", "NAME", "event name of --event", "pull_request_target")
	}
	f.repo = fs.String("repo", "OWNER/REPO", "repository (with --pr, instead of --event)", "")
	f.repositoryID = fs.String("repository-id", "ID", "numeric repository id (when no github-token can read it)", "")
	if name != "explain" {
		f.output = fs.String("output", "text|json", "output format", "text")
	}
	if name == "down" {
		f.yes = fs.Bool("yes", "take the preview of an open pull request down", false)
	}
	for _, in := range config.Inputs {
		if !slices.Contains(in.Commands(), name) {
			continue
		}
		def := in.Default
		if strings.Contains(def, "${{") {
			def = "" // an expression only the runner expands
		}
		if in.Boolean() {
			f.inputs[in.Name] = fs.Bool(in.Name, in.Description, def == "true")
		} else {
			f.inputs[in.Name] = fs.String(in.Name, in.Value(), in.Description, def)
		}
	}
	return f
}

// flagPreview is the pull request a person names with --repo,
// --repository-id and --pr; the last two may be missing (0).
func (f *cliFlags) flagPreview(lookup func(string) string) (preview.Preview, error) {
	owner, repo, ok := strings.Cut(*f.repo, "/")
	if !ok || !preview.ValidOwner(owner) || !preview.ValidRepo(repo) {
		return preview.Preview{}, fmt.Errorf("%w: --repo %q is not OWNER/REPO", errUsage, *f.repo)
	}
	p := preview.Preview{Owner: owner, Repo: repo, State: "open"}
	if *f.repositoryID != "" {
		id, err := strconv.ParseInt(*f.repositoryID, 10, 64)
		if err != nil || id <= 0 {
			return p, fmt.Errorf("%w: --repository-id %q is not a positive number", errUsage, *f.repositoryID)
		}
		p.RepositoryID = id
	}
	if v := lookup("pr"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return p, fmt.Errorf("%w: --pr %q is not a pull request number", errUsage, v)
		}
		p.Number = n
	}
	return p, nil
}

// lookupFor merges CLI flags, INPUT_* variables and (for the region) the
// AWS environment. A flag given on the command line wins.
func lookupFor(env Env, f *cliFlags) func(string) string {
	return func(name string) string {
		if f != nil && f.inputs[name] != nil && f.IsSet(name) {
			return *f.inputs[name]
		}
		if name == "AWS_REGION" {
			if v := env.Getenv("AWS_REGION"); v != "" {
				return v
			}
			return env.Getenv("AWS_DEFAULT_REGION")
		}
		return env.Getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_")))
	}
}

// usageLine is the one line a usage error prints: the problem and the help
// of the command it is about.
func usageLine(args []string, err error) string {
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		return ue.Line()
	}
	ue = &cli.UsageError{Msg: strings.TrimPrefix(err.Error(), "usage: ")}
	if len(args) > 0 && cli.CommandHelp[args[0]] != "" {
		ue.Command = args[0]
	}
	return ue.Line()
}
