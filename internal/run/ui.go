package run

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/sethvargo/go-githubactions"

	"github.com/preview-access/preview-access/internal/cli"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/plan"
)

// ui is where a run reports: workflow commands inside Actions, plain lines
// for a person at a terminal.
type ui struct {
	a       *githubactions.Action
	actions bool // running inside GitHub Actions
	out     io.Writer
	errw    io.Writer
	colour  bool
	getenv  func(string) string

	warnings []string
	masked   map[string]bool
	wrote    bool // the run applied (part of) a plan: writes may have happened
}

// errorf reports each error joined in err as its own annotation.
func (u *ui) error(err error) {
	for _, e := range flatten(err) {
		msg := plan.Clean(e.Error())
		if u.actions {
			u.a.Errorf("%s", msg)
		} else {
			fmt.Fprintf(u.errw, "error: %s\n", msg)
		}
	}
}

func (u *ui) Warning(format string, args ...any) {
	msg := plan.Clean(fmt.Sprintf(format, args...))
	u.warnings = append(u.warnings, msg)
	if u.actions {
		u.a.Warningf("%s", msg)
	} else {
		fmt.Fprintf(u.errw, "warning: %s\n", msg)
	}
}

func (u *ui) Notice(format string, args ...any) {
	msg := plan.Clean(fmt.Sprintf(format, args...))
	if u.actions {
		u.a.Noticef("%s", msg)
	} else {
		fmt.Fprintf(u.errw, "notice: %s\n", msg)
	}
}

// info prints one line. Control characters are removed and a line that
// would read as a workflow command is defused, so data in it can never
// start one: the runner trims leading white space before it looks for
// "::" (indenting is no defence), and it finds the legacy "##[command]"
// anywhere in a line.
func (u *ui) Info(format string, args ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		line = plan.Clean(line)
		if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") {
			line = "> " + line
		}
		line = strings.ReplaceAll(line, "##[", "# #[")
		fmt.Fprintln(u.out, line)
	}
}

func (u *ui) mask(secrets ...string) {
	if !u.actions {
		return
	}
	if u.masked == nil {
		u.masked = map[string]bool{}
	}
	for _, s := range secrets {
		if s != "" && !u.masked[s] {
			u.masked[s] = true
			u.a.AddMask(s)
		}
	}
}

// setOutput writes an output with a random heredoc delimiter, so no value
// can end its own block and forge another output. go-githubactions uses a
// fixed delimiter, hence the file command written here.
func (u *ui) setOutput(name, value string) error {
	if u.getenv("GITHUB_OUTPUT") == "" {
		return nil
	}
	var delim string
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		delim = "ghadelimiter_" + hex.EncodeToString(b)
		if !strings.Contains(value, delim) && !strings.Contains(name, delim) {
			break
		}
	}
	return appendFile(u.getenv("GITHUB_OUTPUT"), name+"<<"+delim+"\n"+value+"\n"+delim+"\n")
}

func (u *ui) summary(markdown string) {
	path := u.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return
	}
	if err := appendFile(path, markdown+"\n"); err != nil {
		u.Warning("job summary not written: %v", err)
	}
}

// appendFile appends to a runner's file command. go-githubactions'
// IssueFileCommand panics when the file cannot be written; a run reports
// that as an error instead.
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

func flatten(err error) []error { return engine.Flatten(err) }

// errUsage marks command-line mistakes (exit code 2).
var errUsage = cli.ErrUsage
