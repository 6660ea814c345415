// Package cli is how preview-access's commands take flags: GNU-style
// --name VALUE (or --name=VALUE), boolean flags that need no value, help on
// stdout, and usage errors of one line that point to --help. It wraps the
// standard library's flag package, which prints its own usage and errors,
// with the help a person reads.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ErrUsage marks errors in how the command was called: the caller prints
// one line and a pointer to --help, and exits 2.
var ErrUsage = errors.New("usage")

// UsageError is a usage error of a command.
type UsageError struct {
	Command string // "" for the top level
	Msg     string
}

func (e *UsageError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrUsage) true.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// Line is the one line a person sees: the problem and where the help is.
func (e *UsageError) Line() string {
	help := "preview-access --help"
	if e.Command != "" {
		help = "preview-access " + e.Command + " --help"
	}
	return "preview-access: " + e.Msg + " (see " + help + ")"
}

// Usagef is a usage error of command.
func Usagef(command, format string, args ...any) error {
	return &UsageError{Command: command, Msg: fmt.Sprintf(format, args...)}
}

// ErrHelp is returned by Parse when the person asked for help, which Parse
// has printed.
var ErrHelp = flag.ErrHelp

// Set is one command's flags.
type Set struct {
	command string // "plan", "bootstrap", …
	help    string // what the command does, and examples
	fs      *flag.FlagSet
	flags   []entry
	set     map[string]bool
}

type entry struct {
	name, value, usage, def string
	boolean                 bool
}

// New returns the flag set of command; help says what it does.
func New(command, help string) *Set {
	fs := flag.NewFlagSet("preview-access "+command, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse reports; the flag package's own print is two screens
	fs.Usage = func() {}
	return &Set{command: command, help: help, fs: fs, set: map[string]bool{}}
}

// String defines a flag with a value; value names it in the help (FILE,
// ARN, N).
func (s *Set) String(name, value, usage, def string) *string {
	p := new(string)
	*p = def
	s.fs.Var((*stringValue)(p), name, usage)
	s.flags = append(s.flags, entry{name: name, value: value, usage: usage, def: def})
	return p
}

// Bool defines a flag that is true when given without a value, and takes
// true or false as --name=VALUE.
func (s *Set) Bool(name, usage string, def bool) *string {
	p := new(string)
	*p = strconv.FormatBool(def)
	s.fs.Var((*boolValue)(p), name, usage)
	s.flags = append(s.flags, entry{name: name, usage: usage, def: *p, boolean: true})
	return p
}

// Parse parses args. It returns ErrHelp after printing the help to out
// for -h/--help, and an ErrUsage error of one line for anything else
// wrong, naming the closest flag when one was misspelt.
func (s *Set) Parse(args []string, out io.Writer) error {
	err := s.fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		s.Usage(out)
		return ErrHelp
	case err != nil:
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			if near := Closest(name, s.names()); near != "" {
				msg += " (did you mean --" + near + "?)"
			}
		}
		return Usagef(s.command, "%s", msg)
	case s.fs.NArg() > 0:
		return Usagef(s.command, "unexpected argument %q", s.fs.Arg(0))
	}
	s.fs.Visit(func(f *flag.Flag) { s.set[f.Name] = true })
	return nil
}

// IsSet reports whether the flag was given on the command line.
func (s *Set) IsSet(name string) bool { return s.set[name] }

func (s *Set) names() []string {
	out := make([]string, len(s.flags))
	for i, f := range s.flags {
		out[i] = f.name
	}
	return out
}

// Usage prints the command's help: what it does, then its flags, each
// with its value's name, its meaning and its default.
func (s *Set) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: preview-access %s [flags]\n\n%s\nFlags:\n", s.command, s.help)
	for _, f := range s.flags {
		head := "  --" + f.name
		if !f.boolean {
			head += " " + f.value
		}
		usage := f.usage
		if f.def != "" && !(f.boolean && f.def == "false") {
			usage += " (default " + f.def + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", head, usage)
	}
}

// Closest is the known name within two edits of name (a typo), or "".
func Closest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev = cur
	}
	return prev[len(b)]
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

// boolValue keeps the value as the action's inputs spell it ("true",
// "false"), so a flag and an INPUT_ variable read alike.
type boolValue string

func (v *boolValue) String() string   { return string(*v) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(strconv.FormatBool(b))
	return nil
}

