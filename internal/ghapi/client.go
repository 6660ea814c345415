// Package ghapi is the GitHub side of the action: the few REST operations it
// needs (pull requests, the access file, the sticky comment, deployments and
// environments), over go-github with a retrying transport.
//
// The Ensure/Upsert/Write/Deactivate/Delete operations are idempotent: they
// compare with what is there (read by them, or by the caller's observe) and
// return changed=false without writing when GitHub already matches. The
// plain Create/Set calls write unconditionally; the caller plans them from
// observed state, so a re-run on an unchanged pull request makes no writes.
// Errors say which token permission is missing; the token itself never
// appears in an error or a log line.
package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/preview-access/preview-access/internal/endpoint"
	"github.com/preview-access/preview-access/internal/ghretry"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/go-cleanhttp"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRetries       = 4
	DefaultRetryWaitMin     = 1 * time.Second
	DefaultRetryWaitMax     = 30 * time.Second
	DefaultMaxRateLimitWait = 90 * time.Second
	DefaultUserAgent        = "preview-access"
)

// ErrNoToken is returned by New when Options.Token is empty. Callers that can
// run without GitHub (local CLI use) skip the GitHub steps on it.
var ErrNoToken = errors.New("no GitHub token: set the github-token input (default ${{ github.token }}) or GITHUB_TOKEN")

// Options configures a Client.
type Options struct {
	// Token authenticates every request (Authorization: Bearer).
	Token string
	// APIURL is GITHUB_API_URL. "" or https://api.github.com is github.com;
	// anything else is GitHub Enterprise Server (…/api/v3) or GHE.com.
	APIURL string
	// HTTPClient, when set, provides the base transport (tests, proxies).
	// Its Timeout is replaced by Timeout.
	HTTPClient *http.Client
	// Timeout bounds each attempt of each request. Default DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried: 0 means
	// DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff after 5xx
	// and network errors.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRateLimitWait is the longest wait a rate limit response may ask for
	// and still be retried; a longer one fails at once (retrying early only
	// prolongs a secondary rate limit).
	MaxRateLimitWait time.Duration
	// UserAgent is sent with every request. Default DefaultUserAgent.
	UserAgent string

	// sleep, when set, replaces the wait a retry would take (tests record
	// the wait asked for and return a tiny one).
	sleep func(time.Duration) time.Duration
}

// Client performs the action's GitHub operations.
type Client struct {
	gh         *github.Client
	graphqlURL string
	// pause waits between a failed write and the next attempt after
	// re-reading; tests shorten it.
	pause func(ctx context.Context, attempt int) error

	identityOnce sync.Once
	identity     Identity
	identityErr  error
}

// New returns a Client for o. It makes no request.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, ErrNoToken
	}
	if strings.ContainsAny(o.Token, " \t\r\n") {
		return nil, errors.New("the GitHub token contains whitespace")
	}
	o = withDefaults(o)

	base := o.HTTPClient
	if base == nil {
		base = cleanhttp.DefaultPooledClient()
	}
	attempt := *base
	attempt.Timeout = o.Timeout

	rt := ghretry.Options{
		RetryWaitMin: o.RetryWaitMin, RetryWaitMax: o.RetryWaitMax, MaxRetries: o.MaxRetries,
		MaxRateLimitWait: o.MaxRateLimitWait, Sleep: o.sleep,
	}
	api := ghretry.Client(&attempt, rt)
	gh := github.NewClient(api).WithAuthToken(o.Token)
	gh.UserAgent = o.UserAgent

	enterprise, err := endpoint.GitHubAPI(o.APIURL)
	if err != nil {
		return nil, err
	}
	graphqlURL := "https://api.github.com/graphql"
	if enterprise != "" {
		root := strings.TrimSuffix(strings.TrimSuffix(enterprise, "/"), "/api/v3")
		if gh, err = gh.WithEnterpriseURLs(enterprise, root+"/api/uploads/"); err != nil {
			return nil, fmt.Errorf("GITHUB_API_URL %q: %w", o.APIURL, err)
		}
		// GitHub Enterprise Server serves GraphQL at /api/graphql.
		graphqlURL = root + "/api/graphql"
	}
	c := &Client{gh: gh, graphqlURL: graphqlURL}
	c.pause = func(ctx context.Context, attempt int) error {
		wait := rt.Backoff(o.RetryWaitMin, o.RetryWaitMax, attempt, nil)
		select {
		case <-time.After(wait):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return c, nil
}

// maxWriteAttempts bounds how often retryWrite sends one write.
const maxWriteAttempts = 3

// retryWrite sends a write that must not happen twice. When it fails in a
// way that may hide a write GitHub did (a 5xx, a connection lost after
// sending), happened reads GitHub; the write is sent again only when
// happened says it did not take effect, at most maxWriteAttempts times in
// all. write and happened return go-github's errors as they are.
func (c *Client) retryWrite(ctx context.Context, write func() error, happened func() (bool, error)) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if err == nil || !ghretry.MayHaveApplied(err) || attempt == maxWriteAttempts {
			return err
		}
		if perr := c.pause(ctx, attempt); perr != nil {
			return err
		}
		ok, rerr := happened()
		if rerr != nil {
			return err // the write's error says more than the read's
		}
		if ok {
			return nil
		}
	}
}

func withDefaults(o Options) Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = DefaultRetryWaitMax
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = o.RetryWaitMin
	}
	if o.MaxRateLimitWait <= 0 {
		o.MaxRateLimitWait = DefaultMaxRateLimitWait
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	return o
}
