package engine

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/preview-access/preview-access/internal/access"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/templates"
)

// repoFiles turns the permission template and the access file observe
// read into what rendering needs. Under pull_request_target they come
// from the default branch through the API, never from the PR's head; the
// CLI without a token reads local files. Teardown needs names only: a
// template or access file that was since deleted or broken must not keep a
// role alive, so down uses the built-in ones.
func (s *Session) repoFiles(read map[string]observe.File) (tmpl []byte, acc access.File, err error) {
	tmpl, _ = templates.FS.ReadFile(templates.DefaultPermissions)
	acc = access.Default()
	if s.Mode == config.ModeDown {
		return tmpl, acc, nil
	}
	var errs []error
	if path := s.Config.PermissionsTemplate; path != "" {
		data, err := s.templateFile(s.repoFile(read, path))
		errs = append(errs, err)
		if err == nil {
			tmpl = data
		}
	}
	if s.Config.Gateway != config.GatewayNone {
		f, err := s.accessFile(s.repoFile(read, s.Config.AccessFile))
		errs = append(errs, err)
		if err == nil {
			acc = f
		}
	}
	return tmpl, acc, errors.Join(errs...)
}

func (s *Session) templateFile(f observe.File) ([]byte, error) {
	switch {
	case f.Err != nil:
		// Never the built-in template instead: one that cannot be read
		// may be narrower than the default.
		return nil, githubInputError("permissions-template", "cannot read it, and the built-in template is not used in its place", f.Err)
	case !f.Found:
		return nil, &config.InputError{Input: "permissions-template", What: fmt.Sprintf("%s does not exist on the default branch", s.Config.PermissionsTemplate), Fix: "check the path; it is relative to the repository root, and is read from the default branch"}
	case len(f.Data) > 64<<10:
		return nil, &config.InputError{Input: "permissions-template", What: "the template is larger than 64 KiB", Fix: "IAM allows 10,240 characters of inline policy"}
	}
	return f.Data, nil
}

// accessFile parses the access file. Its absence must be proven (see
// ghapi.FileAtRef): a 404 from a token that cannot see the repository's
// contents would otherwise drop a file that narrows the defaults, and
// widen access.
func (s *Session) accessFile(f observe.File) (access.File, error) {
	switch {
	case f.Err != nil:
		return access.File{}, githubInputError("access-file", "cannot read it, so no access is granted (the defaults would grant more than a file may)", f.Err)
	case !f.Found && s.Config.AccessFileExplicit:
		return access.File{}, &config.InputError{Input: "access-file", What: fmt.Sprintf("%s does not exist on the default branch", s.Config.AccessFile), Fix: "check the path (relative to the repository root, read from the default branch), or leave access-file unset to use the defaults"}
	case !f.Found:
		s.Env.Log.Notice("no access file %s on the default branch: the defaults apply (the author is admin, reviewers and assignees are reader)", s.Config.AccessFile)
		return access.Default(), nil
	}
	parsed, err := access.Parse(f.Data)
	if err != nil {
		return access.File{}, fmt.Errorf("access file %s: %w", s.Config.AccessFile, err)
	}
	return parsed, nil
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

// repoFile is a file of the repository's default branch, the branch the
// provisioner's own trust is pinned to, as observe read it through the
// API. Never the PR's base branch (a PR author can open a PR against a
// branch they pushed, with their own access file) and never the workspace
// of a run (it may hold the PR's code). Only the CLI outside Actions,
// without a token, reads the local working copy.
func (s *Session) repoFile(read map[string]observe.File, path string) observe.File {
	if s.Clients.GitHub != nil {
		return read[path]
	}
	if !s.Env.LocalFiles {
		return observe.File{Err: errors.New("reading it from the default branch needs a GitHub token (github-token)")}
	}
	data, err := s.Env.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return observe.File{}
	case err != nil:
		return observe.File{Err: err}
	}
	return observe.File{Data: data, Found: true}
}