// Usage is the top-level help: the commands, examples and exit codes.
const Usage = `preview-access gives each pull request's preview its own AWS IAM role and
gateway access policy, and removes both when the pull request closes.

Usage:
  preview-access <command> [flags]

Commands:
  plan       print what up or down would change; writes nothing
  up         create or update the pull request's role (and gateway policy)
  down       remove the pull request's role (and gateway policy)
  sweep      remove every preview of the repository whose PR is closed or expired
  status     list every live preview: who has which role and why, what sweep removes
  bootstrap  print the one-time AWS setup (OIDC provider, boundary, provisioner role)
  explain    show whether a GitHub OIDC token's claims satisfy a PR's trust policy
  version    print the version

Inside GitHub Actions (GITHUB_ACTIONS=true) with no command, the action's
inputs (INPUT_*) and event (GITHUB_EVENT_PATH) drive the run.

Examples:
  preview-access plan                              # plan the built-in sample event
  preview-access plan --event event.json --account-id 123456789012 --allow-missing-boundary
  preview-access up --repo octo-org/shop --pr 42 --repository-id 123456789 \
      --permissions-boundary arn:aws:iam::123456789012:policy/preview-access-boundary-octo-org.shop
  preview-access down --repo octo-org/shop --pr 42 --repository-id 123456789
  preview-access status --repo octo-org/shop --repository-id 123456789 --output json

Exit codes: 0 success (or nothing to do), 1 error, 2 usage error.
Run 'preview-access <command> --help' for the command's flags.
`

// BootstrapHelp is the bootstrap command's help.
const BootstrapHelp = `Print the one-time AWS setup for a repository: GitHub's OIDC provider, the
permissions boundary every preview role carries, and the provisioner role the
trusted workflow assumes. Most accounts have the provider already (aws iam
list-open-id-connect-providers): pass --no-oidc-provider then. Deploy the
CloudFormation output as the stack its first lines name, one per repository
(preview-access-OWNER-REPO-HASH), so that a second repository's setup never
replaces the first's:
  aws cloudformation deploy --template-file preview-access.yaml \
      --stack-name preview-access-octo-org-shop-7d604213 --capabilities CAPABILITY_NAMED_IAM
or apply --format terraform with Terraform.

Example:
  preview-access bootstrap --account-id 123456789012 --repo octo-org/shop --repository-id 123456789 --no-oidc-provider > preview-access.yaml
`

// ExplainHelp is the explain command's help.
const ExplainHelp = `Show, condition by condition, whether a GitHub OIDC token's claims satisfy a
pull request's trust policy, and which claim differs. The token is decoded
offline: it is never verified or sent anywhere.

Print a job's claims with a step such as
  curl -sH "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
    "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sts.amazonaws.com" | jq -r .value | cut -d. -f2 | base64 -d

Examples:
  preview-access explain --repo octo-org/shop --repository-id 123456789 --pr 42 --claims claims.json
  preview-access explain --trust-policy trust.json --token "$JWT"
`

// CommandHelp is the help of each command that runs the pipeline (and
// explain), above its flags.
var CommandHelp = map[string]string{
	"plan":    "Print what up (or down, for a closed PR) would change, and the rendered\ndocuments. Writes nothing; with --account-id it needs no AWS credentials.\n\nExamples:\n  preview-access plan\n  preview-access plan --event testdata/events/pull_request_target.opened.json --account-id 123456789012 --allow-missing-boundary --output json\n",
	"up":      "Create or update the pull request's role to the desired state.\n\nExample:\n  preview-access up --repo octo-org/shop --pr 42 --repository-id 123456789 --permissions-boundary arn:aws:iam::123456789012:policy/preview-access-boundary-octo-org.shop\n",
	"down":    "Remove the pull request's role. Already gone is success.\n\nExample:\n  preview-access down --repo octo-org/shop --pr 42 --repository-id 123456789\n",
	"sweep":   "Remove every preview of the repository whose pull request is closed or\nwhose expiry passed.\n\nExample:\n  preview-access sweep --repo octo-org/shop --repository-id 123456789 --dry-run\n",
	"explain": ExplainHelp,
	"status":  "List every live preview of the repository: pull request and state, role,\nexpiry, who has which gateway role and why, and what the next sweep removes.\nWrites nothing.\n\nExample:\n  preview-access status --repo octo-org/shop --repository-id 123456789 --output json\n",
}
