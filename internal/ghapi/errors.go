package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/ghretry"
)

// Errors callers match with errors.Is. Every error this package returns
// from a failed GitHub call wraps one of them, or a context error, or the
// transport's error.
var (
	// ErrNotFound: the thing asked for does not exist (or the token cannot
	// see it, which GitHub reports the same way).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the token lacks a permission. The error is a
	// *PermissionError naming it.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: GitHub rejected the token itself (401).
	ErrUnauthorized = errors.New("the GitHub token was rejected (401 Bad credentials): it is invalid or expired")
	// ErrRateLimited: a rate limit outlasted the retries or asked for a
	// longer wait than Options.MaxRateLimitWait.
	ErrRateLimited = errors.New("GitHub API rate limit exceeded")
	// ErrInvalid: GitHub refused the request as invalid (422).
	ErrInvalid = errors.New("GitHub refused the request as invalid")
)

// PermissionError says which permission the token needs for an operation.
// errors.Is(err, ErrForbidden) is true for it.
type PermissionError struct {
	Action     string // what was attempted, e.g. "write issue comments on octo-org/shop#42"
	Permission string // what to grant, e.g. "pull-requests: write"
	Status     int    // GitHub's HTTP status (403, or 404 where GitHub hides a resource)
	Message    string // GitHub's message, e.g. "Resource not accessible by integration"
	// Accepted is GitHub's X-Accepted-GitHub-Permissions header when sent
	// (GitHub Apps and fine-grained tokens), e.g. "administration=write".
	Accepted string
	Err      error // the underlying go-github error
}

func (e *PermissionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the token cannot %s: grant `%s`", e.Action, e.Permission)
	if e.Status != 0 || e.Message != "" {
		fmt.Fprintf(&b, " (GitHub answered %d %s", e.Status, e.Message)
		if e.Accepted != "" {
			fmt.Fprintf(&b, "; accepted permissions: %s", e.Accepted)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *PermissionError) Is(target error) bool { return target == ErrForbidden }

// Unwrap returns the go-github error.
func (e *PermissionError) Unwrap() error { return e.Err }

// op describes one call for error messages.
type op struct {
	action     string // "read pull request octo-org/shop#42"
	permission string // "pull-requests: read"
	// notFound is the message for a 404; "" means a 404 is GitHub hiding a
	// resource from a token without the permission (a PermissionError).
	notFound string
}

// fail turns an error from go-github into this package's errors.
func (o op) fail(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cannot %s: %w", o.action, err)
	}
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("cannot %s: %w%s", o.action, ErrRateLimited, ghretry.ResetIn(rl.Response, rl.Rate.Reset.Time))
	case errors.As(err, &abuse):
		return fmt.Errorf("cannot %s: %w (secondary rate limit)%s", o.action, ErrRateLimited, ghretry.ResetIn(abuse.Response, time.Time{}))
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return fmt.Errorf("cannot %s: %w", o.action, err)
	}
	switch er.Response.StatusCode {
	case http.StatusTooManyRequests:
		return fmt.Errorf("cannot %s: %w%s", o.action, ErrRateLimited, ghretry.ResetIn(er.Response, time.Time{}))
	case http.StatusUnauthorized:
		return fmt.Errorf("cannot %s: %w", o.action, ErrUnauthorized)
	case http.StatusNotFound:
		if o.notFound != "" {
			return fmt.Errorf("%s: %w: %w", o.notFound, ErrNotFound, err)
		}
		return o.permission403(er, err)
	case http.StatusForbidden:
		return o.permission403(er, err)
	case http.StatusUnprocessableEntity:
		return fmt.Errorf("cannot %s: %w: %s", o.action, ErrInvalid, describe(er))
	}
	return fmt.Errorf("cannot %s: %w", o.action, err)
}

func (o op) permission403(er *github.ErrorResponse, err error) error {
	return &PermissionError{
		Action:     o.action,
		Permission: o.permission,
		Status:     er.Response.StatusCode,
		Message:    er.Message,
		Accepted:   er.Response.Header.Get("X-Accepted-GitHub-Permissions"),
		Err:        err,
	}
}

// describe renders GitHub's message and field errors without the request
// URL (which go-github's Error includes).
func describe(er *github.ErrorResponse) string {
	parts := []string{er.Message}
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Field != "":
			parts = append(parts, fmt.Sprintf("%s %s (%s)", e.Resource, e.Field, e.Code))
		}
	}
	return strings.Join(parts, "; ")
}

// isStatus reports whether err is a GitHub error response with that status.
func isStatus(err error, status int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == status
}
